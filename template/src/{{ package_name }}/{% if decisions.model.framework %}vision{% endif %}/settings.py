"""The `vision:` section of platform.yaml: the image model, its data, precision, serving and stream.

Rendered only into projects whose use case has a PyTorch framework in the catalog
(decisions.model.framework). Profile-dependent values (architecture, weights, where images live)
are resolved here once, so the code paths of the local and the cloud profile are the same: the
cloud's pretrained checkpoint is a setting, not a code change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import Platform, platform

PRECISIONS = ("fp32", "fp16", "int8")
TASKS = ("detection", "classification", "segmentation", "ocr", "face")


class VisionConfigError(ValueError):
    """The vision section is inconsistent; the message names the key and the fix."""


def profile() -> str:
    """local | cloud ($PLATFORM_PROFILE, default local)."""
    return os.environ.get("PLATFORM_PROFILE", "local")


@dataclass(frozen=True)
class StreamSettings:
    source: str = "data/video/sample.mp4"  # a file, or an rtsp:// / http(s):// URL
    fps: float = 5.0  # frames per second sampled from the source
    batch_size: int = 8  # sampled frames sent to Triton in one batch
    sink: str = "data/events"  # a folder (Parquet files) or redis://host:port/db (a Redis stream)
    stream_key: str = "detections"  # the Redis stream's key
    track_threshold: float = 0.3  # ByteTrack: detections below this score do not start a track
    lost_track_buffer: int = 30  # frames a lost track is kept, counted at 30 fps (30 = 1 s of video)
    max_frames: int = 0  # 0: until the source ends


@dataclass(frozen=True)
class VisionSettings:
    """Everything the vision code reads, with the profile already applied."""

    task: str = "detection"
    library: str = "torchvision"
    architecture: str = "ssdlite320_mobilenet_v3_large"  # torchvision.models.get_model name
    weights: str | None = None  # the architecture's weights enum member (e.g. COCO_V1); None: from scratch
    licence: str = "BSD-3-Clause"
    classes: tuple[str, ...] = ("circle", "square", "triangle", "cross")
    image_size: int = 160  # the model's square input side in pixels (images are resized to it)
    # data
    images: str = "data/images"  # local folder, or s3:// gs:// az:// prefix in the cloud profile
    quarantine: str = "data/quarantine"
    sample_images: int = 288  # images per generated interval (the ETL passes data.sample.rows_per_interval)
    dirty_share: float = 0.05  # share of generated images that are broken on purpose (quarantined)
    min_side: int = 32  # smallest accepted image side in pixels
    max_side: int = 4096  # largest accepted image side in pixels
    min_box_side: float = 2.0  # detection and ocr (character boxes): smallest accepted box side in pixels
    match_threshold: float = 0.3  # face: cosine similarity below which a face is "unknown" (class -1)
    # training
    epochs: int = 10
    batch_size: int = 8
    learning_rate: float = 0.003  # AdamW from scratch; fine-tuning a checkpoint uses SGD
    seed: int = 7
    test_fraction: float = 0.25
    # precision: the decided one (decisions.precision) and how much metric each may lose vs FP32
    precision: str = "fp32"
    tolerance: dict[str, float] = field(default_factory=lambda: {"fp16": 0.01, "int8": 0.05})
    calibration_images: int = 32
    # serving (detection: the thresholds of postprocess's NMS)
    score_threshold: float = 0.3
    iou_threshold: float = 0.5
    max_detections: int = 16
    latency_budget_ms: float = 50.0  # p95 target (answers.latency_target_ms)
    stream: StreamSettings = field(default_factory=StreamSettings)
    root: Path = field(default_factory=Path.cwd)  # the project folder; relative paths resolve here

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def path(self, value: str) -> Path:
        """A local path setting resolved against the project folder."""
        target = Path(value)
        return target if target.is_absolute() else self.root / target

    @property
    def images_dir(self) -> Path:
        return self.path(self.images)

    @property
    def quarantine_dir(self) -> Path:
        return self.path(self.quarantine)

    def with_overrides(self, **changes: Any) -> VisionSettings:
        return replace(self, **changes)

    @classmethod
    def from_platform(cls, platform_: Platform | None = None, *, profile_: str | None = None) -> VisionSettings:
        current = platform_ or platform()
        return from_section(current.section("vision"), current, profile_ or profile())


def _per_profile(section: dict[str, Any], key: str, which: str) -> Any:
    value = section.get(key)
    if isinstance(value, dict) and set(value) <= {"local", "cloud"}:
        if which not in value:
            raise VisionConfigError(f"vision.{key} has no '{which}' entry; add vision.{key}.{which} to platform.yaml")
        return value[which]
    return value


def from_section(section: dict[str, Any], current: Platform, which: str) -> VisionSettings:
    """VisionSettings from platform.yaml's `vision:` mapping for the profile `which`."""
    if which not in ("local", "cloud"):
        raise VisionConfigError(f"PLATFORM_PROFILE must be local or cloud, got {which!r}")
    defaults = VisionSettings()
    values: dict[str, Any] = {}
    for key in ("architecture", "weights", "image_size", "images", "quarantine"):
        if key in section:
            values[key] = _per_profile(section, key, which)
    for key in (
        "task", "library", "licence", "sample_images", "dirty_share", "min_side", "max_side",
        "min_box_side", "epochs", "batch_size", "learning_rate", "seed", "test_fraction", "precision",
        "calibration_images", "score_threshold", "iou_threshold", "max_detections", "match_threshold",
        "latency_budget_ms",
    ):  # fmt: skip
        if key in section:
            values[key] = section[key]
    if "classes" in section:
        values["classes"] = tuple(str(name) for name in section["classes"])
    if "tolerance" in section:
        values["tolerance"] = {str(k): float(v) for k, v in dict(section["tolerance"]).items()}
    if "stream" in section:
        values["stream"] = StreamSettings(**dict(section["stream"]))
    settings = replace(defaults, root=current.path.parent, **values)
    check(settings)
    return settings


def check(settings: VisionSettings) -> None:
    """Raise VisionConfigError naming the key and the fix for an inconsistent section."""
    if settings.task not in TASKS:
        raise VisionConfigError(f"vision.task must be one of {', '.join(TASKS)}, got {settings.task!r}")
    if settings.precision not in PRECISIONS:
        raise VisionConfigError(f"vision.precision must be one of {', '.join(PRECISIONS)}, got {settings.precision!r}")
    if not settings.classes:
        raise VisionConfigError("vision.classes is empty; list the class names, e.g. [person, car]")
    if len(set(settings.classes)) != len(settings.classes):
        raise VisionConfigError("vision.classes holds a name twice; class names must be unique")
    if settings.image_size < 32 or settings.image_size % 32:
        raise VisionConfigError(
            f"vision.image_size must be a multiple of 32 and at least 32, got {settings.image_size}"
        )
    if not -1.0 <= settings.match_threshold <= 1.0:
        raise VisionConfigError(
            f"vision.match_threshold is a cosine similarity in [-1, 1], got {settings.match_threshold}"
        )
    if not 0 < settings.stream.fps <= 120:
        raise VisionConfigError(f"vision.stream.fps must be in (0, 120], got {settings.stream.fps}")
    for name, value in settings.tolerance.items():
        if name not in PRECISIONS or value < 0:
            raise VisionConfigError(f"vision.tolerance.{name}: keys are fp16/int8 and values >= 0 (got {value})")
