"""The project family's model and its ONNX export: what every family shares.

The family's estimator lives in training/families/<family>.py (rendered for this project's family
only): DEFAULT_PARAMS (platform.yaml training.model_params overrides single keys), SMOKE_MODEL (what
`make train` trains), build(contract, params, seed) and to_onnx(model, contract). This module finds
it by the family's name and adds what every family shares: fitting, the served scores, the ONNX
output's shape and the check that ONNX Runtime gives what the model gives.

Every export has ONE input `features` (FP32 [None, n_features], contract.yaml order) and ONE
output `scores` (FP32 [None, n_classes] class probabilities, or [None, 1] for regression).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper

from ..contract import project_family
from .errors import TrainingError
from .settings import FamilyContract

INPUT_NAME = "features"
OUTPUT_NAME = "scores"
ONNX_OPSET = 15
ONNX_ML_OPSET = 3


def family_module(family: str) -> ModuleType:
    """training/families/<family>.py; TrainingError naming the rendered family when it is missing."""
    name = f"{__package__}.families.{family}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as missing:
        if missing.name != name:
            raise
        raise TrainingError(
            f"no model for family '{family}': training/families/ holds the model of family "
            f"'{project_family().name}' only, the family this project was rendered for"
        ) from missing


def model_params(family: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The family's defaults with `overrides` applied."""
    return {**family_module(family).DEFAULT_PARAMS, **(overrides or {})}


def smoke_model(family: str) -> str:
    """What `make train` trains for the family (logged with the run)."""
    return str(family_module(family).SMOKE_MODEL)


def build_estimator(contract: FamilyContract, params: dict[str, Any], *, seed: int) -> Any:
    """An unfitted estimator for the family; TrainingError on an unknown hyper-parameter."""
    module = family_module(contract.family)
    try:
        return module.build(contract, dict(params), seed=seed)
    except TypeError as error:
        raise TrainingError(f"training.model_params for family '{contract.family}': {error}") from error


def fit(estimator: Any, x: npt.NDArray[np.float32], y: npt.NDArray[Any]) -> Any:
    """Fit; hyper-parameter errors from the library become a TrainingError."""
    try:
        return estimator.fit(x, y)
    except (TypeError, ValueError) as error:
        raise TrainingError(f"training failed: {error}") from error


def predict_scores(model: Any, x: npt.NDArray[np.float32], contract: FamilyContract) -> npt.NDArray[np.float32]:
    """What serving returns: class probabilities [n, n_classes] or the prediction [n, 1]."""
    if contract.is_classifier:
        proba = np.asarray(model.predict_proba(x), dtype=np.float32)
        return _full_width(proba, model, contract)
    return np.asarray(model.predict(x), dtype=np.float32).reshape(-1, 1)


def _full_width(proba: npt.NDArray[np.float32], model: Any, contract: FamilyContract) -> npt.NDArray[np.float32]:
    """Probabilities for every class of the contract, also when training saw only some of them."""
    classes = [int(c) for c in getattr(model, "classes_", range(proba.shape[1]))]
    if len(classes) == contract.n_outputs and classes == list(range(contract.n_outputs)):
        return proba
    full = np.zeros((proba.shape[0], contract.n_outputs), dtype=np.float32)
    full[:, classes] = proba
    return full


# ------------------------------------------------------------------------------------------ ONNX


def single_output(model: onnx.ModelProto, source: str, width: int) -> onnx.ModelProto:
    """Keep only `source` as the graph output, renamed `scores` [None, width]; drop unused nodes."""
    graph = model.graph
    graph.node.append(helper.make_node("Identity", [source], [OUTPUT_NAME], name="scores_identity"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, width]))
    needed = {OUTPUT_NAME}
    kept = []
    for item in reversed(list(graph.node)):
        if any(name in needed for name in item.output):
            kept.append(item)
            needed.update(item.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(used)
    return model


def scores_output(model: onnx.ModelProto, contract: FamilyContract) -> str:
    """The converter's probabilities output (classifiers) or its prediction output (regressors)."""
    names = [str(output.name) for output in model.graph.output]
    if contract.is_classifier:
        for name in names:
            if "prob" in name:
                return name
        raise TrainingError(f"the ONNX converter produced no probabilities output (outputs: {names})")
    return names[0]


def to_onnx(model: Any, contract: FamilyContract) -> onnx.ModelProto:
    """The fitted model as ONNX: input `features` FP32 [None, n], output `scores` (see module doc)."""
    exported: onnx.ModelProto = family_module(contract.family).to_onnx(model, contract)
    onnx.checker.check_model(exported)
    return exported


def onnx_scores(model_bytes: bytes, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Run an exported model the way Triton's ONNX runtime does: `features` in, `scores` out."""
    import onnxruntime  # type: ignore[import-untyped]

    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    (scores,) = session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})
    return np.asarray(scores, dtype=np.float32)
