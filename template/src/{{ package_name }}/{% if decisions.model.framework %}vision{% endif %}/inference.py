"""The detection model's contract, shared by training, serving, precision checks and the stream.

    pixels, orig_hw = preprocess(jpeg_bytes, settings.image_size)   # FP32 [3, S, S], RGB 0..1
    boxes, scores = <the ONNX model step>(pixels[None])              # [B, A, 4] xyxy in S px, [B, A, C]
    found = postprocess(boxes[0], scores[0], orig_hw, settings.image_size, score_threshold=..., ...)

Images are resized to the square input without keeping the aspect ratio (what the model was trained
on), so boxes scale back per axis. NMS is torchvision's batched_nms (class-wise, maintained).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

if TYPE_CHECKING:
    from .settings import VisionSettings

ImageInput = bytes | Image.Image | npt.NDArray[np.uint8]  # encoded bytes, a Pillow image, or HxWx3 RGB uint8
INPUT = "images"
OUTPUTS = ("boxes", "scores")
MAX_BATCH = 32  # images per onnxruntime call (the served model step's largest batch)


def _empty_boxes() -> npt.NDArray[np.float32]:
    return np.zeros((0, 4), dtype=np.float32)


@dataclass(frozen=True)
class Detections:
    """One image's detections: xyxy boxes in the original image's pixels, scores, 0-based class indices
    into VisionSettings.classes. Also the shape of ground truth (scores all 1)."""

    boxes: npt.NDArray[np.float32] = field(default_factory=_empty_boxes)
    scores: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    classes: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        if not len(boxes) == len(scores) == len(classes):
            raise ValueError(f"Detections: {len(boxes)} boxes, {len(scores)} scores, {len(classes)} classes differ")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "classes", classes)

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def truth(cls, boxes: Any, classes: Any) -> Detections:
        """Ground truth as Detections (score 1 each)."""
        classes_ = np.asarray(classes, dtype=np.int64).reshape(-1)
        return cls(np.asarray(boxes, dtype=np.float32), np.ones(len(classes_), dtype=np.float32), classes_)

    def to_dict(self, classes: Sequence[str] | None = None) -> dict[str, Any]:
        """JSON-ready: lists of boxes/scores/classes (and class names when `classes` is given)."""
        out: dict[str, Any] = {
            "boxes": self.boxes.round(2).tolist(),
            "scores": self.scores.round(4).tolist(),
            "classes": self.classes.tolist(),
        }
        if classes is not None:
            out["labels"] = [classes[index] for index in self.classes.tolist()]
        return out


def to_rgb(image: ImageInput) -> Image.Image:
    """A Pillow RGB image from encoded bytes, a Pillow image or an HxWx3 uint8 array."""
    if isinstance(image, bytes | bytearray | memoryview):
        decoded = Image.open(io.BytesIO(bytes(image)))
        decoded.load()
        return decoded.convert("RGB")
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {list(array.shape)}")
    return Image.fromarray(array.astype(np.uint8, copy=False), mode="RGB")


def preprocess(image: ImageInput, size: int) -> tuple[npt.NDArray[np.float32], tuple[int, int]]:
    """FP32 [3, size, size] RGB in 0..1 (normalisation happens inside the model), and (orig_h, orig_w)."""
    rgb = to_rgb(image)
    width, height = rgb.size
    resized = rgb.resize((size, size), Image.Resampling.BILINEAR) if rgb.size != (size, size) else rgb
    pixels = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1) / np.float32(255.0)
    return np.ascontiguousarray(pixels), (height, width)


def postprocess(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    orig_hw: tuple[int, int],
    size: int,
    *,
    score_threshold: float,
    iou_threshold: float,
    max_detections: int,
) -> Detections:
    """One image's model outputs ([A, 4] xyxy in the SxS input, [A, C] class probabilities) to
    Detections in original pixels: per-(anchor, class) candidates above the threshold, class-wise NMS,
    the best `max_detections`."""
    import torch
    from torchvision.ops import batched_nms, clip_boxes_to_image  # type: ignore[import-untyped]

    box_array = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    score_array = np.asarray(scores, dtype=np.float32)
    score_array = score_array.reshape(len(box_array), -1)
    anchor_index, class_index = np.nonzero(score_array > score_threshold)
    if len(anchor_index) == 0:
        return Detections()
    candidate_boxes = torch.from_numpy(box_array[anchor_index])
    candidate_scores = torch.from_numpy(score_array[anchor_index, class_index])
    candidate_classes = torch.from_numpy(class_index.astype(np.int64))
    keep = batched_nms(candidate_boxes, candidate_scores, candidate_classes, iou_threshold)[:max_detections]
    orig_h, orig_w = orig_hw
    scale = torch.tensor([orig_w / size, orig_h / size, orig_w / size, orig_h / size], dtype=torch.float32)
    kept = clip_boxes_to_image(candidate_boxes[keep] * scale, (orig_h, orig_w))
    return Detections(kept.numpy(), candidate_scores[keep].numpy(), candidate_classes[keep].numpy())


def batches(items: Sequence[Any], size: int = MAX_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OnnxDetector:
    """In-process inference on an exported model step (any precision) with onnxruntime on the CPU."""

    def __init__(self, path: Path | str, settings: VisionSettings, *, providers: Sequence[str] | None = None) -> None:
        import onnxruntime  # type: ignore[import-untyped]

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model {self.path} does not exist; run `make train` to export one")
        self.settings = settings
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # keep onnxruntime's per-node warnings out of the console
        self.session = onnxruntime.InferenceSession(
            str(self.path), options, providers=list(providers or ["CPUExecutionProvider"])
        )

    def raw(self, pixels: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The model step alone: FP32 [B, 3, S, S] -> boxes [B, A, 4], scores [B, A, C]."""
        boxes, scores = self.session.run(list(OUTPUTS), {INPUT: np.ascontiguousarray(pixels, dtype=np.float32)})
        return np.asarray(boxes, dtype=np.float32), np.asarray(scores, dtype=np.float32)

    def predict(self, images: Sequence[ImageInput]) -> list[Detections]:
        """Detections per image (encoded bytes, Pillow images or HxWx3 RGB arrays), in batches of 32."""
        size = self.settings.image_size
        found: list[Detections] = []
        for chunk in batches(list(images)):
            prepared = [preprocess(image, size) for image in chunk]
            boxes, scores = self.raw(np.stack([pixels for pixels, _ in prepared]))
            for index, (_, orig_hw) in enumerate(prepared):
                found.append(
                    postprocess(
                        boxes[index],
                        scores[index],
                        orig_hw,
                        size,
                        score_threshold=self.settings.score_threshold,
                        iou_threshold=self.settings.iou_threshold,
                        max_detections=self.settings.max_detections,
                    )
                )
        return found
