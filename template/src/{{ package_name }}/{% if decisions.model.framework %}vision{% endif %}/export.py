"""ONNX export of the model step (ExportWrapper), checked against PyTorch before it is kept.

    info = export_onnx(model, settings, out_dir / "model_fp32.onnx", sample)   # raises ExportError on mismatch

The file has a dynamic batch axis (input `images` [B, 3, S, S]; outputs `boxes`, `scores`) and a
small JSON beside it (`<name>.json`) describing its I/O, opset and the parity check.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from .inference import INPUT, OUTPUTS
from .model import export_module
from .settings import VisionSettings

OPSET = 17
# FP32 onnxruntime vs PyTorch: kernels differ in summation order. Scores are probabilities; boxes
# are pixels of the input side, decoded through exp() of the regression, which amplifies the
# rounding of untrained (or barely trained) weights: 1/20 of a pixel moves no detection.
ATOL = 1e-3
RTOL = 1e-3
OUTPUT_ATOL = {"boxes": 0.05, "scores": ATOL}


class ExportError(RuntimeError):
    """The exported graph disagrees with PyTorch (or cannot be exported)."""


@dataclass(frozen=True)
class ExportInfo:
    path: str
    opset: int
    image_size: int
    classes: list[str]
    anchors: int
    inputs: dict[str, list[int | str]]
    outputs: dict[str, list[int | str]]
    checked_batches: list[int]
    max_abs_error: dict[str, float]
    atol: float
    rtol: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def io_path(onnx_path: Path) -> Path:
    """The JSON that describes an exported model's I/O, next to it."""
    return onnx_path.with_suffix(".json")


def export_onnx(
    model: nn.Module,
    settings: VisionSettings,
    path: Path,
    sample: npt.NDArray[np.float32] | None = None,
    *,
    check_batches: tuple[int, ...] = (1, 3),
) -> ExportInfo:
    """Export `model`'s wrapper to `path` (opset 17, dynamic batch) and check onnxruntime's outputs
    against the wrapper's on batches of `check_batches` images taken from `sample` ([N, 3, S, S],
    default: random pixels); raise ExportError beyond OUTPUT_ATOL/RTOL."""
    import onnxruntime  # type: ignore[import-untyped]

    size = settings.image_size
    wrapper = export_module(model, settings)
    largest = max(check_batches)
    if sample is None or len(sample) == 0:
        sample = np.random.default_rng(settings.seed).random((largest, 3, size, size), dtype=np.float32)
    while len(sample) < largest:
        sample = np.concatenate([sample, sample])
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(np.ascontiguousarray(sample[:1], dtype=np.float32))
    with warnings.catch_warnings():
        # The TorchScript exporter (onnxscript, needed by the dynamo one, is not a dependency) warns that it
        # is the legacy path, and tracing warns about Python ints in the anchor decode: both expected.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                wrapper,
                (example,),
                str(path),
                input_names=[INPUT],
                output_names=list(OUTPUTS),
                dynamic_axes={INPUT: {0: "batch"}, OUTPUTS[0]: {0: "batch"}, OUTPUTS[1]: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        except Exception as error:  # the exporter raises many types; name the model and the cause
            raise ExportError(
                f"ONNX export of {settings.architecture} failed: {type(error).__name__}: {error}"
            ) from error

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    errors = {name: 0.0 for name in OUTPUTS}
    anchors = 0
    for batch in check_batches:
        pixels = np.ascontiguousarray(sample[:batch], dtype=np.float32)
        with torch.no_grad():
            expected = [tensor.numpy() for tensor in wrapper(torch.from_numpy(pixels))]
        got = session.run(list(OUTPUTS), {INPUT: pixels})
        for name, want, have in zip(OUTPUTS, expected, got, strict=True):
            if want.shape != have.shape:
                raise ExportError(
                    f"ONNX {name} has shape {list(have.shape)}, PyTorch {list(want.shape)} (batch {batch})"
                )
            errors[name] = max(errors[name], float(np.max(np.abs(want - have))) if want.size else 0.0)
            if not np.allclose(have, want, atol=OUTPUT_ATOL[name], rtol=RTOL):
                raise ExportError(
                    f"ONNX {name} differs from PyTorch by up to {errors[name]:.2e} on a batch of {batch} "
                    f"(atol {OUTPUT_ATOL[name]}, rtol {RTOL}); the export is not kept"
                )
        anchors = int(expected[0].shape[1])
    info = ExportInfo(
        path=path.name,
        opset=OPSET,
        image_size=size,
        classes=list(settings.classes),
        anchors=anchors,
        inputs={INPUT: ["batch", 3, size, size]},
        outputs={OUTPUTS[0]: ["batch", anchors, 4], OUTPUTS[1]: ["batch", anchors, settings.num_classes]},
        checked_batches=list(check_batches),
        max_abs_error=errors,
        atol=ATOL,
        rtol=RTOL,
    )
    io_path(path).write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    return info
