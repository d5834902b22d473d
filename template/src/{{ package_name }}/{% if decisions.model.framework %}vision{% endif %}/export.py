"""ONNX export of the model step (the task's export_module), checked against PyTorch before it is kept.

    info = export_onnx(model, settings, out_dir / "model_fp32.onnx", sample)   # raises ExportError on mismatch

The file has a dynamic batch axis (input `images` [B, 3, S, S]; outputs: the task's OUTPUTS) and a
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

from .inference import INPUT
from .model import export_module
from .settings import VisionSettings
from .task import stack_outputs, task_module

OPSET = 17
# FP32 onnxruntime vs PyTorch: kernels differ in summation order. ATOL holds for probabilities; an
# output in pixels has its own (task.EXPORT_ATOL).
ATOL = 1e-3
RTOL = 1e-3


class ExportError(RuntimeError):
    """The exported graph disagrees with PyTorch (or cannot be exported)."""


@dataclass(frozen=True)
class ExportInfo:
    path: str
    opset: int
    image_size: int
    classes: list[str]
    inputs: dict[str, list[int | str]]
    outputs: dict[str, list[int | str]]
    checked_batches: list[int]
    max_abs_error: dict[str, float]
    atol: dict[str, float]
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
    default: random pixels); raise ExportError beyond task.EXPORT_ATOL (default ATOL) / RTOL."""
    import onnxruntime  # type: ignore[import-untyped]

    task = task_module(settings)
    outputs = list(task.OUTPUTS)
    atol = {name: float(task.EXPORT_ATOL.get(name, ATOL)) for name in outputs}
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
                output_names=outputs,
                dynamic_axes={INPUT: {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
                opset_version=OPSET,
                dynamo=False,
            )
        except Exception as error:  # the exporter raises many types; name the model and the cause
            raise ExportError(
                f"ONNX export of {settings.architecture} failed: {type(error).__name__}: {error}"
            ) from error

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    errors = {name: 0.0 for name in outputs}
    shapes: dict[str, list[int | str]] = {}
    for batch in check_batches:
        pixels = np.ascontiguousarray(sample[:batch], dtype=np.float32)
        with torch.no_grad():
            expected = stack_outputs(wrapper(torch.from_numpy(pixels)))
        got = session.run(outputs, {INPUT: pixels})
        for name, want, have in zip(outputs, expected, got, strict=True):
            if want.shape != have.shape:
                raise ExportError(
                    f"ONNX {name} has shape {list(have.shape)}, PyTorch {list(want.shape)} (batch {batch})"
                )
            errors[name] = max(errors[name], float(np.max(np.abs(want - have))) if want.size else 0.0)
            if not np.allclose(have, want, atol=atol[name], rtol=RTOL):
                raise ExportError(
                    f"ONNX {name} differs from PyTorch by up to {errors[name]:.2e} on a batch of {batch} "
                    f"(atol {atol[name]}, rtol {RTOL}); the export is not kept"
                )
            shapes[name] = ["batch", *(int(dim) for dim in want.shape[1:])]
    info = ExportInfo(
        path=path.name,
        opset=OPSET,
        image_size=size,
        classes=list(settings.classes),
        inputs={INPUT: ["batch", 3, size, size]},
        outputs=shapes,
        checked_batches=list(check_batches),
        max_abs_error=errors,
        atol=atol,
        rtol=RTOL,
    )
    io_path(path).write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    return info
