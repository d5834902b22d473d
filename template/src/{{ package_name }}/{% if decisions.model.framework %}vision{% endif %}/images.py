"""One image's ground truth (Annotation), its pixel mask and the per-image statistics Feast stores.

Coordinates are continuous pixels: pixel (i, j) covers [i, i + 1) x [j, j + 1), so a box [0, 0, W, H]
is the whole image and a pixel belongs to a polygon when its centre (i + 0.5, j + 0.5) lies inside
(even-odd rule). Classes are 0-based indices into VisionSettings.classes. The manifests that hold
annotations on disk are in manifests.py, the synthetic generator in synthetic.py.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

STATISTICS = ("width", "height", "brightness", "contrast", "sharpness", "objects", "mean_box_area")

Array = np.ndarray[Any, Any]
ImageSource = str | Path | bytes | Image.Image


@dataclass(frozen=True)
class Annotation:
    """An image's ground truth: boxes xyxy in pixels (float32 [N, 4]), 0-based classes (int64 [N]) and,
    for segmentation, one polygon per object (float32 [K, 2] of x, y; an empty tuple when the task has none).
    """

    boxes: Array
    classes: Array
    polygons: tuple[Array, ...] = ()

    def __post_init__(self) -> None:
        if self.polygons and len(self.polygons) != len(self.classes):
            raise ValueError(f"{len(self.polygons)} polygons for {len(self.classes)} objects: one per object or none")

    def __len__(self) -> int:
        return len(self.classes)

    @classmethod
    def empty(cls) -> Annotation:
        return cls(np.zeros((0, 4), dtype=np.float32), np.zeros(0, dtype=np.int64))

    def scaled(self, sx: float, sy: float) -> Annotation:
        """The annotation of the image resized by sx horizontally and sy vertically."""
        factors = np.array([sx, sy, sx, sy], dtype=np.float32)
        polygons = tuple((polygon * factors[:2]).astype(np.float32) for polygon in self.polygons)
        return Annotation((self.boxes * factors).astype(np.float32), self.classes, polygons)

    def flipped(self, width: float) -> Annotation:
        """The annotation of the image mirrored left to right (an image `width` pixels wide)."""
        boxes = self.boxes.copy()
        boxes[:, 0], boxes[:, 2] = width - self.boxes[:, 2], width - self.boxes[:, 0]
        polygons = tuple(np.column_stack([width - p[:, 0], p[:, 1]]).astype(np.float32) for p in self.polygons)
        return Annotation(boxes, self.classes, polygons)


def polygon_area(polygon: Array) -> float:
    """The shoelace area of a [K, 2] polygon in square pixels (0 for fewer than 3 points)."""
    if len(polygon) < 3:
        return 0.0
    x, y = polygon[:, 0].astype(np.float64), polygon[:, 1].astype(np.float64)
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def polygon_pixels(polygon: Array, height: int, width: int) -> tuple[slice, slice, Array]:
    """The pixels whose centre lies inside the polygon (even-odd rule): (rows, columns, bool mask of that window).

    Only the polygon's bounding window of the [height, width] image is computed, so a small object in
    a large image costs little; the window is empty when the polygon lies outside the image.
    """
    points = np.asarray(polygon, dtype=np.float64)
    if len(points) < 3:
        return slice(0, 0), slice(0, 0), np.zeros((0, 0), dtype=bool)
    x0, y0 = (max(0, math.floor(value)) for value in points.min(axis=0))
    x1, y1 = min(width, math.ceil(points[:, 0].max())), min(height, math.ceil(points[:, 1].max()))
    rows, columns = slice(y0, max(y0, y1)), slice(x0, max(x0, x1))
    centres_y = np.arange(rows.start, rows.stop, dtype=np.float64)[:, None] + 0.5
    centres_x = np.arange(columns.start, columns.stop, dtype=np.float64)[None, :] + 0.5
    inside = np.zeros((len(centres_y), centres_x.shape[1]), dtype=bool)
    for (xa, ya), (xb, yb) in zip(points, np.roll(points, -1, axis=0), strict=True):
        if ya == yb:
            continue  # a horizontal edge never crosses a row of centres
        crosses = (ya > centres_y) != (yb > centres_y)  # [rows, 1]: the edge spans this row
        at = xa + (centres_y - ya) * (xb - xa) / (yb - ya)  # where it crosses the row
        inside ^= crosses & (centres_x < at)
    return rows, columns, inside


def polygon_mask(annotation: Annotation, height: int, width: int) -> Array:
    """uint8 [height, width]: 0 background, class index + 1 on each object's pixels (later objects over earlier)."""
    if len(annotation) and not annotation.polygons:
        raise ValueError("the annotation has objects but no polygons; only segmentation annotations have masks")
    mask = np.zeros((height, width), dtype=np.uint8)
    for polygon, category in zip(annotation.polygons, annotation.classes, strict=True):
        rows, columns, inside = polygon_pixels(polygon, height, width)
        mask[rows, columns][inside] = int(category) + 1
    return mask


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
    depth); mean_box_area is the mean box area as a fraction of the image (1 for a classification
    image, whose one object is the whole image).
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


def dominant_class(annotation: Annotation) -> int:
    """The most frequent class of an image (ties: the lower index); -1 when it has no object."""
    if not len(annotation):
        return -1
    return int(np.bincount(annotation.classes).argmax())
