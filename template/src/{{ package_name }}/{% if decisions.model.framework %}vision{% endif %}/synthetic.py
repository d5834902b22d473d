"""The synthetic image interval of the local profile: coloured shapes on a noisy, unevenly lit background.

What is drawn follows vision.task:
- detection: 1-4 non-overlapping shapes per image, a COCO manifest with their boxes;
- classification: ONE shape per image (its class is the shape; size, place, colours and background
  vary, so only the shape tells the class), a labels.csv;
- segmentation: like detection, but each shape is drawn FROM the polygon the COCO manifest records
  (images.polygon_pixels), so the manifest's masks are the drawn pixels;
- ocr and face: the task module draws its own images (its `synthesize`: text lines with a COCO box
  per character, faces of the enrolled identities with a labels.csv), through the same interval
  writer, ids and broken-image plumbing.
A share of the images is broken on purpose in known ways (DIRTY_KINDS) so that the validation
(validation.py) has something real to quarantine.
"""

from __future__ import annotations

import functools
import importlib
import io
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from PIL import Image, ImageDraw

from .images import Array, polygon_area, polygon_pixels
from .manifests import IMAGES, LABELS, MANIFEST, Manifest, write_manifest

SHAPES = ("circle", "square", "triangle", "cross")  # what the generator can draw
# Per task, the ways a synthetic image is broken on purpose and the validation reason each must produce.
DIRTY_KINDS = {
    "detection": {
        "truncated": "undecodable",
        "too_small": "too_small",
        "box_outside": "box_outside",
        "unknown_category": "unknown_category",
    },
    "classification": {"truncated": "undecodable", "too_small": "too_small", "unknown_label": "unknown_label"},
    "segmentation": {
        "truncated": "undecodable",
        "too_small": "too_small",
        "degenerate_polygon": "bad_polygon",
        "polygon_outside": "polygon_outside",
    },
    "ocr": {
        "truncated": "undecodable",
        "too_small": "too_small",
        "box_outside": "box_outside",
        "unknown_category": "unknown_category",
    },
    "face": {"truncated": "undecodable", "too_small": "too_small", "unknown_label": "unknown_label"},
}
# The tasks whose module draws the images (`synthesize`) and whose manifest is a labels.csv.
DRAWN_BY_TASK = ("ocr", "face")
MIN_SIDE = 32  # pixels: the validation's default floor, which the too_small kind falls under
LABEL_LISTS = ("classification", "face")
UNKNOWN_LABEL = "hexagon"  # the label of the unknown_label images (not a shape the generator draws)
# Shape side as a share of the image's shorter side: several shapes per image, or one that fills it more.
SIDES = {"detection": (0.15, 0.5), "classification": (0.3, 0.85), "segmentation": (0.15, 0.5)}
CIRCLE_VERTICES = 48  # a circle's polygon: at most 0.2 % of the radius inside the true circle
# Unique across days, like data/sample.py's unique_ids: 10M ids per day from this offset.
ID_OFFSET = 1000
IDS_PER_DAY = 10_000_000

Shape = tuple[int, int, int, int]  # x, y, side, class index: the shape's tight box is [x, x + side) x [y, y + side)


class Synthesize(Protocol):
    """A task module's image generator (ocr.synthesize, face.synthesize)."""

    def __call__(
        self, rng: np.random.Generator, classes: Sequence[str], kind: str | None, min_side: int
    ) -> tuple[Image.Image, list[dict[str, Any]], dict[str, Any]]:
        """One image broken as `kind` says (a DIRTY_KINDS[task] key other than truncated, or None),
        its annotation records without ids (COCO: category_id 1..K in `classes` order, bbox, area,
        iscrowd; a label list: category_id and label) and extra fields for its manifest image entry."""
        ...


def _synthesize(task: str) -> Synthesize:
    return cast(Synthesize, importlib.import_module(f".{task}", __package__).synthesize)


@dataclass(frozen=True)
class GeneratedInterval:
    directory: Path
    images: int
    objects: int
    dirty: dict[int, str]  # image id -> the DIRTY_KINDS[task] key it was broken with


def first_image_id(start: datetime) -> int:
    """Image ids of a day's interval start here, so ids stay unique across intervals."""
    day_number = int(start.timestamp()) // 86_400
    return ID_OFFSET + day_number * IDS_PER_DAY


def shape_polygon(shape: str, x: float, y: float, side: float) -> Array:
    """The outline of a shape whose tight box is [x, x + side] x [y, y + side], float32 [K, 2]."""
    if shape == "circle":
        angles = np.linspace(0.0, 2.0 * math.pi, CIRCLE_VERTICES, endpoint=False)
        points = np.column_stack([np.cos(angles), np.sin(angles)]) * side / 2 + (x + side / 2, y + side / 2)
    elif shape == "square":
        points = np.array([(x, y), (x + side, y), (x + side, y + side), (x, y + side)])
    elif shape == "triangle":
        points = np.array([(x + side / 2, y), (x + side, y + side), (x, y + side)])
    else:  # a cross: two bars a third of the side thick
        a, b, c, d = x, x + side // 3, x + side - side // 3, x + side
        e, f, g, h = y, y + side // 3, y + side - side // 3, y + side
        points = np.array(
            [(b, e), (c, e), (c, f), (d, f), (d, g), (c, g), (c, h), (b, h), (b, g), (a, g), (a, f), (b, f)]
        )
    return points.astype(np.float32)


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


def _overlaps(box: Shape, boxes: list[Shape], gap: int = 2) -> bool:
    x, y, side, _ = box
    return any(
        x < bx + bs + gap and bx < x + side + gap and y < by + bs + gap and by < y + side + gap
        for bx, by, bs, _ in boxes
    )


def render_image(
    rng: np.random.Generator,
    width: int,
    height: int,
    classes: Sequence[str],
    objects: int,
    *,
    sides: tuple[float, float] = SIDES["detection"],
    from_polygons: bool = False,
) -> tuple[Image.Image, list[Shape]]:
    """A noisy background with up to `objects` non-overlapping shapes (named by `classes`).

    from_polygons draws each shape's pixels from shape_polygon, exactly what images.polygon_mask
    gives back; else Pillow draws it (the detection set, whose truth is the tight box).
    """
    background = rng.integers(40, 216, 3)
    ramp = np.linspace(-1.0, 1.0, width)[None, :, None] * rng.uniform(-25, 25)  # uneven lighting
    canvas = np.clip(np.broadcast_to(background + ramp, (height, width, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    shortest = min(width, height)
    low, high = max(4, int(shortest * sides[0])), max(5, int(shortest * sides[1]))
    boxes: list[Shape] = []
    for _ in range(objects * 10):  # rejection sampling: stop at `objects` boxes or after the tries
        if len(boxes) == objects:
            break
        side = int(rng.integers(low, high))
        candidate = (int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1)), side, 0)
        if _overlaps(candidate, boxes):
            continue
        category = int(rng.integers(0, len(classes)))
        colour = tuple(int(value) for value in _colour_apart(rng, background))
        if from_polygons:
            rows, columns, inside = polygon_pixels(shape_polygon(classes[category], *candidate[:3]), height, width)
            canvas[rows, columns][inside] = colour
        else:
            _draw(draw, classes[category], candidate[0], candidate[1], side, colour)
        boxes.append((candidate[0], candidate[1], side, category))
    if from_polygons:
        image = Image.fromarray(canvas)
    noisy = rng.normal(0, rng.uniform(3, 12), (height, width, 3))  # in place: the ETL draws thousands of images
    noisy += np.asarray(image, dtype=np.float32)
    noisy *= rng.uniform(0.8, 1.15)
    return Image.fromarray(np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)), boxes


def _encode(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _check(classes: Sequence[str], task: str, start: datetime, end: datetime, dirty_share: float) -> None:
    if task == "ocr":
        long = [name for name in classes if len(name) != 1 or not name.isprintable() or name.isspace()]
        if long:
            raise ValueError(f"vision.classes is the OCR alphabet, one printable character per class; {long} are not")
    unknown = [name for name in classes if name not in SHAPES] if task not in DRAWN_BY_TASK else []
    if unknown:
        raise ValueError(
            f"the synthetic generator draws {', '.join(SHAPES)}; vision.classes has {unknown}: use those class "
            "names locally, or put your own images and their manifest (annotations.json / labels.csv) in vision.images"
        )
    if task not in DIRTY_KINDS:
        raise ValueError(f"vision.task must be one of {', '.join(DIRTY_KINDS)}, got {task!r}")
    if end <= start:
        raise ValueError(f"empty interval: {start} .. {end}")
    if not 0.0 <= dirty_share < 1.0:
        raise ValueError(f"vision.dirty_share must be in [0, 1), got {dirty_share}")


def _records(
    task: str, kind: str | None, shapes: list[Shape], classes: Sequence[str], width: int
) -> list[dict[str, Any]]:
    """The image's annotations (no ids yet): category ids 1..K in `classes` order, broken as `kind` says."""
    records: list[dict[str, Any]] = []
    for index, (x, y, side, category) in enumerate(shapes):
        first = index == 0
        category_id = len(classes) + 1 if kind == "unknown_category" and first else category + 1
        if task == "classification":  # the label, written to labels.csv (its box is the whole image)
            records.append({"category_id": category_id, "label": UNKNOWN_LABEL if kind else classes[category]})
            continue
        bbox = [float(x), float(y), float(side), float(side)]
        if kind in ("box_outside", "polygon_outside") and first:
            bbox[0] = float(width - side // 2)  # half of the object past the right edge
        record: dict[str, Any] = {"category_id": category_id, "bbox": bbox, "area": float(side * side), "iscrowd": 0}
        if task == "segmentation":
            polygon = np.round(shape_polygon(classes[category], bbox[0], y, side), 2)  # as the manifest writes it
            if kind == "degenerate_polygon" and first:
                polygon = polygon[:2]  # a line: fewer than 3 points
            record["segmentation"] = [[float(value) for value in polygon.reshape(-1)]]
            record["area"] = round(polygon_area(polygon), 2)
        records.append(record)
    return records


def _shapes_image(
    task: str, rng: np.random.Generator, classes: Sequence[str], kind: str | None, min_side: int
) -> tuple[Image.Image, list[dict[str, Any]], dict[str, Any]]:
    """The shape tasks' Synthesize (detection, classification, segmentation): one image of shapes."""
    if kind == "too_small":
        width, height = max(4, min_side // 2), int(rng.integers(max(4, min_side // 2), 2 * min_side))
        objects = 1
    else:
        width, height = (int(value) for value in rng.integers(96, 193, 2))
        objects = 1 if task == "classification" else int(rng.integers(1, 5))
    picture, shapes = render_image(
        rng, width, height, classes, objects, sides=SIDES[task], from_polygons=task == "segmentation"
    )
    return picture, _records(task, kind if kind != "too_small" else None, shapes, classes, width), {}


def _drawer(task: str) -> Synthesize:
    return _synthesize(task) if task in DRAWN_BY_TASK else cast(Synthesize, functools.partial(_shapes_image, task))


def sample_image(task: str, classes: Sequence[str], seed: int = 7) -> bytes:
    """One clean image of `task` as the generator draws them, JPEG-encoded (what `make load-test` sends)."""
    picture, _, _ = _drawer(task)(np.random.default_rng(seed), classes, None, MIN_SIDE)
    return _encode(picture, 90)


def generate_interval(
    directory: str | Path,
    start: datetime,
    end: datetime,
    *,
    count: int,
    classes: Sequence[str] = SHAPES,
    task: str = "detection",
    seed: int = 7,
    dirty_share: float = 0.0,
    min_side: int = MIN_SIDE,
) -> GeneratedInterval:
    """Write `count` synthetic images and their manifest for `task` (vision.task) into `directory`, replacing it.

    The same (seed, start, task) always gives the same files. round(count * dirty_share) images are
    broken on purpose, cycling through DIRTY_KINDS[task]: a truncated JPEG, a side below `min_side`,
    and per task a box half outside the image / an unknown category (detection), an unknown label
    (classification), a polygon of two points / half outside the image (segmentation).
    """
    _check(classes, task, start, end, dirty_share)
    folder = Path(directory)
    shutil.rmtree(folder / IMAGES, ignore_errors=True)  # an interval is replaced, never added to
    for name in (MANIFEST, LABELS):
        (folder / name).unlink(missing_ok=True)
    (folder / IMAGES).mkdir(parents=True)
    started = start.astimezone(UTC)
    rng = np.random.default_rng([seed, int(started.timestamp())])
    first = first_image_id(started)
    span = max(1, int((end - start).total_seconds()))
    seconds = np.sort(rng.integers(0, span, count))
    dirty_rows = sorted(int(row) for row in rng.choice(count, size=round(count * dirty_share), replace=False))
    kinds = {row: [*DIRTY_KINDS[task]][index % len(DIRTY_KINDS[task])] for index, row in enumerate(dirty_rows)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    draw = _drawer(task)
    for row in range(count):
        image_id, kind = first + row, kinds.get(row)
        picture, records, fields = draw(rng, classes, kind if kind != "truncated" else None, min_side)
        data = _encode(picture, int(rng.integers(80, 96)))
        name = f"{image_id}.jpg"
        (folder / IMAGES / name).write_bytes(data[: len(data) // 2] if kind == "truncated" else data)
        captured = started + timedelta(seconds=int(seconds[row]))
        width, height = picture.size
        images.append(
            {"id": image_id, "file_name": name, "width": width, "height": height,
             "date_captured": captured.isoformat(), **fields}
        )  # fmt: skip
        for record in records:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **record})
    dirty = {first + row: kind for row, kind in kinds.items()}
    if task in LABEL_LISTS:
        write_manifest(folder, _labels_manifest(images, annotations, classes))
    else:
        info = {
            "description": f"synthetic {'text lines' if task == 'ocr' else 'shapes'}, "
            f"interval {started.isoformat()} .. {end.astimezone(UTC).isoformat()}",
            "version": "1",
            "date_created": started.isoformat(),
        }
        supercategory = "character" if task == "ocr" else "shape"
        categories = [
            {"id": index + 1, "name": name, "supercategory": supercategory} for index, name in enumerate(classes)
        ]
        write_manifest(folder, Manifest(images, annotations, categories, {"info": info, "licenses": []}))
    return GeneratedInterval(folder, count, len(annotations), dirty)


def _labels_manifest(
    images: list[dict[str, Any]], annotations: list[dict[str, Any]], classes: Sequence[str]
) -> Manifest:
    """A classification / face interval as a labels.csv manifest (category = the written label)."""
    written = {str(record["label"]) for record in annotations}
    names = [*classes, *sorted(written - set(classes))]
    categories = [{"id": index + 1, "name": name} for index, name in enumerate(names)]
    ids = {name: index + 1 for index, name in enumerate(names)}
    records = [
        {**{key: value for key, value in record.items() if key != "label"}, "category_id": ids[record["label"]]}
        for record in annotations
    ]
    return Manifest(images, records, categories, format="labels")
