"""The manifest of a data interval: which images it holds and their ground truth, as COCO or as a label list.

Layout (the same locally and in object storage):
    <images>/<interval>/images/<file_name>
    <images>/<interval>/annotations.json   detection and segmentation: COCO
        images[{id, file_name, width, height, date_captured?}],
        annotations[{id, image_id, category_id, bbox: [x, y, w, h], area, iscrowd, segmentation?}],
        categories[{id, name}]; segmentation is a list of polygons [[x1, y1, x2, y2, ...]]
    <images>/<interval>/labels.csv         classification: file_name,label[,image_id,captured_at]

Both read into the same Manifest (COCO's three lists): a labels.csv row is an image with ONE
annotation whose box is the whole image and whose category is the label (category ids follow the
sorted label names, as torchvision's ImageFolder does). Category ids are mapped to 0-based class
indices by name into VisionSettings.classes; everything past this module uses xyxy boxes in pixels.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .images import Annotation

MANIFEST = "annotations.json"
LABELS = "labels.csv"
IMAGES = "images"
LABEL_COLUMNS = ("file_name", "label", "image_id", "captured_at")  # what write_manifest writes
# The keys a COCO manifest must have, per list; the rest (info, licenses, segmentation ...) is kept as is.
REQUIRED = {
    "images": ("id", "file_name", "width", "height"),
    "annotations": ("id", "image_id", "category_id", "bbox"),
    "categories": ("id", "name"),
}


class ManifestError(ValueError):
    """A manifest is not COCO / not a label list; the message names the file, the key and the fix."""


@dataclass
class Manifest:
    """COCO's three lists plus every other top-level key (kept for the rewrite) and the file format."""

    images: list[dict[str, Any]]
    annotations: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    format: str = "coco"  # coco (annotations.json) | labels (labels.csv)

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
        return Manifest(images, annotations, self.categories, dict(self.extra), self.format)


def manifest_path(location: str | Path) -> Path:
    """The manifest of an interval folder (labels.csv when there is one, else annotations.json), or the file."""
    target = Path(location)
    if target.suffix in (".json", ".csv"):
        return target
    return target / LABELS if (target / LABELS).is_file() else target / MANIFEST


def interval_dirs(root: str | Path) -> list[Path]:
    """The interval folders under `root` that hold a manifest (annotations.json or labels.csv), oldest first."""
    folder = Path(root)
    return sorted({path.parent for name in (MANIFEST, LABELS) for path in folder.glob(f"*/{name}")})


def read_manifest(location: str | Path) -> Manifest:
    """An interval's manifest (COCO or labels.csv); ManifestError naming the missing key when it is neither."""
    path = manifest_path(location)
    if not path.is_file():
        raise ManifestError(
            f"{path} not found; every image interval needs a manifest: {MANIFEST} (COCO, detection and "
            f"segmentation) or {LABELS} (file_name,label; classification)"
        )
    manifest = _read_labels(path) if path.suffix == ".csv" else _read_coco(path)
    ids = [int(image["id"]) for image in manifest.images]
    if len(set(ids)) != len(ids):
        twice = sorted({value for value in ids if ids.count(value) > 1})[:5]
        raise ManifestError(f"{path}: image ids must be unique; repeated: {twice}")
    return manifest


def _read_coco(path: Path) -> Manifest:
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
    extra = {key: value for key, value in raw.items() if key not in REQUIRED}
    return Manifest(list(raw["images"]), list(raw["annotations"]), list(raw["categories"]), extra)


def _size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header (no pixels decoded); (0, 0) when it cannot be read."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return 0, 0


def _read_labels(path: Path) -> Manifest:
    """labels.csv as COCO lists: sizes from the image headers, a whole-image box per image."""
    with path.open(newline="", encoding="utf-8-sig") as stream:  # -sig: a spreadsheet's byte-order mark
        reader = csv.DictReader(stream)
        missing = [name for name in LABEL_COLUMNS[:2] if name not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(
                f"{path}: no '{missing[0]}' column; a label list has the columns file_name,label "
                "(and optionally image_id,captured_at)"
            )
        rows = list(reader)
    for number, row in enumerate(rows, start=1):
        if not row.get("file_name") or row.get("label") is None:
            raise ManifestError(
                f"{path}: row {number} has no file_name or no label; every row names an image and its label"
            )
    labels = sorted({row["label"] for row in rows})
    category_ids = {name: index + 1 for index, name in enumerate(labels)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        try:
            # Without ids: the row number, unique in the interval only (give ids when intervals meet in Feast).
            image_id = int(row.get("image_id") or number)
        except ValueError as error:
            raise ManifestError(f"{path}: row {number} has image_id {row['image_id']!r}; ids are integers") from error
        width, height = _size(path.parent / IMAGES / row["file_name"])
        image: dict[str, Any] = {"id": image_id, "file_name": row["file_name"], "width": width, "height": height}
        if row.get("captured_at"):
            image["date_captured"] = row["captured_at"]
        images.append(image)
        annotations.append(
            {
                "id": number,
                "image_id": image_id,
                "category_id": category_ids[row["label"]],
                "bbox": [0.0, 0.0, float(width), float(height)],
                "area": float(width * height),
                "iscrowd": 0,
            }
        )
    categories = [{"id": category_id, "name": name} for name, category_id in category_ids.items()]
    return Manifest(images, annotations, categories, format="labels")


def write_manifest(location: str | Path, manifest: Manifest) -> Path:
    """Write the manifest in its format, atomically (a reader never sees half a file)."""
    target = Path(location)
    if target.suffix not in (".json", ".csv"):
        target = target / (LABELS if manifest.format == "labels" else MANIFEST)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix)
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
        if manifest.format == "labels":
            stream.write(_labels_text(manifest))
        else:
            json.dump(manifest.to_dict(), stream, indent=1)
    os.replace(temporary, target)
    return target


def _labels_text(manifest: Manifest) -> str:
    names = {int(category["id"]): str(category["name"]) for category in manifest.categories}
    grouped = manifest.annotations_by_image()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LABEL_COLUMNS)
    for image in manifest.images:
        for record in grouped[int(image["id"])]:
            label = names[int(record["category_id"])]
            writer.writerow([image["file_name"], label, image["id"], image.get("date_captured", "")])
    return buffer.getvalue()


def box_sides(bbox: Any) -> tuple[float, float, float, float] | None:
    """A COCO bbox as four finite floats, or None when it is not one."""
    if not isinstance(bbox, list | tuple) or len(bbox) != 4:
        return None
    try:
        x, y, w, h = (float(value) for value in bbox)
    except (TypeError, ValueError):
        return None
    return (x, y, w, h) if all(math.isfinite(value) for value in (x, y, w, h)) else None


def polygon_of(segmentation: Any) -> np.ndarray[Any, Any] | None:
    """A COCO polygon segmentation ([[x1, y1, x2, y2, ...], ...]) as one float32 [K, 2] array, or None.

    None when it is not a list of polygons of at least 3 finite points each (RLE masks included).
    An object in several parts becomes one ring list, each part closed on its first point: under the
    even-odd rule the jumps between parts are walked there and back, so they add no pixels.
    """
    if not isinstance(segmentation, list) or not segmentation:
        return None
    parts: list[np.ndarray[Any, Any]] = []
    for part in segmentation:
        if not isinstance(part, list) or len(part) < 6 or len(part) % 2:
            return None
        try:
            points = np.asarray(part, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            return None
        if not np.isfinite(points).all():
            return None
        parts.append(points if len(segmentation) == 1 else np.vstack([points, points[:1]]))
    return np.vstack(parts).astype(np.float32)


def annotation_of(records: Sequence[dict[str, Any]], class_index: dict[int, int]) -> Annotation:
    """COCO annotations ([x, y, w, h], category id, polygons) as an Annotation (xyxy, 0-based class).

    Polygons are kept when every record has one, else the annotation has none (a detection set).
    """
    if not records:
        return Annotation.empty()
    boxes = np.array([[float(value) for value in record["bbox"]] for record in records], dtype=np.float32)
    boxes[:, 2:] += boxes[:, :2]
    classes = np.array([class_index[int(record["category_id"])] for record in records], dtype=np.int64)
    polygons = [polygon_of(record.get("segmentation")) for record in records]
    found = tuple(polygon for polygon in polygons if polygon is not None)
    return Annotation(boxes, classes, found if len(found) == len(records) else ())


def iter_samples(
    interval_dirs: Iterable[str | Path], classes: Sequence[str] | None = None
) -> Iterator[tuple[int, Path, Annotation]]:
    """(image_id, image path, ground truth) of every image of these (validated) intervals, in manifest order.

    Class indices follow `classes` by category name when given (a real dataset's ids may have gaps),
    else the manifest's category ids in order (1..K -> 0..K-1; sorted label names for labels.csv).
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


def captured_at(image: dict[str, Any], default: datetime) -> datetime:
    """The image's COCO date_captured (labels.csv: captured_at) as UTC, or `default` when there is none."""
    value = image.get("date_captured")
    if not value:
        return default
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
