"""What the drift job compares for images: image statistics and prediction statistics per image.

Each served image becomes one row of the inference log: the statistics Feast stores for training
images (images.image_statistics: size, brightness, contrast, sharpness; objects and mean box area
from the detections, since a served image has no ground truth) plus the prediction statistics
below (detections, mean and max confidence, the share of each class). contract.yaml lists the
prediction columns under `prediction_stats`, so the drift job computes PSI on both kinds; the
champion's reference holds the same columns for its evaluation images, measured on the served model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .images import STATISTICS, Annotation, ImageSource, image_statistics
from .inference import Detections

PREDICTION_STATS = ("detections", "score_mean", "score_max")


def prediction_columns(classes: Sequence[str]) -> tuple[str, ...]:
    """The prediction statistics' column names: PREDICTION_STATS, then share_<class> per class."""
    return (*PREDICTION_STATS, *(f"share_{name}" for name in classes))


def prediction_statistics(detections: Detections, classes: Sequence[str]) -> dict[str, float]:
    """How many objects the model found in one image, how sure it was, and of which classes."""
    count = len(detections)
    scores = detections.scores
    shares = np.bincount(detections.classes, minlength=len(classes))[: len(classes)] / max(count, 1)
    return {
        "detections": float(count),
        "score_mean": float(scores.mean()) if count else 0.0,
        "score_max": float(scores.max()) if count else 0.0,
        **{f"share_{name}": float(share) for name, share in zip(classes, shares, strict=True)},
    }


def monitoring_row(image: ImageSource, detections: Detections, classes: Sequence[str]) -> dict[str, float]:
    """One served image's row: its statistics (objects from the detections) and its predictions'."""
    found = Annotation(detections.boxes, detections.classes)
    return {**image_statistics(image, found), **prediction_statistics(detections, classes)}


def monitoring_frame(
    images: Sequence[ImageSource], detections: Sequence[Detections], classes: Sequence[str]
) -> pd.DataFrame:
    """The rows of many served images (same order), with every column of contract + predictions."""
    if len(images) != len(detections):
        raise ValueError(f"{len(images)} images but {len(detections)} detection results")
    rows: list[dict[str, Any]] = [
        monitoring_row(image, found, classes) for image, found in zip(images, detections, strict=True)
    ]
    return pd.DataFrame(rows, columns=[*STATISTICS, *prediction_columns(classes)]).astype("float64")
