"""The pipeline steps as plain functions over files and MLflow; the KFP components call these.

build_training_set -> train -> evaluate -> register -> promote. Each step checks its input first
and raises TrainingError with a clear message; a failed step stops the pipeline, so nothing is
registered or promoted after bad input.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import numpy.typing as npt
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from ..config import Platform
from ..tasks.contract import TASK_CONTRACT_ARTIFACT, TASK_PARAMS_ARTIFACT, load_params, save_params
from ..tasks.heads import TaskEvaluation, guarded_core
from . import evaluation, promotion
from .dataset import LABEL, TRAIN_FILE, TrainingSet, build_training_set, features_array, read_training_set
from .errors import TrainingError
from .registry import ONNX_ARTIFACT, REFERENCE_ARTIFACT
from .settings import TrainingSettings, load_settings
from .tracking import connect, experiment_id

MODEL_NAME = "model"
TRUSTED_PREFIXES = ("sklearn.", "lightgbm.", "numpy.", "scipy.", "collections.OrderedDict", "builtins.")
ONNX_TOLERANCE = 1e-3

# `.models` (scikit-learn, ~2.6 s to import) is imported inside the steps that fit or export, so
# the register step's process starts without it.
__all__ = ["build_training_set", "evaluate", "promote", "register", "train"]


def _experiment_id(settings: TrainingSettings, uri: str) -> str:
    return experiment_id(settings.experiment, uri, settings.artifact_root())


def _trusted_types(model: Any, package: str) -> list[str]:
    """Types skops must trust to load the model back: the libraries' and this package's models."""
    import skops.io  # type: ignore[import-untyped]

    untrusted = [str(name) for name in skops.io.get_untrusted_types(data=skops.io.dumps(model))]
    allowed = (*TRUSTED_PREFIXES, f"{package}.training.families.")
    unexpected = [name for name in untrusted if not name.startswith(allowed)]
    if unexpected:
        raise TrainingError(f"the model holds types outside the trusted libraries: {unexpected}")
    return untrusted


# ------------------------------------------------------------------------------------------ train


def _flat_params(settings: TrainingSettings, params: dict[str, Any], training_set: TrainingSet) -> dict[str, str]:
    from .models import smoke_model

    snapshot = training_set.snapshot
    flat = {
        "family": settings.family,
        "task": settings.contract.task,
        "smoke_model": settings.smoke_model,
        "model_class": smoke_model(settings.family),
        "production_model": settings.production_model,
        "features": json.dumps(list(settings.contract.features)),
        "n_features": str(len(settings.contract.features)),
        "classes": json.dumps(list(settings.contract.classes)),
        "primary_metric": settings.contract.primary_metric,
        "seed": str(settings.seed),
        "test_fraction": str(settings.test_fraction),
        "dataset.feature_service": str(snapshot.get("feature_service")),
        "dataset.source": str(snapshot.get("source")),
        "dataset.start": str(snapshot.get("start")),
        "dataset.end": str(snapshot.get("end")),
        "dataset.rows": str(snapshot.get("rows_used")),
        "dataset.train_rows": str(snapshot.get("train_rows")),
        "dataset.test_rows": str(snapshot.get("test_rows")),
        "dataset.split": str(snapshot.get("split")),
    }
    flat.update({f"model.{key}": json.dumps(value) for key, value in sorted(params.items())})
    return flat


def _log_dataset(training_set: TrainingSet, training_set_dir: Path) -> None:
    """The training set as an MLflow dataset input (schema, digest, row count, where it was written)."""
    try:
        dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
            training_set.train,
            source=str(training_set_dir / TRAIN_FILE),
            name=str(training_set.snapshot.get("feature_service")),
            targets=LABEL,
        )
    except MlflowException as error:  # an unresolvable source (e.g. a remote URI) only loses the UI entry
        mlflow.set_tag("dataset.input", f"not logged: {error}")
        return
    mlflow.log_input(dataset, context="training")


def train(
    training_set_dir: Path,
    *,
    tracking_uri: str | None = None,
    overrides: dict[str, Any] | None = None,
    platform_: Platform | None = None,
) -> str:
    """Train the family's smoke model in a new MLflow run; returns the run id.

    Logs params, the training-set snapshot reference, a reference sample of the training features
    (reference/features.parquet, the drift reference), and the model with signature and example.
    """
    from .models import build_estimator, fit, model_params, predict_scores

    settings = load_settings(platform_)
    uri, _ = connect(settings, tracking_uri)
    training_set = read_training_set(training_set_dir, settings.contract)
    params = model_params(settings.family, {**settings.model_params, **(overrides or {})})
    experiment_id = _experiment_id(settings, uri)
    contract = settings.contract
    x_train, y_train = training_set.x_train(), training_set.y_train()
    run_name = f"{settings.family}-{time.strftime('%Y%m%d-%H%M%S')}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.set_tags(
            {
                "pipeline": settings.pipeline_name,
                "family": settings.family,
                "smoke_model": settings.smoke_model,
                "registered_model_name": settings.registered_model_name,
            }
        )
        mlflow.log_params(_flat_params(settings, params, training_set))
        mlflow.log_dict(training_set.snapshot, "dataset/snapshot.json")
        mlflow.log_dict(contract.to_dict(), "contract.json")
        _log_dataset(training_set, training_set_dir)
        reference = training_set.train[list(contract.features)]
        if len(reference) > settings.reference_rows:
            reference = reference.sample(n=settings.reference_rows, random_state=settings.seed)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(REFERENCE_ARTIFACT).name
            reference.astype("float32").reset_index(drop=True).to_parquet(path, index=False)
            mlflow.log_artifact(str(path), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))

        started = time.perf_counter()
        model = fit(build_estimator(contract, params, seed=settings.seed), x_train, y_train)
        mlflow.log_metric("fit_seconds", time.perf_counter() - started)
        example = x_train[:5]
        signature = infer_signature(example, predict_scores(model, example, contract))
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_NAME,
            signature=signature,
            input_example=example,
            pyfunc_predict_fn="predict_proba" if contract.is_classifier else "predict",
            serialization_format="skops",
            skops_trusted_types=_trusted_types(model, settings.package),
        )
        mlflow.set_tag("model_uri", info.model_uri)
        if settings.production_contract is not None:
            _fit_task_head(settings, model, x_train, y_train)
        return str(run.info.run_id)


def _fit_task_head(
    settings: TrainingSettings, model: Any, x_train: npt.NDArray[np.float32], y_train: npt.NDArray[Any]
) -> None:
    """Fit the use case's head (decisions.task) on the training rows around the just-fitted core model;
    log its params and contract with the run, so serving builds the production model from them."""
    from .models import predict_scores

    task = settings.production_contract
    assert task is not None
    contract = settings.contract
    head = task.build_head(contract.classes)
    core = guarded_core(lambda rows: predict_scores(model, rows, contract), contract.n_outputs)
    started = time.perf_counter()
    try:
        params = head.fit(core, x_train, y_train.astype(np.int64), np.random.default_rng(settings.seed))
    except ValueError as error:
        raise TrainingError(f"the {task.use_case} head ({task.head}) could not be fitted: {error}") from error
    mlflow.log_metric("task.fit_seconds", time.perf_counter() - started)
    mlflow.log_params({"task.use_case": task.use_case, "task.head": task.head, "task.smoke": task.smoke[:500]})
    mlflow.set_tag("task.head", task.head)
    mlflow.log_dict(task.to_dict(), TASK_CONTRACT_ARTIFACT)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(TASK_PARAMS_ARTIFACT).name
        path.write_bytes(save_params(params))
        mlflow.log_artifact(str(path), artifact_path=str(Path(TASK_PARAMS_ARTIFACT).parent))


# ---------------------------------------------------------------------------------------- evaluate


def _model_uri(client: MlflowClient, run_id: str) -> str:
    return str(client.get_run(run_id).data.tags.get("model_uri") or f"runs:/{run_id}/{MODEL_NAME}")


def _served_scores(pyfunc: Any, x: npt.NDArray[np.float32], classifier: bool) -> npt.NDArray[np.float32]:
    """The logged pyfunc model's output, shaped like the served `scores`."""
    predicted = pyfunc.predict(x)
    scores = np.asarray(predicted, dtype=np.float32)
    return scores if classifier and scores.ndim == 2 else scores.reshape(len(x), -1)


def _evaluate_task_head(
    settings: TrainingSettings,
    client: MlflowClient,
    run_id: str,
    pyfunc: Any,
    x_test: npt.NDArray[np.float32],
    y_test: npt.NDArray[Any],
) -> TaskEvaluation:
    """The head's metrics on production-shaped requests built from the held-out rows."""
    task = settings.production_contract
    assert task is not None
    contract = settings.contract
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, TASK_PARAMS_ARTIFACT, tmp)
        except MlflowException as error:
            raise TrainingError(f"run {run_id} has no {TASK_PARAMS_ARTIFACT}; the train step fits the head") from error
        params = load_params(Path(path))
    head = task.build_head(contract.classes)
    core = guarded_core(lambda rows: _served_scores(pyfunc, rows, contract.is_classifier), contract.n_outputs)
    return head.evaluate(core, params, x_test, y_test.astype(np.int64), np.random.default_rng(settings.seed + 1))


def evaluate(
    training_set_dir: Path, run_id: str, *, tracking_uri: str | None = None, platform_: Platform | None = None
) -> dict[str, Any]:
    """Held-out metrics of the logged model and of the trivial baseline, and the quality gate."""
    settings = load_settings(platform_)
    _, client = connect(settings, tracking_uri)
    contract = settings.contract
    training_set = read_training_set(training_set_dir, contract)
    x_test, y_test = training_set.x_test(), training_set.y_test()
    pyfunc = mlflow.pyfunc.load_model(_model_uri(client, run_id))
    scores = _served_scores(pyfunc, x_test, contract.is_classifier)
    model_metrics = evaluation.score(contract, y_test, scores)
    baseline = evaluation.baseline_scores(contract, training_set.y_train(), len(y_test))
    baseline_metrics = evaluation.score(contract, y_test, baseline)
    task_result = None
    if settings.production_contract is not None:
        task_result = _evaluate_task_head(settings, client, run_id, pyfunc, x_test, y_test)
    result = evaluation.report(
        contract, settings.gate, model_metrics, baseline_metrics, training_set.snapshot, task=task_result
    )
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({name: value for name, value in model_metrics.items() if math.isfinite(value)})
        mlflow.log_metrics(
            {f"baseline_{name}": value for name, value in baseline_metrics.items() if math.isfinite(value)}
        )
        if task_result is not None:
            mlflow.log_metrics(evaluation.task_metrics(task_result))
        mlflow.log_dict(result, "evaluation/report.json")
        mlflow.log_text(evaluation.report_markdown(result), "evaluation/report.md")
        mlflow.set_tag("quality_gate", "passed" if result["quality_gate"]["passed"] else "failed")
    return result


# ---------------------------------------------------------------------------------------- register


def register(run_id: str, *, tracking_uri: str | None = None, platform_: Platform | None = None) -> str:
    """Register the run's model as a new version with the challenger alias; returns the version."""
    settings = load_settings(platform_)
    _, client = connect(settings, tracking_uri)
    run = client.get_run(run_id)
    if "quality_gate" not in run.data.tags:
        raise TrainingError(f"run {run_id} has no evaluation (quality_gate tag); evaluate before registering")
    name = settings.registered_model_name
    version = mlflow.register_model(
        _model_uri(client, run_id),
        name,
        tags={
            "family": settings.family,
            "smoke_model": settings.smoke_model,
            "quality_gate": run.data.tags["quality_gate"],
            settings.contract.primary_metric: str(run.data.metrics.get(settings.contract.primary_metric)),
            "run_id": run_id,
        },
    )
    client.set_registered_model_alias(name, settings.challenger_alias, version.version)
    client.set_tag(run_id, "registered_version", str(version.version))
    return str(version.version)


# ----------------------------------------------------------------------------------------- promote


@dataclass(frozen=True)
class OnnxExport:
    logged: bool
    detail: str
    max_abs_diff: float | None = None


def export_onnx(
    settings: TrainingSettings, client: MlflowClient, run_id: str, x_check: npt.NDArray[np.float32]
) -> OnnxExport:
    """Export the run's model to ONNX, check it against the logged model, log onnx/model.onnx."""
    from .models import onnx_scores, predict_scores, to_onnx

    contract = settings.contract
    model = mlflow.sklearn.load_model(_model_uri(client, run_id))
    try:
        exported = to_onnx(model, contract)
    except Exception as error:  # converters raise many types; the pyfunc model stays the fallback
        return OnnxExport(False, f"unavailable: {type(error).__name__}: {error}")
    data = exported.SerializeToString()
    onnx_out = onnx_scores(data, x_check)
    expected = predict_scores(model, x_check, contract)
    if onnx_out.shape != expected.shape:
        return OnnxExport(False, f"unavailable: ONNX scores shape {onnx_out.shape} != model {expected.shape}")
    scale = 1.0 if contract.is_classifier else max(1.0, float(np.abs(expected).max()))
    diff = float(np.abs(onnx_out - expected).max()) if len(x_check) else 0.0
    if diff > ONNX_TOLERANCE * scale:
        return OnnxExport(False, f"unavailable: ONNX scores differ from the model by {diff:.2e}", diff)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(ONNX_ARTIFACT).name
        path.write_bytes(data)
        client.log_artifact(run_id, str(path), artifact_path=str(Path(ONNX_ARTIFACT).parent))
    return OnnxExport(True, f"{ONNX_ARTIFACT} (max |onnx - model| = {diff:.2e} on {len(x_check)} rows)", diff)


def promote(
    training_set_dir: Path,
    run_id: str,
    version: str,
    *,
    tracking_uri: str | None = None,
    platform_: Platform | None = None,
) -> dict[str, Any]:
    """Make `version` champion if it passes the quality gate and beats the champion (promotion.decide);
    a promoted version gets its ONNX export first. The decision is logged on the run and the version."""
    settings = load_settings(platform_)
    _, client = connect(settings, tracking_uri)
    contract = settings.contract
    metric = contract.primary_metric
    standing = promotion.look_up(client, settings, run_id, metric)
    promoted, reason = promotion.decide(standing, metric, contract.higher_is_better)
    export = OnnxExport(False, "not exported: the version was not promoted")
    if promoted:
        training_set = read_training_set(training_set_dir, contract)
        export = export_onnx(settings, client, run_id, features_array(training_set.test, contract))
        promotion.set_champion(client, settings, version)
    return promotion.record(
        client,
        settings,
        run_id,
        version,
        standing,
        (promoted, reason),
        metric,
        contract.higher_is_better,
        details={"onnx": export.detail},
        run_tags={"export.onnx": export.detail},
        run_metrics={"export.onnx_max_abs_diff": export.max_abs_diff},
        version_tags={"onnx": export.detail},
    )
