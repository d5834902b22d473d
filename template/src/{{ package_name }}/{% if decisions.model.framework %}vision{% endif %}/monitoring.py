"""What the drift job compares for images: image statistics and prediction statistics per image.

Each served image becomes one row of the inference log: the statistics Feast stores for training
images (images.image_statistics: size, brightness, contrast, sharpness; objects and mean box area
from what the model found, task.objects, since a served image has no ground truth) plus the task's
prediction statistics (task.PREDICTION_STATS, then the share of each class). contract.yaml lists the
prediction columns under `prediction_stats`, so the drift job computes PSI on both kinds; the
champion's reference holds the same columns for its evaluation images, measured on the served model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .images import STATISTICS, ImageSource, image_statistics, open_image
from .settings import VisionSettings
from .task import task_module


def prediction_columns(settings: VisionSettings) -> tuple[str, ...]:
    """The prediction statistics' column names: the task's PREDICTION_STATS, then share_<class> per class."""
    return (*task_module(settings).PREDICTION_STATS, *(f"share_{name}" for name in settings.classes))


def prediction_statistics(prediction: Any, settings: VisionSettings) -> dict[str, float]:
    """One image's prediction statistics (task.prediction_statistics), keyed like prediction_columns."""
    return task_module(settings).prediction_statistics(prediction, settings.classes)


def monitoring_row(image: ImageSource, prediction: Any, settings: VisionSettings) -> dict[str, float]:
    """One served image's row: its statistics (objects from the prediction) and its prediction's."""
    task = task_module(settings)
    opened = open_image(image)
    width, height = opened.size
    found = task.objects(prediction, (height, width))
    return {**image_statistics(opened, found), **task.prediction_statistics(prediction, settings.classes)}


def monitoring_frame(
    images: Sequence[ImageSource], predictions: Sequence[Any], settings: VisionSettings
) -> pd.DataFrame:
    """The rows of many served images (same order), with every column of contract + predictions."""
    if len(images) != len(predictions):
        raise ValueError(f"{len(images)} images but {len(predictions)} predictions")
    rows: list[dict[str, Any]] = [
        monitoring_row(image, found, settings) for image, found in zip(images, predictions, strict=True)
    ]
    return pd.DataFrame(rows, columns=[*STATISTICS, *prediction_columns(settings)]).astype("float64")
