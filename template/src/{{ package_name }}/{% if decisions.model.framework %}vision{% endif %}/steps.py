"""The vision pipeline steps as plain functions over files and MLflow; the KFP components call these.

build_training_set -> train -> evaluate -> register -> promote, the functions and signatures of
training/steps.py (training/components.py calls either module): each step checks its input, raises
TrainingError with a clear message, and a failed step stops the pipeline. The run keeps: the
trained state_dict, the FP32 ONNX model step (checked against PyTorch), the training images'
statistics (the drift reference), the task's primary metric (task.py: mAP@0.5, accuracy or mean
IoU) against the task's baseline, the precision report, and the served precision's ONNX inside an
MLflow pyfunc model. Every task takes the same steps; what differs is
task_module(settings).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..config import Platform
from ..training import promotion
from ..training.errors import TrainingError
from ..training.registry import ONNX_ARTIFACT, REFERENCE_ARTIFACT
from ..training.settings import load_settings
from ..training.tracking import connect, experiment_id
from .images import STATISTICS, Annotation, image_statistics
from .manifests import ManifestError, iter_samples
from .settings import VisionConfigError, VisionSettings
from .task import VisionTask, task_module

IMAGE_SET_FILE = "image_set.json"
STATE_ARTIFACT = "model/state_dict.pt"
FP32_ARTIFACT = "onnx/model_fp32.onnx"
MODEL_NAME = "model"  # the pyfunc model's artifact path in the run
OVERRIDABLE = ("epochs", "batch_size", "learning_rate", "seed", "image_size", "weights", "architecture")

Sample = tuple[int, Path, Annotation]


# ------------------------------------------------------------------------------------------ helpers


def _settings(settings: VisionSettings | None, platform_: Platform | None) -> VisionSettings:
    try:
        return settings if settings is not None else VisionSettings.from_platform(platform_)
    except VisionConfigError as error:
        raise TrainingError(str(error)) from error


def interval_dirs(settings: VisionSettings) -> list[Path]:
    """The validated intervals under vision.images (folders holding a manifest), oldest first."""
    from .manifests import interval_dirs as intervals_under

    root = settings.images_dir
    if not root.is_dir():
        raise TrainingError(f"no images at {root} (vision.images); run the ETL first (`make etl`)")
    return intervals_under(root)


def _image_set(path: Path) -> dict[str, Any]:
    target = path / IMAGE_SET_FILE if path.is_dir() else path
    if not target.is_file():
        raise TrainingError(f"{target} not found; the build_image_set step writes it")
    data: dict[str, Any] = json.loads(target.read_text())
    return data


def _samples(image_set: dict[str, Any], part: str, classes: Sequence[str]) -> list[Sample]:
    """The (image_id, path, annotation) triples of the image set's `part` (train | test), in id order."""
    wanted = {int(value) for value in image_set[part]}
    try:
        found = [sample for sample in iter_samples(image_set["intervals"], classes) if sample[0] in wanted]
    except ManifestError as error:
        raise TrainingError(str(error)) from error
    missing = wanted - {sample[0] for sample in found}
    if missing:
        raise TrainingError(
            f"{len(missing)} {part} images of the image set are gone from their intervals (e.g. {min(missing)}); "
            "rebuild the image set"
        )
    return sorted(found, key=lambda sample: sample[0])


def _truth(task: VisionTask, sample: Sample) -> Any:
    return task.truth(sample[2], _size(sample[1]))


def _evaluation_settings(vision: VisionSettings) -> VisionSettings:
    """The settings evaluation predicts with (task.EVAL_OVERRIDES: e.g. detection keeps low-score boxes,
    since mAP ranks them all; serving applies vision.score_threshold)."""
    return vision.with_overrides(**dict(task_module(vision).EVAL_OVERRIDES))


@contextmanager
def _scratch_dir(prefix: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -------------------------------------------------------------------------------- build_training_set


def feast_image_ids() -> set[int]:
    """The image ids of the Feast training feature service (every row of the offline store, point in
    time): what the ETL validated and loaded, so training never sees an image the data layer rejected."""
    from ..contract import project_family
    from ..features.store import training_frame

    frame = training_frame()
    return {int(value) for value in frame[project_family().entity].dropna().unique()}


def build_image_set(
    output_dir: Path,
    *,
    settings: VisionSettings | None = None,
    platform_: Platform | None = None,
    selected_ids: set[int] | None = None,
) -> dict[str, Any]:
    """Split the valid images of the intervals into train/test by the seed; write output_dir/image_set.json.

    The ETL has already validated the intervals (bad images are in quarantine). `selected_ids` (the
    pipeline passes the Feast training frame's image ids, feast_image_ids) keeps only those images;
    None takes every image of the manifests.
    """
    vision = _settings(settings, platform_)
    intervals = interval_dirs(vision)
    try:
        found = sorted(sample[0] for sample in iter_samples(intervals, vision.classes))
    except ManifestError as error:
        raise TrainingError(str(error)) from error
    ids = found if selected_ids is None else [image_id for image_id in found if image_id in selected_ids]
    if len(ids) < 4:
        raise TrainingError(
            f"{len(ids)} valid images under {vision.images_dir}; training needs at least 4 (run `make etl` "
            "for more intervals or raise data.sample.rows_per_interval)"
        )
    order = np.random.default_rng(vision.seed).permutation(len(ids))
    test_count = min(len(ids) - 1, max(1, round(len(ids) * vision.test_fraction)))
    test = sorted(ids[index] for index in order[:test_count])
    train = sorted(ids[index] for index in order[test_count:])
    image_set = {
        "source": "intervals" if selected_ids is None else "feast",
        "not_selected": len(found) - len(ids),
        "intervals": [str(path) for path in intervals],
        "seed": vision.seed,
        "test_fraction": vision.test_fraction,
        "train": train,
        "test": test,
        "images": len(ids),
        "train_images": len(train),
        "test_images": len(test),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / IMAGE_SET_FILE).write_text(json.dumps(image_set, indent=1) + "\n")
    return image_set


def build_training_set(output_dir: Path) -> dict[str, Any]:
    """The pipeline's first step: the images the Feast training service holds, split (build_image_set);
    returns the summary without the id lists."""
    found = build_image_set(output_dir, selected_ids=feast_image_ids())
    return {key: value for key, value in found.items() if key not in ("train", "test")}


# ------------------------------------------------------------------------------------------ train


def _served_reference(onnx_path: Path, vision: VisionSettings, samples: Sequence[Sample]) -> pd.DataFrame:
    """The drift reference of a registered model: each image of its image set as the served images
    are logged (vision/monitoring.py): statistics with objects from the served model's predictions at
    the serving settings, plus the prediction statistics."""
    from .inference import OnnxPredictor
    from .monitoring import monitoring_frame

    images = [path.read_bytes() for _, path, _ in samples]
    predictions = OnnxPredictor(onnx_path, vision).predict(images)
    # float64 like the logged rows: a class share of 1/3 must be the same number on both sides
    return monitoring_frame(images, predictions, vision)


def _reference(samples: Sequence[Sample]) -> pd.DataFrame:
    """The training images' statistics: what Feast stores per image and the drift job compares."""
    rows = [image_statistics(path, annotation) for _, path, annotation in samples]
    return pd.DataFrame(rows, columns=list(STATISTICS)).astype("float32")


def train(
    image_set_dir: Path,
    *,
    tracking_uri: str | None = None,
    overrides: dict[str, Any] | None = None,
    settings: VisionSettings | None = None,
    platform_: Platform | None = None,
) -> str:
    """Train the task's model in a new MLflow run; returns the run id.

    Logs the settings as params, the loss per epoch, fit_seconds, the state_dict, the FP32 ONNX model
    step with its I/O JSON, and reference/features.parquet (the training images' statistics; register
    replaces it with the served model's view of the images, prediction statistics included).
    """
    from .export import ExportError, export_onnx
    from .model import save_state
    from .train import TrainingDataError, fit, load_samples

    vision = _settings(settings, platform_)
    unknown = sorted(set(overrides or {}) - set(OVERRIDABLE))
    if unknown:
        raise TrainingError(f"model_params {unknown} are not vision settings; allowed: {', '.join(OVERRIDABLE)}")
    vision = vision.with_overrides(**(overrides or {}))
    training = load_settings(platform_)
    uri, _ = connect(training, tracking_uri)
    image_set = _image_set(image_set_dir)
    train_samples = _samples(image_set, "train", vision.classes)
    try:
        samples = load_samples(train_samples, vision)
    except TrainingDataError as error:
        raise TrainingError(str(error)) from error
    experiment = experiment_id(training.experiment, uri, training.artifact_root())
    run_name = f"{vision.architecture}-{time.strftime('%Y%m%d-%H%M%S')}"
    with mlflow.start_run(experiment_id=experiment, run_name=run_name) as run, _scratch_dir("vision-train-") as tmp:
        mlflow.set_tags(
            {
                "pipeline": training.pipeline_name,
                "family": training.family,
                "task": vision.task,
                "architecture": vision.architecture,
                "registered_model_name": training.registered_model_name,
            }
        )
        mlflow.log_params(
            {
                "task": vision.task,
                "library": vision.library,
                "architecture": vision.architecture,
                "weights": str(vision.weights),
                "licence": vision.licence,
                "classes": json.dumps(list(vision.classes)),
                "image_size": vision.image_size,
                "epochs": vision.epochs,
                "batch_size": vision.batch_size,
                "learning_rate": vision.learning_rate,
                "seed": vision.seed,
                "primary_metric": task_module(vision).METRIC,
                "dataset.source": image_set["source"],
                "dataset.intervals": len(image_set["intervals"]),
                "dataset.train_images": image_set["train_images"],
                "dataset.test_images": image_set["test_images"],
            }
        )
        mlflow.log_dict(image_set, "dataset/image_set.json")
        reference = tmp / Path(REFERENCE_ARTIFACT).name
        _reference(train_samples).to_parquet(reference, index=False)
        mlflow.log_artifact(str(reference), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))

        def progress(line: str) -> None:
            print(line, flush=True)

        result = fit(samples, vision, progress=progress)
        mlflow.log_param("optimizer", result.optimizer)
        for epoch, losses in enumerate(result.losses, start=1):
            mlflow.log_metrics({f"train_{key}": value for key, value in losses.items()}, step=epoch)
        mlflow.log_metric("fit_seconds", result.seconds)
        state = save_state(result.model, tmp / Path(STATE_ARTIFACT).name)
        mlflow.log_artifact(str(state), artifact_path=str(Path(STATE_ARTIFACT).parent))
        onnx_path = tmp / Path(FP32_ARTIFACT).name
        check = np.stack([sample.pixels for sample in samples[:3]])
        try:
            info = export_onnx(result.model, vision, onnx_path, check)
        except ExportError as error:
            raise TrainingError(f"the FP32 export failed its check: {error}") from error
        mlflow.log_artifact(str(onnx_path), artifact_path=str(Path(FP32_ARTIFACT).parent))
        mlflow.log_artifact(str(onnx_path.with_suffix(".json")), artifact_path=str(Path(FP32_ARTIFACT).parent))
        mlflow.log_metrics({f"export.max_abs_error.{name}": value for name, value in info.max_abs_error.items()})
        return str(run.info.run_id)


# ---------------------------------------------------------------------------------------- evaluate


def _download(client: MlflowClient, run_id: str, artifact: str, target: Path) -> Path:
    try:
        return Path(client.download_artifacts(run_id, artifact, str(target)))
    except (MlflowException, OSError) as error:
        raise TrainingError(f"run {run_id} has no {artifact}; run the train step first") from error


def evaluate_images(onnx_path: Path, vision: VisionSettings, samples: Sequence[Sample]) -> tuple[list[Any], list[Any]]:
    """Predictions of an exported model step (onnxruntime, as served, evaluation settings) and the
    truths on `samples`, both the task's Predictions."""
    from .inference import OnnxPredictor

    task = task_module(vision)
    predictor = OnnxPredictor(onnx_path, _evaluation_settings(vision))
    predictions = predictor.predict([path.read_bytes() for _, path, _ in samples])
    return predictions, [_truth(task, sample) for sample in samples]


def _precisions(
    fp32: Path, vision: VisionSettings, test: Sequence[Sample], train: Sequence[Sample], out_dir: Path
) -> Any | None:
    """The precision report (FP32 / FP16 / INT8 metric and latency, the served precision after the
    tolerance gate); None in a project without the precision module."""
    if importlib.util.find_spec(f"{__package__}.precision") is None:
        return None
    precision = importlib.import_module(f"{__package__}.precision")
    task = task_module(vision)
    calibration = [path.read_bytes() for _, path, _ in train[: vision.calibration_images]]
    return precision.evaluate_precisions(
        fp32,
        _evaluation_settings(vision),  # the same metric as the FP32 evaluation
        [path.read_bytes() for _, path, _ in test],
        [_truth(task, sample) for sample in test],
        calibration,
        out_dir,
    )


def gate(score: float, baseline: float, minimum: float, metric: str = "metric") -> tuple[bool, list[str]]:
    """The primary metric must beat the task's baseline and reach the floor (task.MIN_METRIC)."""
    lines = [
        f"{metric} {score:.4f} {'>' if score > baseline else '<='} baseline {baseline:.4f}",
        f"{metric} {score:.4f} {'>=' if score >= minimum else '<'} minimum {minimum:.4f}",
    ]
    return score > baseline and score >= minimum, lines


def evaluate(
    image_set_dir: Path,
    run_id: str,
    *,
    tracking_uri: str | None = None,
    settings: VisionSettings | None = None,
    platform_: Platform | None = None,
) -> dict[str, Any]:
    """The primary metric of the FP32 ONNX model on the test images against the task's baseline, the
    precision report (when the project has the precision module) and the quality gate, logged to the run."""
    vision = _settings(settings, platform_)
    task = task_module(vision)
    metric = task.METRIC
    training = load_settings(platform_)
    _, client = connect(training, tracking_uri)
    image_set = _image_set(image_set_dir)
    test = _samples(image_set, "test", vision.classes)
    train_part = _samples(image_set, "train", vision.classes)
    params = client.get_run(run_id).data.params
    if "image_size" in params:  # evaluate what was trained, whatever the overrides were
        vision = vision.with_overrides(image_size=int(params["image_size"]))
    with _scratch_dir("vision-evaluate-") as tmp:
        fp32 = _download(client, run_id, FP32_ARTIFACT, tmp)
        started = time.perf_counter()
        predictions, truths = evaluate_images(fp32, vision, test)
        predict_seconds = time.perf_counter() - started
        score = task.score(predictions, truths)
        sizes = [_size(path) for _, path, _ in train_part]
        baseline_model = task.Baseline.fit([_truth(task, s) for s in train_part], sizes, vision.num_classes)
        baseline = task.score([baseline_model.predict(_size(path)) for _, path, _ in test], truths)
        passed, lines = gate(score, baseline, task.MIN_METRIC, metric)
        report = _precisions(fp32, vision, test, train_part, tmp / "precision")
        served = str(report.served) if report is not None else "fp32"
        result: dict[str, Any] = {
            "primary_metric": metric,
            "metric_label": task.METRIC_LABEL,
            "score": round(score, 4),
            "baseline": type(baseline_model).__name__,
            "baseline_score": round(baseline, 4),
            "metrics": {metric: score, "predict_seconds": predict_seconds},
            "baseline_metrics": {metric: baseline},
            "test_images": len(test),
            "eval_overrides": dict(task.EVAL_OVERRIDES),
            "quality_gate": {"passed": passed, "lines": lines, "minimum": task.MIN_METRIC},
            "served_precision": served,
            "decided_precision": vision.precision,
            "precision": report.to_dict() if report is not None else None,
        }
        with mlflow.start_run(run_id=run_id):
            mlflow.log_metrics(
                {
                    metric: score,
                    f"baseline_{metric}": baseline,
                    "eval_images_per_second": len(test) / max(predict_seconds, 1e-9),
                }
            )
            mlflow.log_dict(result, "evaluation/report.json")
            markdown = [f"# Evaluation of run {run_id}", "", *[f"- {line}" for line in lines], ""]
            if report is not None:
                markdown += ["## Precisions", "", str(report.to_markdown()), ""]
                for row in result["precision"]["results"]:
                    mlflow.log_metric(f"{metric}_{row['precision']}", float(row["metric"]))
                for onnx_file in sorted((tmp / "precision").glob("model_*.onnx")):
                    mlflow.log_artifact(str(onnx_file), artifact_path="precision")
            mlflow.log_text("\n".join(markdown), "evaluation/report.md")
            mlflow.set_tags({promotion.GATE_TAG: "passed" if passed else "failed", "served_precision": served})
    return result


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
    return height, width


# ---------------------------------------------------------------------------------------- register


class VisionModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc, name-defined, unused-ignore]
    """The served precision's ONNX model step + pre/postprocessing as an MLflow pyfunc model, so
    `mlflow models serve` answers the same contract as Triton: input column `image` (encoded bytes,
    base64 in JSON), output one row per image with the task's Prediction.to_dict keys as JSON strings
    (detection: boxes/scores/classes/labels)."""

    def load_context(self, context: Any) -> None:
        from .inference import OnnxPredictor

        values = json.loads(Path(context.artifacts["settings"]).read_text())
        values["classes"] = tuple(values["classes"])
        self.settings = VisionSettings(**values)
        self.predictor = OnnxPredictor(context.artifacts["onnx"], self.settings)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame({"image": list(model_input)})
        images = [bytes(value) for value in frame["image"]]
        found = self.predictor.predict(images)
        return pd.DataFrame(
            [{key: json.dumps(value) for key, value in item.to_dict(self.settings.classes).items()} for item in found]
        )


DetectorModel = VisionModel  # the name before classification and segmentation

# What the registered pyfunc model's postprocess reads (the Triton steps get the whole section).
SERVED_SETTINGS = (
    "task", "classes", "image_size", "score_threshold", "iou_threshold", "max_detections", "match_threshold",
    "precision",
)  # fmt: skip


def register(
    run_id: str,
    *,
    tracking_uri: str | None = None,
    settings: VisionSettings | None = None,
    platform_: Platform | None = None,
) -> str:
    """Log the pyfunc model (served precision's ONNX inside) and register it with the challenger alias."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    vision = _settings(settings, platform_)
    training = load_settings(platform_)
    _, client = connect(training, tracking_uri)
    tags = promotion.evaluated_tags(client, run_id)
    run = client.get_run(run_id)
    served = tags.get("served_precision", "fp32")
    if "image_size" in run.data.params:
        vision = vision.with_overrides(image_size=int(run.data.params["image_size"]))
    source = FP32_ARTIFACT if served == "fp32" else f"precision/model_{served}.onnx"
    with _scratch_dir("vision-register-") as tmp:
        onnx_path = _download(client, run_id, source, tmp / "download")
        values = {key: getattr(vision, key) for key in SERVED_SETTINGS}
        values["classes"], values["precision"] = list(vision.classes), served
        settings_path = tmp / "vision_settings.json"
        settings_path.write_text(json.dumps(values, indent=1) + "\n")
        served_copy = tmp / Path(ONNX_ARTIFACT).name
        shutil.copyfile(onnx_path, served_copy)
        reference = tmp / Path(REFERENCE_ARTIFACT).name
        image_set = json.loads(_download(client, run_id, "dataset/image_set.json", tmp / "dataset").read_text())
        samples = [*_samples(image_set, "train", vision.classes), *_samples(image_set, "test", vision.classes)]
        _served_reference(served_copy, vision, samples).to_parquet(reference, index=False)
        signature = ModelSignature(inputs=Schema([ColSpec("binary", "image")]))
        with mlflow.start_run(run_id=run_id):
            # onnx/model.onnx is what serving runs (registry.champion() downloads it)
            mlflow.log_artifact(str(served_copy), artifact_path=str(Path(ONNX_ARTIFACT).parent))
            # the drift reference, now with what the served model predicts on the training images
            mlflow.log_artifact(str(reference), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))
            info = mlflow.pyfunc.log_model(
                name=MODEL_NAME,
                python_model=VisionModel(),
                artifacts={"onnx": str(served_copy), "settings": str(settings_path)},
                signature=signature,
            )
    client.set_tag(run_id, "model_uri", info.model_uri)
    metric = task_module(vision).METRIC
    version_tags = {
        "family": training.family,
        "task": vision.task,
        "architecture": vision.architecture,
        "primary_metric": metric,
        metric: str(run.data.metrics.get(metric)),
        "served_precision": served,
    }
    return promotion.register_challenger(client, training, run_id, info.model_uri, version_tags)


# ----------------------------------------------------------------------------------------- promote


def promote(
    image_set_dir: Path | None,
    run_id: str,
    version: str,
    *,
    tracking_uri: str | None = None,
    settings: VisionSettings | None = None,
    platform_: Platform | None = None,
) -> dict[str, Any]:
    """Champion alias for `version` only if it passed the gate and beats the champion's primary metric
    (training.promotion, the rule every family shares); the decision records the served precision.
    `image_set_dir` is not read (the evaluate step already exported every precision); it keeps the
    signature every steps module shares."""
    metric = task_module(_settings(settings, platform_)).METRIC
    training = load_settings(platform_)
    _, client = connect(training, tracking_uri)
    served = client.get_run(run_id).data.tags.get("served_precision", "fp32")
    # what serving runs: the served precision's model step, in the pyfunc model and at onnx/model.onnx
    details = {"served_precision": served, "onnx": f"{ONNX_ARTIFACT} ({served})"}
    return promotion.promote_on(client, training, run_id, version, metric, higher_is_better=True, details=details)
