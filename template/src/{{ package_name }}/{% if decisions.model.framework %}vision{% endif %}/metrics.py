"""Detection metrics: mAP@0.5 (torchmetrics on faster-coco-eval) and the baseline the gate compares with.

The baseline is a "prior box" detector that has looked at the training set only: for every class it
predicts the class's mean box (relative to the image size) with the class's frequency as the score.
A trained model must beat it to be promoted; one that merely learned where objects usually are does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .inference import Detections

IOU_THRESHOLD = 0.5


def detection_map50(predictions: Sequence[Detections], truths: Sequence[Detections]) -> float:
    """COCO mean average precision at IoU 0.5 over all classes present (boxes xyxy in the same pixels)."""
    import torch
    from torchmetrics.detection import MeanAveragePrecision

    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} predictions for {len(truths)} images")
    metric = MeanAveragePrecision(box_format="xyxy", iou_thresholds=[IOU_THRESHOLD], backend="faster_coco_eval")
    metric.update(
        [
            {
                "boxes": torch.from_numpy(found.boxes),
                "scores": torch.from_numpy(found.scores),
                "labels": torch.from_numpy(found.classes),
            }
            for found in predictions
        ],
        [{"boxes": torch.from_numpy(truth.boxes), "labels": torch.from_numpy(truth.classes)} for truth in truths],
    )
    value = float(metric.compute()["map_50"])
    return max(value, 0.0)  # torchmetrics reports -1 when no image has a ground-truth box


@dataclass(frozen=True)
class PriorBoxBaseline:
    """Per class: the mean box as fractions of the image (x1, y1, x2, y2) and the class frequency."""

    boxes: npt.NDArray[np.float32]  # [C, 4] relative xyxy
    frequency: npt.NDArray[np.float32]  # [C] share of training objects of each class

    @classmethod
    def fit(cls, truths: Sequence[Detections], sizes: Sequence[tuple[int, int]], num_classes: int) -> PriorBoxBaseline:
        """From the training images' ground truth and their (height, width)."""
        boxes = np.zeros((num_classes, 4), dtype=np.float64)
        counts = np.zeros(num_classes, dtype=np.float64)
        for truth, (height, width) in zip(truths, sizes, strict=True):
            scale = np.array([width, height, width, height], dtype=np.float64)
            for box, label in zip(truth.boxes, truth.classes, strict=True):
                boxes[label] += box / scale
                counts[label] += 1
        seen = counts > 0
        boxes[seen] /= counts[seen, None]
        frequency = counts / max(counts.sum(), 1.0)
        return cls(boxes.astype(np.float32), frequency.astype(np.float32))

    def predict(self, size: tuple[int, int]) -> Detections:
        """The same boxes for every image of (height, width) `size`: one per class seen in training."""
        height, width = size
        seen = np.nonzero(self.frequency > 0)[0]
        scale = np.array([width, height, width, height], dtype=np.float32)
        return Detections(self.boxes[seen] * scale, self.frequency[seen], seen.astype(np.int64))
