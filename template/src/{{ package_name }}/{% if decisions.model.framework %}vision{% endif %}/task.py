"""The task protocol: what every vision task module (detection.py, classification.py, segmentation.py)
defines, and the one place that picks the module for a project.

    task = task_module(settings)           # the module of vision.task, typed as VisionTask
    model = task.build_model(settings)
    found = task.postprocess([out[0] for out in outputs], orig_hw, settings)

A project holds only its own task's module (the template renders one). The generic layers (train,
export, precision, steps, monitoring, serving, edge, batch) call the names below and never branch on
the task's name, so a fourth task is one more module, not edits all over the package.

Task modules import only numpy, Pillow and the standard library at module level: the Triton python
steps import `postprocess`/`served` from them and must not pay for torch at import.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from torch import Tensor, nn

    from .images import Annotation
    from .settings import VisionSettings

AnyPrediction = Any  # each task's own frozen dataclass (detection.Detections, ...): one image's result


class Baseline(Protocol):
    """What a model that never looked at pixels predicts: the promotion gate needs the model to beat it."""

    def predict(self, size: tuple[int, int]) -> AnyPrediction:
        """The prediction for any image of (height, width) `size`."""
        ...


class BaselineFactory(Protocol):
    def fit(self, truths: Sequence[AnyPrediction], sizes: Sequence[tuple[int, int]], num_classes: int) -> Baseline:
        """From the training images' ground truth (task.truth) and their (height, width)."""
        ...


class VisionTask(Protocol):
    """The names a task module defines at module level. Predictions and ground truth share one type
    (`Prediction`), in the ORIGINAL image's pixels. The ONNX model step's input is always `images`,
    FP32 [B, 3, S, S] RGB in 0..1 (normalisation happens inside the model)."""

    METRIC: str  # the primary metric's key in MLflow: map50 | accuracy | miou
    METRIC_LABEL: str  # the same for people: mAP@0.5 | accuracy | mean IoU
    MIN_METRIC: float  # the promotion gate's absolute floor, besides beating the baseline
    OUTPUTS: tuple[str, ...]  # the ONNX model step's output names, in order
    # The served outputs after postprocess: name -> (Triton data type such as TYPE_FP32, dims without batch)
    SERVED: dict[str, tuple[str, list[int]]]
    # state_dict key prefixes allowed to stay fresh when a checkpoint has another number of classes
    HEAD_PREFIXES: tuple[str, ...]
    # settings changed for evaluation (detection: a low score threshold, since mAP ranks every box)
    EVAL_OVERRIDES: Mapping[str, Any]
    # per OUTPUT: the ONNX-vs-PyTorch absolute tolerance of the export check
    EXPORT_ATOL: Mapping[str, float]
    # prediction statistics columns before the per-class share_<class> columns
    PREDICTION_STATS: tuple[str, ...]
    # the op types INT8 quantizes (precision.quantize_int8): None for every op onnxruntime can
    INT8_OP_TYPES: tuple[str, ...] | None
    Prediction: type[Any]
    Baseline: BaselineFactory

    def output_dims(self, settings: VisionSettings) -> dict[str, list[int]]:
        """Per OUTPUT, dims without the batch axis (-1 where variable): Triton configs, ONNX checks."""
        ...

    def truth(self, annotation: Annotation, orig_hw: tuple[int, int]) -> AnyPrediction:
        """An image's ground truth in the prediction's shape (original pixels)."""
        ...

    def objects(self, prediction: AnyPrediction, orig_hw: tuple[int, int]) -> Annotation:
        """What a prediction found, as an Annotation in original pixels: a served image's objects
        and mean box area for its image statistics (images.image_statistics)."""
        ...

    def build_model(self, settings: VisionSettings, *, load_weights: bool = True) -> nn.Module:
        """The torchvision model for settings.classes at settings.image_size, in train mode, with
        settings.weights loaded (model.load_checkpoint) when `load_weights`."""
        ...

    def export_module(self, model: nn.Module, settings: VisionSettings) -> nn.Module:
        """The served model step in eval mode: [B, 3, S, S] RGB 0..1 -> OUTPUTS."""
        ...

    def training_loss(
        self, model: nn.Module, pixels: Tensor, annotations: Sequence[Annotation], settings: VisionSettings
    ) -> Tensor:
        """The loss of one batch (model in train mode; annotations scaled to S px, flipped with the pixels)."""
        ...

    def postprocess(
        self, outputs: Sequence[npt.NDArray[Any]], orig_hw: tuple[int, int], settings: VisionSettings
    ) -> AnyPrediction:
        """ONE image's slice of each OUTPUT (OUTPUTS order) -> its Prediction in original pixels."""
        ...

    def served(self, prediction: AnyPrediction) -> dict[str, npt.NDArray[Any]]:
        """The SERVED arrays of one image (what the Triton postprocess step returns)."""
        ...

    def from_served(self, arrays: Mapping[str, npt.NDArray[Any]]) -> AnyPrediction:
        """The client side of `served`."""
        ...

    def score(self, predictions: Sequence[AnyPrediction], truths: Sequence[AnyPrediction]) -> float:
        """The primary metric (METRIC) over images."""
        ...

    def prediction_statistics(self, prediction: AnyPrediction, classes: Sequence[str]) -> dict[str, float]:
        """PREDICTION_STATS then share_<class> per class: the same keys every call."""
        ...

    def same(self, served: AnyPrediction, expected: AnyPrediction) -> bool:
        """Served (Triton) vs in-process parity, with the slack of a different batching."""
        ...


def task_module(settings: VisionSettings) -> VisionTask:
    """The module of settings.task (vision.task in platform.yaml)."""
    from .settings import VisionConfigError

    try:
        module = importlib.import_module(f".{settings.task}", __package__)
    except ModuleNotFoundError as error:
        if error.name != f"{__package__}.{settings.task}":
            raise  # the module exists but something it imports does not
        raise VisionConfigError(
            f"vision.task is {settings.task!r} but this project has no vision/{settings.task}.py; "
            "vision.task is fixed when the project is generated (re-run copier to change the use case)"
        ) from error
    return cast("VisionTask", module)


def stack_outputs(outputs: Any) -> list[npt.NDArray[Any]]:
    """A model step's outputs as a list of arrays in OUTPUTS order (one output comes back bare)."""
    items = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [np.asarray(item.detach().numpy() if hasattr(item, "detach") else item) for item in items]
