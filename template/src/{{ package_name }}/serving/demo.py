"""A small stand-in champion for this project's feature contract (smoke runs, tests, benchmarks).

`register_demo_champion()` trains a gradient-boosted tree on random rows shaped like the family's
features, logs it to MLflow (sklearn flavour, pyfunc predicting scores) with the ONNX export the
serving contract expects (`onnx/model.onnx`: input `features` FP32 [None, n], output `scores`),
registers it and points the `champion` alias at it. The training layer's real champion follows
the same contract, so everything built on this one works on that one. `with_run` adds to the
logged run (a use case's production head: tasks/training.py `log_demo_head`).
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import local_path, use_mlflow
from ..contract import Family
from ..training.tracking import experiment_id
from .model_config import INPUT_NAME, OUTPUT_NAME


def demo_data(contract: Family, rows: int = 2000, seed: int = 0) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, contract.n_features)).astype(np.float32)
    signal = features[:, : min(3, contract.n_features)].sum(axis=1)
    if contract.task == "regression":
        return features, signal + rng.normal(scale=0.1, size=rows)
    n_classes = max(2, len(contract.classes))
    edges = np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1])
    return features, np.digitize(signal, edges)


def train_demo_model(contract: Family, seed: int = 0, *, rows: int = 2000, n_estimators: int = 40) -> Any:
    ensemble = importlib.import_module("sklearn.ensemble")
    features, labels = demo_data(contract, rows=rows, seed=seed)
    frame = importlib.import_module("pandas").DataFrame(features, columns=list(contract.features))
    kind = "GradientBoostingRegressor" if contract.task == "regression" else "GradientBoostingClassifier"
    model = getattr(ensemble, kind)(n_estimators=n_estimators, max_depth=3, random_state=seed)
    return model.fit(frame, labels)


def export_onnx(model: Any, n_features: int, path: Path) -> Path:
    """ONNX with the serving contract's names: input `features`, output `scores` (probabilities or values)."""
    skl2onnx = importlib.import_module("skl2onnx")
    data_types = importlib.import_module("skl2onnx.common.data_types")
    onnx = importlib.import_module("onnx")
    initial = [(INPUT_NAME, data_types.FloatTensorType([None, n_features]))]
    options = {id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None
    proto = skl2onnx.convert_sklearn(
        model, initial_types=initial, options=options, target_opset={"": 17, "ai.onnx.ml": 3}
    )
    graph = proto.graph
    keep = "probabilities" if hasattr(model, "predict_proba") else graph.output[0].name
    for node in graph.node:
        node.output[:] = [OUTPUT_NAME if name == keep else name for name in node.output]
    outputs = [value for value in graph.output if value.name == keep]
    del graph.output[:]
    for value in outputs:
        value.name = OUTPUT_NAME
        graph.output.append(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))
    return path


def model_scores(model: Any, rows: Any) -> np.ndarray[Any, Any]:
    """The model's own scores (what Triton must return): probabilities, or values as [n, 1]."""
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(rows), dtype=np.float64)
    return np.asarray(model.predict(rows), dtype=np.float64).reshape(-1, 1)


def register_demo_champion(
    contract: Family,
    name: str,
    *,
    tracking_uri: str | None = None,
    seed: int = 0,
    with_run: Callable[[Any, Path], None] | None = None,
) -> str:
    """Train, log and register the demo model; returns `models:/<name>@champion`."""
    import mlflow
    from mlflow import MlflowClient

    if tracking_uri:
        use_mlflow(tracking_uri)
    model = train_demo_model(contract, seed=seed)
    frame = importlib.import_module("pandas").DataFrame(demo_data(contract, rows=5)[0], columns=list(contract.features))
    experiment = experiment_id(f"{name}-serving-demo", mlflow.get_tracking_uri(), local_path("mlflow_artifact_root"))
    with mlflow.start_run(experiment_id=experiment) as run, tempfile.TemporaryDirectory() as scratch:
        predict_fn = "predict_proba" if hasattr(model, "predict_proba") else "predict"
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=frame,
            pyfunc_predict_fn=predict_fn,
            skops_trusted_types=["sklearn.tree._tree.Tree"],
            pip_requirements=["scikit-learn", "pandas"],
        )
        onnx_path = export_onnx(model, contract.n_features, Path(scratch) / "model.onnx")
        mlflow.log_artifact(str(onnx_path), artifact_path="onnx")
        if with_run is not None:
            with_run(model, Path(scratch))  # inside the run: more artifacts (the demo model, a scratch folder)
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    MlflowClient().set_registered_model_alias(name, "champion", version.version)
    return f"models:/{name}@champion"
