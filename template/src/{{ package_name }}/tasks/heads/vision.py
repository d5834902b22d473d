"""Vision heads: object detection, segmentation and a glyph reader around the 8x8 shape classifier.

The vision core only knows one centred shape per 8x8 image. These heads serve bigger production
images by cutting them into 8x8 windows (or cells), scoring every window with one core call, and
post-processing the scores: a fitted objectness model and non-maximum suppression for boxes, a
fitted ink threshold for masks and blank cells. Training and evaluation images are composed from the
family's rows pasted on background noise like the rows' own (N(0, 0.12) clipped to [0, 1]), so no
extra data set is needed and the truth (boxes, masks, text) is known exactly.

NumPy and the standard library only, relative imports only: Triton loads this file without the package.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from . import (
    FLOAT_KINDS,
    Arrays,
    Core,
    FloatArray,
    Head,
    TaskEvaluation,
    decode_text,
    encode_text,
    register,
    require_input,
)

IntArray = npt.NDArray[np.int64]

NOISE_SD = 0.12  # background noise of the sample rows (data/sample.py), reused for composed canvases
TRUTH_INK = 0.3  # segmentation truth: a pasted row's pixel above this (2.5 noise sd) is the shape's
POSITIVE_IOU = 0.6  # objectness training: a window this close to a shape's box is an object ...
NEGATIVE_IOU = 0.3  # ... and one below this is not (windows in between are ambiguous and ignored)
MATCH_IOU = 0.5  # evaluation: a detection matches a truth box of its class at this IoU or more
INK_FLOOR = 0.25  # objectness ink statistics count only what exceeds the noise floor
CONTEXT = 3  # objectness looks this many pixels beyond each side of a window
CONTEXT_COLUMNS = 9  # what _context measures per window
PRESENCE = 0.3  # a row or column of a window's surroundings is inked when its ink sums to more
EVAL_IMAGES = 64  # production-shaped requests built per evaluation
MAX_FIT_CANVASES = 300  # caps the objectness fit (about 1 s on 2 cores)
NEGATIVES_PER_POSITIVE = 4
CENTRING = 4  # positive windows weigh IoU**CENTRING in the objectness fit
NEWTON_STEPS = 30
L2 = 1e-3

DETECTION_DEFAULTS: dict[str, Any] = {
    "canvas": 32,
    "window": 8,
    "stride": 1,
    "max_detections": 8,
    "iou_threshold": 0.3,
    "score_threshold": 0.5,
}
GLYPH_DEFAULTS: dict[str, Any] = {
    "cells": 8,
    "window": 8,
    "alphabet": {"circle": "o", "square": "#", "triangle": "^", "cross": "+"},
    "blank": " ",
    "text_bytes": 32,
}


# ----------------------------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------------------------


def background(rng: np.random.Generator, shape: tuple[int, ...]) -> FloatArray:
    """Empty image content that looks like the rows' own background: N(0, 0.12) clipped to [0, 1]."""
    return np.clip(rng.normal(0.0, NOISE_SD, shape), 0.0, 1.0).astype(np.float32)


def compose(
    x: FloatArray,
    y: npt.NDArray[Any],
    rng: np.random.Generator,
    count: int,
    canvas: int,
    window: int = 8,
    shapes: tuple[int, int] = (1, 3),
) -> tuple[FloatArray, list[FloatArray], list[IntArray]]:
    """`count` canvases of background noise, each with `shapes[0]..shapes[1]` random rows of x
    pasted at random non-overlapping integer offsets (boxes may touch, never overlap).

    Returns the images [count, canvas, canvas], and per image the boxes [m, 4] (x0, y0, x1, y1 in
    pixels, x1 = x0 + window) and classes [m] of what was pasted, so the truth is exact."""
    x, y = _rows(x, y, window)
    if len(x) == 0:
        raise ValueError("compose needs at least one row")
    images = background(rng, (count, canvas, canvas))
    span = canvas - window + 1
    all_boxes: list[FloatArray] = []
    all_classes: list[IntArray] = []
    for index in range(count):
        wanted = int(rng.integers(shapes[0], shapes[1] + 1))
        placed: list[tuple[int, int]] = []
        for _ in range(50 * wanted):  # rejection sampling; a crowded canvas just gets fewer shapes
            if len(placed) == wanted:
                break
            top, left = (int(value) for value in rng.integers(0, span, 2))
            if all(
                abs(top - other_top) >= window or abs(left - other_left) >= window for other_top, other_left in placed
            ):
                placed.append((top, left))
        rows = rng.integers(0, len(x), len(placed))
        for (top, left), row in zip(placed, rows, strict=True):
            images[index, top : top + window, left : left + window] = x[row].reshape(window, window)
        boxes = np.array([[left, top, left + window, top + window] for top, left in placed], dtype=np.float32)
        all_boxes.append(boxes.reshape(-1, 4))
        all_classes.append(y[rows].astype(np.int64))
    return images, all_boxes, all_classes


def _origins(height: int, width: int, window: int, stride: int) -> tuple[IntArray, IntArray]:
    """Top and left pixel of every window, row by row (the order of sliding_windows)."""
    grid_top, grid_left = np.meshgrid(
        np.arange(0, height - window + 1, stride), np.arange(0, width - window + 1, stride), indexing="ij"
    )
    return grid_top.ravel().astype(np.int64), grid_left.ravel().astype(np.int64)


def sliding_windows(images: FloatArray, window: int, stride: int) -> tuple[FloatArray, FloatArray]:
    """Every `window` x `window` window of each image at `stride`, flattened row-major like the core's
    features: windows [b, n_windows, window * window] and their boxes [n_windows, 4] (same for all
    images). Vectorised with stride tricks: one copy, no Python loop."""
    height, width = images.shape[1:3]
    views = np.lib.stride_tricks.sliding_window_view(images, (window, window), axis=(1, 2))[:, ::stride, ::stride]
    batch, rows, cols = views.shape[:3]
    windows = np.ascontiguousarray(views, dtype=np.float32).reshape(batch, rows * cols, window * window)
    top, left = _origins(height, width, window, stride)
    boxes = np.stack([left, top, left + window, top + window], axis=1).astype(np.float32)
    return windows, boxes


def box_iou(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> FloatArray:
    """Intersection over union of every box in a [n, 4] with every box in b [m, 4] (x0, y0, x1, y1)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0, None)
    inter = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(boxes: npt.NDArray[Any], scores: npt.NDArray[Any], iou_threshold: float, limit: int) -> IntArray:
    """Greedy non-maximum suppression, class-agnostic (shapes never overlap here, and a shifted
    window the core misreads as another class is a duplicate, not a second object): take the best
    box, drop every box overlapping it by more than `iou_threshold`, repeat. Indices best first,
    at most `limit`."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < limit:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[box_iou(boxes[best], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def _rows(x: npt.NDArray[Any], y: npt.NDArray[Any], window: int) -> tuple[FloatArray, IntArray]:
    """Training rows as FP32 [n, window * window] and INT64 labels [n]; ValueError otherwise."""
    features = np.asarray(x, dtype=np.float32)
    labels = np.asarray(y).astype(np.int64).reshape(-1)
    if features.ndim != 2 or features.shape[1] != window * window or len(features) != len(labels):
        raise ValueError(
            f"rows must be FP32 [n, {window * window}] with n labels; got {features.shape} and {labels.shape}"
        )
    return features, labels


def _image_input(inputs: Arrays, name: str, dims: tuple[int, ...]) -> FloatArray:
    """The request tensor `name` as FP32 [batch, *dims]; ValueError naming it and its dims otherwise."""
    return np.ascontiguousarray(require_input(inputs, name, dims, FLOAT_KINDS), dtype=np.float32)


def _class_scores(core: Core, features: FloatArray, n_classes: int) -> FloatArray:
    """One core call on all rows (a remote call in Triton); checks the [n, n_classes] contract."""
    if len(features) == 0:
        return np.zeros((0, n_classes), dtype=np.float32)
    scores = np.asarray(core(np.ascontiguousarray(features, dtype=np.float32)), dtype=np.float32)
    if scores.shape != (len(features), n_classes):
        raise ValueError(f"core returned {list(scores.shape)}; expected [{len(features)}, {n_classes}]")
    return scores


def _sigmoid(z: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64))))


def _fit_logistic(
    features: FloatArray, labels: npt.NDArray[Any], weights_of_rows: npt.NDArray[Any]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """L2-regularised logistic regression by Newton's method (IRLS) on standardised features:
    (mean, scale, weights with the bias last). A handful of d x d solves beats hundreds of
    gradient steps for d around 70."""
    data = np.asarray(features, dtype=np.float64)
    target = np.asarray(labels, dtype=np.float64)
    mean = data.mean(axis=0)
    scale = data.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    design = np.hstack([(data - mean) / scale, np.ones((len(data), 1))])
    row_weight = np.asarray(weights_of_rows, dtype=np.float64) / float(np.sum(weights_of_rows))
    weights = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], L2)
    penalty[-1] = 0.0
    for _ in range(NEWTON_STEPS):
        probability = _sigmoid(design @ weights)
        gradient = design.T @ (row_weight * (probability - target)) + penalty * weights
        curvature = (design.T * (row_weight * probability * (1.0 - probability))) @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(curvature, gradient)
        weights -= step
        if float(np.max(np.abs(step))) < 1e-6:
            break
    return mean.astype(np.float32), scale.astype(np.float32), weights.astype(np.float32)


def _context(images: FloatArray, window: int, stride: int, margin: int = CONTEXT) -> FloatArray:
    """Ink around each window, in sliding_windows order: [b, n_windows, 9] = the ink in the
    `margin`-wide strips just outside it (left, right, top, bottom), then the ink mass and centroid
    offset (x, y, from the window centre) of the window grown by `margin` on every side. A centred
    shape has no ink outside and its centroid in the middle; a window shifted off a shape has the
    rest of it right outside, which the window's own pixels cannot tell. Box sums of integral
    images, so every window costs a few lookups."""
    batch, height, width = images.shape
    ink = np.clip(images.astype(np.float64) - INK_FLOOR, 0.0, None)
    padded = np.pad(ink, ((0, 0), (margin, margin), (margin, margin)))
    rows, cols = np.mgrid[0 : padded.shape[1], 0 : padded.shape[2]]

    def integral(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        table = np.zeros((batch, values.shape[1] + 1, values.shape[2] + 1))
        table[:, 1:, 1:] = values.cumsum(axis=1).cumsum(axis=2)
        return table

    mass, first_x, first_y = integral(padded), integral(padded * cols), integral(padded * rows)
    top, left = _origins(height, width, window, stride)
    top, left = top + margin, left + margin  # window origins in the padded image
    bottom, right = top + window, left + window

    def box(table: npt.NDArray[np.float64], y0: Any, x0: Any, y1: Any, x1: Any) -> npt.NDArray[np.float64]:
        return np.asarray(table[:, y1, x1] - table[:, y0, x1] - table[:, y1, x0] + table[:, y0, x0])

    grown = (top - margin, left - margin, bottom + margin, right + margin)
    total = box(mass, *grown)
    safe = np.maximum(total, 1e-3)
    centre_x = box(first_x, *grown) / safe - (left + (window - 1) / 2)
    centre_y = box(first_y, *grown) / safe - (top + (window - 1) / 2)
    # extent of the inked rows and columns of the grown window: its middle sits at the window's
    # centre for a centred shape whatever the shape (a triangle's centroid does not)
    size = window + 2 * margin
    offsets = np.arange(size)
    row_sums = np.zeros((batch, padded.shape[1], padded.shape[2] + 1))
    row_sums[:, :, 1:] = padded.cumsum(axis=2)
    col_sums = np.zeros((batch, padded.shape[1] + 1, padded.shape[2]))
    col_sums[:, 1:, :] = padded.cumsum(axis=1)
    grown_rows = (top - margin)[:, None] + offsets  # [n, size]
    grown_cols = (left - margin)[:, None] + offsets
    row_profile = row_sums[:, grown_rows, (right + margin)[:, None]] - row_sums[:, grown_rows, (left - margin)[:, None]]
    col_profile = col_sums[:, (bottom + margin)[:, None], grown_cols] - col_sums[:, (top - margin)[:, None], grown_cols]

    def middle(profile: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        inked = profile > PRESENCE
        first = inked.argmax(axis=2)
        last = size - 1 - inked[:, :, ::-1].argmax(axis=2)
        return np.where(inked.any(axis=2), (first + last) / 2 - (size - 1) / 2, 0.0)

    columns = [
        box(mass, top, left - margin, bottom, left),
        box(mass, top, right, bottom, right + margin),
        box(mass, top - margin, left, top, right),
        box(mass, bottom, left, bottom + margin, right),
        total,
        np.where(total > 1e-3, centre_x, 0.0),
        np.where(total > 1e-3, centre_y, 0.0),
        middle(col_profile),
        middle(row_profile),
    ]
    return np.stack(columns, axis=2).astype(np.float32)


def _objectness_features(windows: FloatArray, context: FloatArray, window: int) -> FloatArray:
    """What tells a centred shape from an empty, off-centre or straddling window: the raw pixels, ink
    statistics a linear model cannot build itself (ink mass, centroid offset, spread, ink on the
    border ring and in the centre) and the ink just outside the window (see _context)."""
    count = len(windows)
    ink = np.clip(windows - INK_FLOOR, 0.0, None)
    grid = ink.reshape(count, window, window)
    mass = ink.sum(axis=1)
    safe = np.maximum(mass, 1e-3)
    position = np.arange(window, dtype=np.float32) - (window - 1) / 2
    row_profile = grid.sum(axis=2)
    col_profile = grid.sum(axis=1)
    centre_y = row_profile @ position / safe
    centre_x = col_profile @ position / safe
    spread = (row_profile @ position**2 + col_profile @ position**2) / safe - centre_y**2 - centre_x**2
    edge = np.zeros((window, window), dtype=bool)
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    border = grid[:, edge].sum(axis=1) / safe
    middle = grid[:, 2:-2, 2:-2].sum(axis=(1, 2)) / safe
    strips, around_x, around_y = context[:, :4], context[:, 5], context[:, 6]
    extent_x, extent_y = context[:, 7], context[:, 8]
    outside = strips.sum(axis=1)
    stats = np.stack(
        [
            mass,
            np.log1p(mass),
            np.abs(centre_x),
            np.abs(centre_y),
            centre_x**2 + centre_y**2,
            spread,
            border,
            middle,
            (mass > 0.5).astype(np.float32),
            outside,
            np.log1p(outside),
            strips.max(axis=1),
            outside / (safe + outside),
            np.abs(around_x),
            np.abs(around_y),
            around_x**2 + around_y**2,
            np.maximum(np.abs(around_x), np.abs(around_y)),
            np.abs(extent_x),
            np.abs(extent_y),
            extent_x**2 + extent_y**2,
            np.maximum(np.abs(extent_x), np.abs(extent_y)),
        ],
        axis=1,
    )
    return np.hstack([windows, np.log1p(strips), stats]).astype(np.float32)


def _best_split(positive: npt.NDArray[Any], negative: npt.NDArray[Any]) -> float:
    """The threshold t that best separates scores (positive >= t, negative < t): fewest errors,
    placed midway between the neighbouring scores for margin."""
    values = np.sort(np.concatenate([positive, negative]).astype(np.float64))
    candidates = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    missed = np.searchsorted(np.sort(positive), candidates, side="left")
    false = len(negative) - np.searchsorted(np.sort(negative), candidates, side="left")
    errors = missed + false
    best = np.flatnonzero(errors == errors.min())
    return float(candidates[best[len(best) // 2]])


def _otsu(values: npt.NDArray[Any], bins: int = 256) -> float:
    """Otsu's threshold on values in [0, 1]: splits the dark noise mode from the bright ink mode
    without pixel labels (the rows say which shape, not which pixels)."""
    histogram, edges = np.histogram(np.asarray(values, dtype=np.float64), bins=bins, range=(0.0, 1.0))
    centres = (edges[1:] + edges[:-1]) / 2
    weight = histogram / max(int(histogram.sum()), 1)
    below = np.cumsum(weight)
    below_mean = np.cumsum(weight * centres)
    total_mean = below_mean[-1]
    above = 1.0 - below
    between = (total_mean * below - below_mean) ** 2 / np.maximum(below * above, 1e-12)
    return float(edges[int(np.argmax(between[:-1])) + 1])


def _option(options: dict[str, Any], defaults: dict[str, Any], key: str) -> Any:
    return options.get(key, defaults[key])


# ----------------------------------------------------------------------------------------------
# Object detection
# ----------------------------------------------------------------------------------------------


@register
class DetectionHead(Head):
    """Sliding-window detector: image FP32 [b, canvas, canvas] -> boxes FP32 [b, K, 4] (x0, y0, x1, y1
    in pixels), scores FP32 [b, K], classes INT32 [b, K], K = max_detections, best first; unused
    slots hold box 0, score 0, class -1.

    Every window is scored objectness x max core probability (class = argmax core); windows at
    `score_threshold` or more go through class-agnostic NMS at `iou_threshold`, ranked by objectness
    log-odds + log probability (the score saturates at 1.0 near a shape; the log-odds peak where it
    is centred), then the kept boxes are sorted by score. The objectness model is fitted because
    the core, trained on centred shapes only, is often confident on empty, off-centre or straddling
    windows too."""

    name: ClassVar[str] = "detection"

    def __init__(self, classes: tuple[str, ...], options: dict[str, Any]) -> None:
        super().__init__(classes, options)
        self.canvas = int(_option(self.options, DETECTION_DEFAULTS, "canvas"))
        self.window = int(_option(self.options, DETECTION_DEFAULTS, "window"))
        self.stride = int(_option(self.options, DETECTION_DEFAULTS, "stride"))
        self.max_detections = int(_option(self.options, DETECTION_DEFAULTS, "max_detections"))
        self.iou_threshold = float(_option(self.options, DETECTION_DEFAULTS, "iou_threshold"))
        self.score_threshold = float(_option(self.options, DETECTION_DEFAULTS, "score_threshold"))
        if not 0 < self.window <= self.canvas or self.stride < 1 or self.max_detections < 1:
            raise ValueError(f"{self.name}: bad options {self.options}")

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        """Objectness: logistic regression on windows of canvases composed from the training rows;
        positive at IoU >= 0.6 with a pasted shape, negative below 0.3 (all positives, a random
        sample of negatives). The core is not needed: objectness is about where, not what."""
        del core
        x, y = _rows(x, y, self.window)
        count = int(np.clip(len(x) // 2, 16, MAX_FIT_CANVASES))
        images, boxes, _ = compose(x, y, rng, count, self.canvas, self.window)
        windows, window_boxes = sliding_windows(images, self.window, 1)
        best = np.stack([box_iou(window_boxes, truth).max(axis=1) for truth in boxes])  # [count, n_windows]
        flat = windows.reshape(-1, self.window * self.window)
        positive = np.flatnonzero(best.ravel() >= POSITIVE_IOU)
        negative = np.flatnonzero(best.ravel() < NEGATIVE_IOU)
        negative = rng.choice(negative, min(len(negative), NEGATIVES_PER_POSITIVE * len(positive)), replace=False)
        chosen = np.concatenate([positive, negative])
        labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
        context = _context(images, self.window, 1).reshape(-1, CONTEXT_COLUMNS)
        features = _objectness_features(flat[chosen], context[chosen], self.window)
        # positives weigh by IoU**4: the log-odds then peak on the exactly centred window, which NMS
        # ranks first (a flat plateau over all IoU >= 0.6 windows would let noise pick the box)
        weight = np.concatenate([best.ravel()[positive] ** CENTRING, np.ones(len(negative))])
        mean, scale, weights = _fit_logistic(features, labels, weight)
        majority = int(np.bincount(y, minlength=len(self.classes)).argmax())
        return {
            "objectness_mean": mean,
            "objectness_scale": scale,
            "objectness_weights": weights,
            "majority_class": np.array([majority], dtype=np.int64),
        }

    def objectness_logit(self, params: Arrays, windows: FloatArray, context: FloatArray) -> npt.NDArray[np.float64]:
        """Log-odds that a window is a centred shape, for windows [n, window * window] and their
        context [n, 9] (see _context)."""
        features = _objectness_features(windows, context, self.window)
        standard = (features - params["objectness_mean"]) / params["objectness_scale"]
        weights = params["objectness_weights"].astype(np.float64)
        return np.asarray(standard.astype(np.float64) @ weights[:-1] + weights[-1])

    def detect(self, core: Core, params: Arrays, images: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
        """Boxes [b, K, 4], scores [b, K], classes [b, K] (INT64; -1 = empty slot) of validated images."""
        batch, limit = len(images), self.max_detections
        windows, window_boxes = sliding_windows(images, self.window, self.stride)
        per_image = windows.shape[1]
        flat = windows.reshape(batch * per_image, self.window * self.window)
        probabilities = _class_scores(core, flat, len(self.classes))  # one call for the whole batch
        context = _context(images, self.window, self.stride).reshape(batch * per_image, CONTEXT_COLUMNS)
        logit = self.objectness_logit(params, flat, context)
        probability = probabilities.max(axis=1, initial=0.0).astype(np.float64)
        score = (_sigmoid(logit) * probability).astype(np.float32).reshape(batch, per_image)
        # NMS ranks by objectness log-odds + log probability, not by the score: near a shape both
        # factors round to 1.0, and the log-odds still peak where the shape is centred
        rank = (logit + np.log(np.maximum(probability, 1e-30))).reshape(batch, per_image)
        label = probabilities.argmax(axis=1).reshape(batch, per_image)
        boxes = np.zeros((batch, limit, 4), dtype=np.float32)
        scores = np.zeros((batch, limit), dtype=np.float32)
        classes = np.full((batch, limit), -1, dtype=np.int64)
        for index in range(batch):
            candidates = np.flatnonzero(score[index] >= self.score_threshold)
            kept = candidates[nms(window_boxes[candidates], rank[index, candidates], self.iou_threshold, limit)]
            kept = kept[np.argsort(-score[index, kept], kind="stable")]
            boxes[index, : len(kept)] = window_boxes[kept]
            scores[index, : len(kept)] = score[index, kept]
            classes[index, : len(kept)] = label[index, kept]
        return boxes, scores, classes

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        images = _image_input(inputs, "image", (self.canvas, self.canvas))
        boxes, scores, classes = self.detect(core, params, images)
        return {"boxes": boxes, "scores": scores, "classes": classes.astype(np.int32)}

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, list[tuple[FloatArray, IntArray]]]:
        """`count` canvases with 1-3 shapes; truth per image: (boxes [m, 4], classes [m])."""
        images, boxes, classes = compose(x, y, rng, count, self.canvas, self.window)
        return {"image": images}, list(zip(boxes, classes, strict=True))

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        """Precision, recall and F1 (primary) at IoU >= 0.5 with the class matching, on canvases of
        held-out rows. Baseline: one box at the canvas centre with the training majority class."""
        inputs, truth = self.examples(x, y, rng, EVAL_IMAGES)
        outputs = self.infer(core, params, inputs)
        centre = (self.canvas - self.window) // 2
        baseline_boxes = np.zeros_like(outputs["boxes"])
        baseline_boxes[:, 0] = [centre, centre, centre + self.window, centre + self.window]
        baseline_classes = np.full_like(outputs["classes"], -1)
        baseline_classes[:, 0] = int(params["majority_class"][0])
        return TaskEvaluation(
            primary="f1",
            metrics=detection_metrics(outputs["boxes"], outputs["classes"], truth),
            baseline=detection_metrics(baseline_boxes, baseline_classes, truth),
            examples=len(truth),
            notes=[
                f"{EVAL_IMAGES} composed {self.canvas}x{self.canvas} canvases with 1-3 held-out rows each",
                f"a detection counts when its class matches and IoU >= {MATCH_IOU}",
                "baseline: one box at the canvas centre with the training majority class",
            ],
        )


def detection_metrics(
    boxes: npt.NDArray[Any], classes: npt.NDArray[Any], truth: list[tuple[FloatArray, IntArray]]
) -> dict[str, float]:
    """Precision, recall and F1 over all images: detections (best first, class -1 = empty slot) are
    matched greedily to unmatched truth boxes of their class at IoU >= 0.5."""
    hits = predicted = expected = 0
    for image_boxes, image_classes, (truth_boxes, truth_classes) in zip(boxes, classes, truth, strict=True):
        valid = np.asarray(image_classes) >= 0
        predicted += int(valid.sum())
        expected += len(truth_boxes)
        free = np.ones(len(truth_boxes), dtype=bool)
        overlaps = box_iou(np.asarray(image_boxes)[valid], truth_boxes)
        for row, label in enumerate(np.asarray(image_classes)[valid]):
            candidates = np.where(free & (truth_classes == label), overlaps[row], -1.0)
            if candidates.size and candidates.max() >= MATCH_IOU:
                free[int(candidates.argmax())] = False
                hits += 1
    precision = hits / predicted if predicted else 0.0
    recall = hits / expected if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


# ----------------------------------------------------------------------------------------------
# Segmentation
# ----------------------------------------------------------------------------------------------


def truth_masks(images: FloatArray, boxes: list[FloatArray], classes: list[IntArray]) -> npt.NDArray[np.int32]:
    """Segmentation truth of composed canvases: inside each pasted box, the pixels above TRUTH_INK
    (2.5 noise sd: the rows are noisy, their clean templates are not kept) get 1 + class."""
    masks = np.zeros(images.shape, dtype=np.int32)
    for index, (image_boxes, image_classes) in enumerate(zip(boxes, classes, strict=True)):
        for (left, top, right, bottom), label in zip(image_boxes.astype(int), image_classes, strict=True):
            inked = images[index, top:bottom, left:right] > TRUTH_INK
            masks[index, top:bottom, left:right][inked] = 1 + int(label)
    return masks


def mean_iou(predicted: npt.NDArray[Any], truth: npt.NDArray[Any], labels: int) -> tuple[float, float]:
    """(mean IoU over the labels present in truth or prediction, background included; pixel
    accuracy), pooled over all images."""
    scores = []
    for label in range(labels):
        mine, theirs = predicted == label, truth == label
        union = int(np.count_nonzero(mine | theirs))
        if union:
            scores.append(np.count_nonzero(mine & theirs) / union)
    accuracy = float(np.mean(predicted == truth)) if truth.size else 0.0
    return (float(np.mean(scores)) if scores else 0.0), accuracy


@register
class SegmentationHead(Head):
    """Detect-then-fill: image FP32 [b, canvas, canvas] -> mask INT32 [b, canvas, canvas] with
    0 = background, 1 + class index = a detected shape's inked pixels inside its box (higher-scored
    boxes win where boxes overlap). Options as the detection head's."""

    name: ClassVar[str] = "segmentation"

    def __init__(self, classes: tuple[str, ...], options: dict[str, Any]) -> None:
        super().__init__(classes, options)
        self.detector = DetectionHead(classes, options)

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        """The detector's params plus `ink_threshold`: Otsu's threshold on the training rows' pixels."""
        params = self.detector.fit(core, x, y, rng)
        params["ink_threshold"] = np.array([_otsu(_rows(x, y, self.detector.window)[0])], dtype=np.float32)
        return params

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        canvas = self.detector.canvas
        images = _image_input(inputs, "image", (canvas, canvas))
        boxes, _, classes = self.detector.detect(core, params, images)
        threshold = float(params["ink_threshold"][0])
        masks = np.zeros(images.shape, dtype=np.int32)
        for index in range(len(images)):
            for (left, top, right, bottom), label in zip(boxes[index].astype(int), classes[index], strict=True):
                if label < 0:
                    break  # slots are best first; the rest are empty
                region = masks[index, top:bottom, left:right]
                region[(region == 0) & (images[index, top:bottom, left:right] > threshold)] = 1 + int(label)
        return {"mask": masks}

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, npt.NDArray[np.int32]]:
        """`count` canvases with 1-3 shapes; truth: masks INT32 [count, canvas, canvas] (see truth_masks)."""
        images, boxes, classes = compose(x, y, rng, count, self.detector.canvas, self.detector.window)
        return {"image": images}, truth_masks(images, boxes, classes)

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        """Mean IoU (primary) and pixel accuracy on canvases of held-out rows; baseline: all background."""
        inputs, truth = self.examples(x, y, rng, EVAL_IMAGES)
        predicted = self.infer(core, params, inputs)["mask"]
        labels = 1 + len(self.classes)
        miou, accuracy = mean_iou(predicted, truth, labels)
        base_miou, base_accuracy = mean_iou(np.zeros_like(truth), truth, labels)
        return TaskEvaluation(
            primary="mean_iou",
            metrics={"mean_iou": miou, "pixel_accuracy": accuracy},
            baseline={"mean_iou": base_miou, "pixel_accuracy": base_accuracy},
            examples=len(truth),
            notes=[
                f"truth: pixels of each pasted row above {TRUTH_INK} (the rows' clean templates are not kept)",
                "mean IoU over background and the classes present, pooled over all canvases",
                "baseline: every pixel background",
            ],
        )


# ----------------------------------------------------------------------------------------------
# OCR: glyph reader
# ----------------------------------------------------------------------------------------------


def _ink(cells: FloatArray) -> npt.NDArray[np.float32]:
    """A cell's ink score: the mean of its 8 brightest pixels (a shape has at least 8 inked pixels,
    noise rarely more than a few bright ones)."""
    if len(cells) == 0:
        return np.zeros(0, dtype=np.float32)
    top = min(8, cells.shape[1])
    return np.asarray(np.partition(cells, -top, axis=1)[:, -top:].mean(axis=1), dtype=np.float32)


@register
class GlyphReaderHead(Head):
    """A text line of `cells` 8x8 cells, image FP32 [b, window, cells * window] -> text UTF8
    [b, text_bytes] (zero-padded UTF-8, see encode_text).

    Each cell is read as alphabet[argmax core] or the blank character when its ink score is under
    the fitted threshold. The text always has `cells` characters (blanks kept, trailing ones too),
    so character i is cell i."""

    name: ClassVar[str] = "glyph_reader"

    def __init__(self, classes: tuple[str, ...], options: dict[str, Any]) -> None:
        super().__init__(classes, options)
        self.cells = int(_option(self.options, GLYPH_DEFAULTS, "cells"))
        self.window = int(_option(self.options, GLYPH_DEFAULTS, "window"))
        alphabet = dict(_option(self.options, GLYPH_DEFAULTS, "alphabet"))
        missing = [name for name in self.classes if name not in alphabet]
        if missing:
            raise ValueError(f"{self.name}: alphabet has no character for {missing}")
        self.characters = tuple(str(alphabet[name]) for name in self.classes)
        self.blank = str(_option(self.options, GLYPH_DEFAULTS, "blank"))
        self.text_bytes = int(_option(self.options, GLYPH_DEFAULTS, "text_bytes"))

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        """`ink_threshold`: the best split of ink scores between the training rows (all shapes) and as
        many background-noise cells."""
        del core
        x, y = _rows(x, y, self.window)
        blanks = background(rng, (max(len(x), 64), self.window * self.window))
        threshold = _best_split(_ink(x), _ink(blanks)) if len(x) else float(_ink(blanks).max()) + 1e-3
        return {"ink_threshold": np.array([threshold], dtype=np.float32)}

    def cells_of(self, images: FloatArray) -> FloatArray:
        """Cells [b * cells, window * window], row-major like the core's p_00..p_63, line by line."""
        batch = len(images)
        grid = images.reshape(batch, self.window, self.cells, self.window).transpose(0, 2, 1, 3)
        return np.ascontiguousarray(grid, dtype=np.float32).reshape(batch * self.cells, self.window * self.window)

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        images = _image_input(inputs, "image", (self.window, self.cells * self.window))
        cells = self.cells_of(images)
        probabilities = _class_scores(core, cells, len(self.classes))  # one call for the whole batch
        inked = _ink(cells) >= float(params["ink_threshold"][0])
        best = probabilities.argmax(axis=1)
        characters = [self.characters[label] if ink else self.blank for label, ink in zip(best, inked, strict=True)]
        texts = ["".join(characters[start : start + self.cells]) for start in range(0, len(characters), self.cells)]
        return {"text": encode_text(texts, self.text_bytes)}

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, list[str]]:
        """`count` lines, each cell blank with probability 0.3 or a random row; truth: the texts."""
        x, y = _rows(x, y, self.window)
        cells = background(rng, (count * self.cells, self.window * self.window))
        filled = rng.random(count * self.cells) >= 0.3
        rows = rng.integers(0, len(x), int(filled.sum()))
        cells[filled] = x[rows]
        labels = np.full(count * self.cells, -1, dtype=np.int64)
        labels[filled] = y[rows]
        grid = cells.reshape(count, self.cells, self.window, self.window).transpose(0, 2, 1, 3)
        images = np.ascontiguousarray(grid).reshape(count, self.window, self.cells * self.window)
        characters = [self.characters[label] if label >= 0 else self.blank for label in labels]
        texts = ["".join(characters[start : start + self.cells]) for start in range(0, len(characters), self.cells)]
        return {"image": images}, texts

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        """Character accuracy (primary) and exact-match rate on lines of held-out rows; baseline: all blank."""
        inputs, truth = self.examples(x, y, rng, EVAL_IMAGES)
        read = decode_text(self.infer(core, params, inputs)["text"])
        blank = [self.blank * self.cells] * len(truth)
        return TaskEvaluation(
            primary="char_accuracy",
            metrics=text_metrics(read, truth),
            baseline=text_metrics(blank, truth),
            examples=len(truth),
            notes=[f"{EVAL_IMAGES} lines of {self.cells} cells, 30% blank", "baseline: every cell blank"],
        )


def text_metrics(read: list[str], truth: list[str]) -> dict[str, float]:
    """Character accuracy (position by position; a length mismatch counts as wrong characters) and
    exact-match rate."""
    total = sum(max(len(a), len(b)) for a, b in zip(read, truth, strict=True))
    right = sum(sum(1 for p, q in zip(a, b, strict=False) if p == q) for a, b in zip(read, truth, strict=True))
    exact = sum(1 for a, b in zip(read, truth, strict=True) if a == b)
    return {
        "char_accuracy": right / total if total else 0.0,
        "exact_match": exact / len(truth) if truth else 0.0,
    }
