"""The model contract of every vision task, shared by training, serving, precision checks and monitoring.

    pixels, orig_hw = preprocess(jpeg_bytes, settings.image_size)   # FP32 [3, S, S], RGB 0..1
    outputs = <the ONNX model step>(pixels[None])                    # task.OUTPUTS, batch first
    found = task.postprocess([out[0] for out in outputs], orig_hw, settings)

Images are resized to the square input without keeping the aspect ratio (what the model was trained
on); the task's postprocess maps results back to the original pixels. OnnxPredictor runs an exported
model step in process with onnxruntime, for any task and precision.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

if TYPE_CHECKING:
    from .settings import VisionSettings

ImageInput = bytes | Image.Image | npt.NDArray[np.uint8]  # encoded bytes, a Pillow image, or HxWx3 RGB uint8
INPUT = "images"
MAX_BATCH = 32  # images per onnxruntime call (the served model step's largest batch)


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


def batches(items: Sequence[Any], size: int = MAX_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OnnxPredictor:
    """In-process inference on an exported model step (any task, any precision) with onnxruntime on
    the CPU: preprocess, the model step, the task's postprocess."""

    def __init__(self, path: Path | str, settings: VisionSettings, *, providers: Sequence[str] | None = None) -> None:
        import onnxruntime  # type: ignore[import-untyped]

        from .task import task_module

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model {self.path} does not exist; run `make train` to export one")
        self.settings = settings
        self.task = task_module(settings)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # keep onnxruntime's per-node warnings out of the console
        self.session = onnxruntime.InferenceSession(
            str(self.path), options, providers=list(providers or ["CPUExecutionProvider"])
        )

    def raw(self, pixels: npt.NDArray[np.float32]) -> list[npt.NDArray[Any]]:
        """The model step alone: FP32 [B, 3, S, S] -> the task's OUTPUTS, in that order, batch first."""
        outputs = self.session.run(list(self.task.OUTPUTS), {INPUT: np.ascontiguousarray(pixels, dtype=np.float32)})
        return [np.asarray(output) for output in outputs]

    def predict(self, images: Sequence[ImageInput]) -> list[Any]:
        """The task's Prediction per image (encoded bytes, Pillow images or HxWx3 RGB arrays), in
        batches of MAX_BATCH."""
        size = self.settings.image_size
        found: list[Any] = []
        for chunk in batches(list(images)):
            prepared = [preprocess(image, size) for image in chunk]
            outputs = self.raw(np.stack([pixels for pixels, _ in prepared]))
            for index, (_, orig_hw) in enumerate(prepared):
                found.append(self.task.postprocess([output[index] for output in outputs], orig_hw, self.settings))
        return found


OnnxDetector = OnnxPredictor  # the name before classification and segmentation
