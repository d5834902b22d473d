"""Validate one image interval before anything trains on it or Feast stores it.

Every image of the manifest (manifests.py: COCO or labels.csv) is checked: the file exists and
decodes (Pillow verify + load), its size matches the manifest and lies in [min_side, max_side], and
its ground truth is sane for vision.task:
- detection: every category is one of vision.classes, every box lies inside the image with sides of
  at least min_box_side;
- classification and face: exactly one label (the identity for face), one of vision.classes;
- ocr: every character box's category is one of vision.classes (the alphabet), and the box lies
  inside the image with sides of at least min_box_side (as detection's boxes);
- segmentation: every category is one of vision.classes, every object has a polygon of at least
  3 points and non-zero area that lies inside the image.
Bad images are MOVED to <quarantine>/<interval>/ with reasons.json (their annotations included, so a
fixed image can be put back), and the manifest is rewritten without them. A manifest that is not
COCO / not a label list fails the whole interval (ManifestError naming the key).
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from .images import polygon_area
from .manifests import IMAGES, Manifest, box_sides, polygon_of, read_manifest, write_manifest
from .settings import VisionSettings

REASONS_FILE = "reasons.json"
# COCO's own boxes overshoot the border by rounding; less than a pixel past it is not an error.
BOX_TOLERANCE_PX = 1.0
# Every reason an image can be quarantined for, and what it means (reasons.json repeats it).
REASONS = {
    "missing_file": "the manifest lists a file that is not in images/",
    "undecodable": "Pillow cannot verify or decode the file (truncated, corrupt, not an image)",
    "size_mismatch": "the decoded size differs from the manifest's width/height",
    "too_small": "a side is below vision.min_side",
    "too_large": "a side is above vision.max_side",
    "unknown_category": "an annotation's category is not in the manifest's categories or not in vision.classes",
    "bad_box": "an annotation's bbox is not four finite numbers [x, y, w, h]",
    "box_outside": "a box reaches outside the image",
    "box_too_small": "a box side is below vision.min_box_side",
    "unknown_label": "the image's label (labels.csv) is not in vision.classes",
    "label_count": "a classification image needs exactly one label",
    "bad_polygon": "a segmentation is not polygons [[x1, y1, x2, y2, ...]] of at least 3 points with non-zero area "
    "(RLE masks are not read)",
    "polygon_outside": "a polygon reaches outside the image",
    "not_in_manifest": "a file in images/ that the manifest does not list",
}


@dataclass(frozen=True)
class ValidationReport:
    interval: str
    images: int  # images the manifest listed (plus unlisted files found)
    valid: int
    quarantined: dict[str, list[str]] = field(default_factory=dict)  # file name -> reasons
    orphan_annotations: int = 0  # annotations of no listed image, dropped from the manifest
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Images per reason (an image with two problems counts under both)."""
        return dict(Counter(reason for reasons in self.quarantined.values() for reason in reasons))

    def summary(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "images": self.images,
            "valid": self.valid,
            "quarantined": len(self.quarantined),
            "reasons": self.counts,
            "orphan_annotations": self.orphan_annotations,
            "seconds": round(self.seconds, 3),
        }


def decoded_size(path: Path) -> tuple[int, int] | None:
    """(width, height) when Pillow can verify and fully decode the file, else None."""
    try:
        with warnings.catch_warnings():
            # A decompression-bomb warning is a size problem that max_side reports, not a decode error.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.verify()  # structure and checksums; the image is unusable afterwards
            with Image.open(path) as image:
                image.load()  # the pixels: catches truncated data that verify lets through
                return image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def image_problems(
    path: Path, image: dict[str, Any], records: list[dict[str, Any]], known: set[int], settings: VisionSettings
) -> list[str]:
    """The reasons (keys of REASONS) this image must be quarantined for; empty when it is clean."""
    reasons: list[str] = []
    width, height = int(image["width"]), int(image["height"])
    if not path.is_file():
        reasons.append("missing_file")
    else:
        size = decoded_size(path)
        if size is None:
            reasons.append("undecodable")
        else:
            if size != (width, height):
                reasons.append("size_mismatch")
            width, height = size  # the ground truth is checked against the real pixels
    if width and height:  # a labels.csv image that cannot be opened has no size to check
        if min(width, height) < settings.min_side:
            reasons.append("too_small")
        if max(width, height) > settings.max_side:
            reasons.append("too_large")
    reasons += TRUTH_CHECKS[settings.task](records, known, width, height, settings)
    return list(dict.fromkeys(reasons))


def _outside(xs: Any, ys: Any, width: int, height: int) -> bool:
    # COCO's own coordinates overshoot the border by rounding; less than a pixel past it is not an error.
    tolerance = BOX_TOLERANCE_PX
    return bool(
        min(xs) < -tolerance or min(ys) < -tolerance or max(xs) > width + tolerance or max(ys) > height + tolerance
    )


def _box_problems(
    records: list[dict[str, Any]], known: set[int], width: int, height: int, settings: VisionSettings
) -> list[str]:
    reasons: list[str] = []
    for record in records:
        if int(record["category_id"]) not in known:
            reasons.append("unknown_category")
        sides = box_sides(record["bbox"])
        if sides is None:
            reasons.append("bad_box")
            continue
        x, y, w, h = sides
        if _outside((x, x + w), (y, y + h), width, height):
            reasons.append("box_outside")
        if w < settings.min_box_side or h < settings.min_box_side:
            reasons.append("box_too_small")
    return reasons


def _label_problems(
    records: list[dict[str, Any]], known: set[int], width: int, height: int, settings: VisionSettings
) -> list[str]:
    del width, height, settings  # a label has nothing to lie outside the image
    reasons = [] if len(records) == 1 else ["label_count"]
    return reasons + ["unknown_label" for record in records if int(record["category_id"]) not in known]


def _polygon_problems(
    records: list[dict[str, Any]], known: set[int], width: int, height: int, settings: VisionSettings
) -> list[str]:
    del settings
    reasons: list[str] = []
    for record in records:
        if int(record["category_id"]) not in known:
            reasons.append("unknown_category")
        if box_sides(record["bbox"]) is None:
            reasons.append("bad_box")  # the training reads boxes too (COCO requires them)
        polygon = polygon_of(record.get("segmentation"))
        if polygon is None or polygon_area(polygon) <= 0.0:
            reasons.append("bad_polygon")
        elif _outside(polygon[:, 0], polygon[:, 1], width, height):
            reasons.append("polygon_outside")
    return reasons


TruthCheck = Callable[[list[dict[str, Any]], set[int], int, int, VisionSettings], list[str]]
# The ground-truth checks of each vision.task.
TRUTH_CHECKS: dict[str, TruthCheck] = {
    "detection": _box_problems,
    "classification": _label_problems,
    "segmentation": _polygon_problems,
    "ocr": _box_problems,  # one box per character, its category the character
    "face": _label_problems,  # one identity per image
}


def _move(source: Path, target_dir: Path) -> None:
    if source.is_file():
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target_dir / source.name)


def validate_interval(
    interval_dir: str | Path, quarantine_dir: str | Path, settings: VisionSettings
) -> ValidationReport:
    """Check every image of the interval; move bad ones to <quarantine_dir>/<interval>/; rewrite the manifest.

    Running it again on a validated interval changes nothing (reasons.json keeps earlier entries).
    """
    began = time.perf_counter()
    folder = Path(interval_dir)
    manifest: Manifest = read_manifest(folder)
    names = {int(c["id"]): str(c["name"]) for c in manifest.categories}
    known = {category_id for category_id, name in names.items() if name in settings.classes}
    grouped = manifest.annotations_by_image()
    bad: dict[str, list[str]] = {}
    bad_ids: list[int] = []
    for image in manifest.images:
        name = str(image["file_name"])
        reasons = image_problems(folder / IMAGES / name, image, grouped.get(int(image["id"]), []), known, settings)
        if reasons:
            bad[name] = reasons
            bad_ids.append(int(image["id"]))
    listed = {str(image["file_name"]) for image in manifest.images}
    image_dir = folder / IMAGES
    unlisted = (
        sorted(p.name for p in image_dir.iterdir() if p.is_file() and p.name not in listed)
        if image_dir.is_dir()
        else []
    )
    for name in unlisted:
        bad[name] = ["not_in_manifest"]

    target = Path(quarantine_dir) / folder.name
    entries: dict[str, Any] = {}
    by_name = {str(image["file_name"]): image for image in manifest.images}
    for name, reasons in bad.items():
        _move(image_dir / name, target / Path(name).parent)
        listed_image = by_name.get(name)
        entries[name] = {
            "reasons": reasons,
            "image": listed_image,
            "annotations": grouped.get(int(listed_image["id"]), []) if listed_image else [],
        }
    ids = {int(image["id"]) for image in manifest.images}
    orphans = sum(1 for record in manifest.annotations if int(record["image_id"]) not in ids)
    if bad_ids or orphans:  # a clean interval's manifest stays byte for byte as it was
        write_manifest(folder, manifest.without(bad_ids))
    if entries:
        _write_reasons(target, folder.name, entries)
    return ValidationReport(
        interval=folder.name,
        images=len(manifest.images) + len(unlisted),
        valid=len(manifest.images) - len(bad_ids),
        quarantined=bad,
        orphan_annotations=orphans,
        seconds=time.perf_counter() - began,
    )


def _write_reasons(target: Path, interval: str, entries: dict[str, Any]) -> None:
    path = target / REASONS_FILE
    earlier: dict[str, Any] = {}
    if path.is_file():
        earlier = dict(json.loads(path.read_text(encoding="utf-8")).get("images", {}))
    body = {"interval": interval, "reasons": REASONS, "images": {**earlier, **entries}}
    target.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1), encoding="utf-8")
