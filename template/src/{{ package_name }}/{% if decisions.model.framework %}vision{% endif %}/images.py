"""Images as files plus a COCO manifest per data interval, the synthetic set and per-image statistics.

Layout (the same locally and in object storage):
    <images>/<interval>/images/<image_id>.jpg
    <images>/<interval>/annotations.json   COCO: images[{id, file_name, width, height}],
        annotations[{id, image_id, category_id, bbox: [x, y, w, h], area, iscrowd}], categories[{id, name}]
Category ids are 1..K in VisionSettings.classes order (torchvision keeps 0 for the background);
everything past this module uses 0-based class indices and xyxy boxes in pixels.

The local profile generates a deterministic synthetic interval: coloured shapes (circle, square,
triangle, cross) on a noisy background, a share of it broken on purpose in known ways so that the
validation (validation.py) has something real to quarantine.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

MANIFEST = "annotations.json"
IMAGES = "images"
SHAPES = ("circle", "square", "triangle", "cross")  # what the synthetic generator can draw
# The ways a synthetic image is broken on purpose, and the validation reason each must produce.
DIRTY_KINDS = {
    "truncated": "undecodable",
    "too_small": "too_small",
    "box_outside": "box_outside",
    "unknown_category": "unknown_category",
}
STATISTICS = ("width", "height", "brightness", "contrast", "sharpness", "objects", "mean_box_area")
# Unique across days, like data/sample.py's unique_ids: 10M ids per day from this offset.
ID_OFFSET = 1000
IDS_PER_DAY = 10_000_000
# The keys a COCO manifest must have, per list; the rest (info, licenses, segmentation ...) is kept as is.
REQUIRED = {
    "images": ("id", "file_name", "width", "height"),
    "annotations": ("id", "image_id", "category_id", "bbox"),
    "categories": ("id", "name"),
}

Array = np.ndarray[Any, Any]
ImageSource = str | Path | bytes | Image.Image


class ManifestError(ValueError):
    """annotations.json is not a COCO manifest; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Annotation:
    """An image's ground truth: boxes xyxy in pixels (float32 [N, 4]) and 0-based classes (int64 [N])."""

    boxes: Array
    classes: Array

    def __len__(self) -> int:
        return len(self.classes)

    @classmethod
    def empty(cls) -> Annotation:
        return cls(np.zeros((0, 4), dtype=np.float32), np.zeros(0, dtype=np.int64))


@dataclass
class Manifest:
    """A COCO manifest: the three lists plus every other top-level key, kept for the rewrite."""

    images: list[dict[str, Any]]
    annotations: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.extra, "images": self.images, "annotations": self.annotations, "categories": self.categories}

    def annotations_by_image(self) -> dict[int, list[dict[str, Any]]]:
        grouped: dict[int, list[dict[str, Any]]] = {int(image["id"]): [] for image in self.images}
        for record in self.annotations:
            grouped.setdefault(int(record["image_id"]), []).append(record)
        return grouped

    def class_index(self, classes: Sequence[str] | None = None) -> dict[int, int]:
        """category id -> 0-based class index: by name into `classes`, else by category id order."""
        ordered = sorted(self.categories, key=lambda category: int(category["id"]))
        if classes is None:
            return {int(category["id"]): index for index, category in enumerate(ordered)}
        position = {name: index for index, name in enumerate(classes)}
        return {int(c["id"]): position[str(c["name"])] for c in ordered if str(c["name"]) in position}

    def without(self, image_ids: Iterable[int]) -> Manifest:
        """The manifest minus these images and their annotations (and annotations of no listed image)."""
        dropped = set(image_ids)
        images = [image for image in self.images if int(image["id"]) not in dropped]
        kept = {int(image["id"]) for image in images}
        annotations = [record for record in self.annotations if int(record["image_id"]) in kept]
        return Manifest(images, annotations, self.categories, dict(self.extra))


def manifest_path(location: str | Path) -> Path:
    """The manifest of an interval folder, or the file itself."""
    target = Path(location)
    return target if target.suffix == ".json" else target / MANIFEST


def read_manifest(location: str | Path) -> Manifest:
    """An interval's COCO manifest; ManifestError naming the missing key when it is not COCO."""
    path = manifest_path(location)
    if not path.is_file():
        raise ManifestError(f"{path} not found; every image interval needs a COCO manifest named {MANIFEST}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise ManifestError(f"{path}: a COCO manifest is a JSON object with images, annotations and categories")
    for key, fields in REQUIRED.items():
        if key not in raw:
            raise ManifestError(
                f"{path}: missing key '{key}'; a COCO manifest has {key}[{{{', '.join(fields)}}}] "
                "(an empty list is fine)"
            )
        if not isinstance(raw[key], list):
            raise ManifestError(f"{path}: '{key}' must be a list, got {type(raw[key]).__name__}")
        for index, record in enumerate(raw[key]):
            missing = [name for name in fields if not isinstance(record, dict) or name not in record]
            if missing:
                raise ManifestError(
                    f"{path}: {key}[{index}] has no '{missing[0]}'; each entry of '{key}' needs {', '.join(fields)}"
                )
    ids = [int(image["id"]) for image in raw["images"]]
    if len(set(ids)) != len(ids):
        twice = sorted({value for value in ids if ids.count(value) > 1})[:5]
        raise ManifestError(f"{path}: images[].id must be unique; repeated: {twice}")
    extra = {key: value for key, value in raw.items() if key not in REQUIRED}
    return Manifest(list(raw["images"]), list(raw["annotations"]), list(raw["categories"]), extra)


def write_manifest(location: str | Path, manifest: Manifest) -> Path:
    """Write the manifest atomically (a reader never sees half a file)."""
    path = manifest_path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".annotations.", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(manifest.to_dict(), stream, indent=1)
    os.replace(temporary, path)
    return path


def annotation_of(records: Sequence[dict[str, Any]], class_index: dict[int, int]) -> Annotation:
    """COCO annotations ([x, y, w, h], category id) as an Annotation (xyxy, 0-based class)."""
    if not records:
        return Annotation.empty()
    boxes = np.array([[float(value) for value in record["bbox"]] for record in records], dtype=np.float32)
    boxes[:, 2:] += boxes[:, :2]
    classes = np.array([class_index[int(record["category_id"])] for record in records], dtype=np.int64)
    return Annotation(boxes, classes)


def iter_samples(
    interval_dirs: Iterable[str | Path], classes: Sequence[str] | None = None
) -> Iterator[tuple[int, Path, Annotation]]:
    """(image_id, image path, ground truth) of every image of these (validated) intervals, in manifest order.

    Class indices follow `classes` by category name when given (a real dataset's ids may have gaps),
    else the manifest's category ids in order (1..K -> 0..K-1).
    """
    for directory in interval_dirs:
        folder = Path(directory)
        manifest = read_manifest(folder)
        index = manifest.class_index(classes)
        grouped = manifest.annotations_by_image()
        for image in manifest.images:
            image_id = int(image["id"])
            records = grouped.get(image_id, [])
            unknown = sorted({int(r["category_id"]) for r in records} - set(index))
            if unknown:
                raise ManifestError(
                    f"{manifest_path(folder)}: image {image_id} uses category id(s) {unknown} that are not "
                    "among vision.classes; validate the interval first (validation.py quarantines them)"
                )
            yield image_id, folder / IMAGES / str(image["file_name"]), annotation_of(records, index)


def open_image(source: ImageSource) -> Image.Image:
    """A decoded PIL image from a path, encoded bytes or an image."""
    if isinstance(source, Image.Image):
        return source
    image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else Path(source))
    image.load()
    return image


def image_statistics(source: ImageSource, annotation: Annotation | None = None) -> dict[str, float]:
    """What Feast stores per image and drift compares: size, brightness, contrast, sharpness, objects.

    brightness and contrast are the mean and standard deviation of the 0..1 gray image; sharpness is
    the variance of its 4-neighbour Laplacian scaled by 1/4 (so it lies in 0..1 whatever the bit
    depth); mean_box_area is the mean box area as a fraction of the image.
    """
    image = open_image(source)
    width, height = image.size
    gray = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    sharpness = 0.0
    if min(gray.shape) >= 3:
        centre = gray[1:-1, 1:-1]
        laplacian = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4.0 * centre
        sharpness = float(np.var(laplacian / 4.0))
    boxes = annotation.boxes if annotation is not None else np.zeros((0, 4), dtype=np.float32)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return {
        "width": float(width),
        "height": float(height),
        "brightness": float(gray.mean()),
        "contrast": float(gray.std()),
        "sharpness": sharpness,
        "objects": float(len(boxes)),
        "mean_box_area": float(areas.mean() / (width * height)) if len(boxes) else 0.0,
    }


# --- the synthetic interval (local profile) ------------------------------------------------------


@dataclass(frozen=True)
class GeneratedInterval:
    directory: Path
    images: int
    objects: int
    dirty: dict[int, str]  # image id -> the DIRTY_KINDS key it was broken with


def first_image_id(start: datetime) -> int:
    """Image ids of a day's interval start here, so ids stay unique across intervals."""
    day_number = int(start.timestamp()) // 86_400
    return ID_OFFSET + day_number * IDS_PER_DAY


def _colour_apart(rng: np.random.Generator, background: Array) -> Array:
    """A saturated colour clearly different from the background (so every shape is visible)."""
    for _ in range(32):
        colour = rng.integers(0, 256, 3)
        if np.abs(colour - background).mean() >= 70:
            return colour
    return np.asarray(255 - background)


def _draw(draw: ImageDraw.ImageDraw, shape: str, x: int, y: int, side: int, colour: tuple[int, ...]) -> None:
    """A filled shape whose tight box is [x, y, x + side, y + side) (Pillow's end points are inclusive)."""
    last_x, last_y = x + side - 1, y + side - 1
    if shape == "circle":
        draw.ellipse((x, y, last_x, last_y), fill=colour)
    elif shape == "square":
        draw.rectangle((x, y, last_x, last_y), fill=colour)
    elif shape == "triangle":
        draw.polygon(((x + (side - 1) / 2, y), (x, last_y), (last_x, last_y)), fill=colour)
    else:
        bar = max(1, side // 3)
        draw.rectangle((x, y + bar, last_x, last_y - bar), fill=colour)
        draw.rectangle((x + bar, y, last_x - bar, last_y), fill=colour)


def _overlaps(box: tuple[int, int, int, int], boxes: list[tuple[int, int, int, int]], gap: int = 2) -> bool:
    x, y, side, _ = box
    return any(
        x < bx + bs + gap and bx < x + side + gap and y < by + bs + gap and by < y + side + gap
        for bx, by, bs, _ in boxes
    )


def render_image(
    rng: np.random.Generator, width: int, height: int, num_classes: int, objects: int
) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """A noisy background with up to `objects` non-overlapping shapes; boxes as (x, y, side, class)."""
    background = rng.integers(40, 216, 3)
    ramp = np.linspace(-1.0, 1.0, width)[None, :, None] * rng.uniform(-25, 25)  # uneven lighting
    canvas = np.broadcast_to(background + ramp, (height, width, 3))
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    shortest = min(width, height)
    low, high = max(4, int(shortest * 0.15)), max(5, int(shortest * 0.5))
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(objects * 10):  # rejection sampling: stop at `objects` boxes or after the tries
        if len(boxes) == objects:
            break
        side = int(rng.integers(low, high))
        candidate = (int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1)), side, 0)
        if _overlaps(candidate, boxes):
            continue
        category = int(rng.integers(0, num_classes))
        colour = tuple(int(value) for value in _colour_apart(rng, background))
        _draw(draw, SHAPES[category], candidate[0], candidate[1], side, colour)
        boxes.append((candidate[0], candidate[1], side, category))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(3, 12), (height, width, 3))
    return Image.fromarray(np.clip(noisy * rng.uniform(0.8, 1.15), 0, 255).astype(np.uint8)), boxes


def _encode(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def generate_interval(
    directory: str | Path,
    start: datetime,
    end: datetime,
    *,
    count: int,
    classes: Sequence[str] = SHAPES,
    seed: int = 7,
    dirty_share: float = 0.0,
    min_side: int = 32,
) -> GeneratedInterval:
    """Write `count` synthetic images and their COCO manifest into `directory`, replacing what was there.

    The same (seed, start) always gives the same files. round(count * dirty_share) images are broken
    on purpose, cycling through DIRTY_KINDS: a truncated JPEG, a side below `min_side`, a box half
    outside the image, a category id that is not in the manifest.
    """
    unknown = [name for name in classes if name not in SHAPES]
    if unknown:
        raise ValueError(
            f"the synthetic generator draws {', '.join(SHAPES)}; vision.classes has {unknown}: "
            "use those class names locally, or put your own images and COCO manifest in vision.images"
        )
    if end <= start:
        raise ValueError(f"empty interval: {start} .. {end}")
    if not 0.0 <= dirty_share < 1.0:
        raise ValueError(f"vision.dirty_share must be in [0, 1), got {dirty_share}")
    folder = Path(directory)
    shutil.rmtree(folder / IMAGES, ignore_errors=True)  # an interval is replaced, never added to
    (folder / IMAGES).mkdir(parents=True)
    started = start.astimezone(UTC)
    rng = np.random.default_rng([seed, int(started.timestamp())])
    first = first_image_id(started)
    span = max(1, int((end - start).total_seconds()))
    seconds = np.sort(rng.integers(0, span, count))
    dirty_rows = sorted(int(row) for row in rng.choice(count, size=round(count * dirty_share), replace=False))
    kinds = {row: [*DIRTY_KINDS][index % len(DIRTY_KINDS)] for index, row in enumerate(dirty_rows)}
    category_ids = [classes.index(name) + 1 for name in classes]
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    dirty: dict[int, str] = {}
    for row in range(count):
        image_id, kind = first + row, kinds.get(row)
        if kind == "too_small":
            width, height = max(4, min_side // 2), int(rng.integers(max(4, min_side // 2), 2 * min_side))
            objects = 1
        else:
            width, height = (int(value) for value in rng.integers(96, 193, 2))
            objects = int(rng.integers(1, 5))
        picture, boxes = render_image(rng, width, height, len(classes), objects)
        data = _encode(picture, int(rng.integers(80, 96)))
        if kind == "truncated":
            data = data[: len(data) // 2]
        name = f"{image_id}.jpg"
        (folder / IMAGES / name).write_bytes(data)
        captured = started + timedelta(seconds=int(seconds[row]))
        images.append(
            {"id": image_id, "file_name": name, "width": width, "height": height, "date_captured": captured.isoformat()}
        )
        for index, (x, y, side, category) in enumerate(boxes):
            bbox = [float(x), float(y), float(side), float(side)]
            if kind == "box_outside" and index == 0:
                bbox[0] = float(width - side // 2)  # half of the box past the right edge
            category_id = len(classes) + 1 if kind == "unknown_category" and index == 0 else category_ids[category]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "bbox": bbox,
                    "area": float(side * side),
                    "iscrowd": 0,
                }
            )
        if kind:
            dirty[image_id] = kind
    info = {
        "description": f"synthetic shapes, interval {started.isoformat()} .. {end.astimezone(UTC).isoformat()}",
        "version": "1",
        "date_created": started.isoformat(),
    }
    categories = [{"id": index + 1, "name": name, "supercategory": "shape"} for index, name in enumerate(classes)]
    write_manifest(folder, Manifest(images, annotations, categories, {"info": info, "licenses": []}))
    return GeneratedInterval(folder, count, len(annotations), dirty)


def captured_at(image: dict[str, Any], default: datetime) -> datetime:
    """The image's COCO date_captured as UTC, or `default` when the manifest has none."""
    value = image.get("date_captured")
    if not value:
        return default
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def dominant_class(annotation: Annotation) -> int:
    """The most frequent class of an image (ties: the lower index); -1 when it has no object."""
    if not len(annotation):
        return -1
    return int(np.bincount(annotation.classes).argmax())


def box_sides(bbox: Sequence[Any]) -> tuple[float, float, float, float] | None:
    """A COCO bbox as four finite floats, or None when it is not one."""
    if not isinstance(bbox, list | tuple) or len(bbox) != 4:
        return None
    try:
        x, y, w, h = (float(value) for value in bbox)
    except (TypeError, ValueError):
        return None
    return (x, y, w, h) if all(math.isfinite(value) for value in (x, y, w, h)) else None
