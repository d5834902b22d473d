"""KFP v2 lightweight components of the vision training pipeline: thin shells over `<package>.vision.steps`.

The same conventions as training/components.py: KFP copies each function's source into the task, so
imports sit inside the functions and the package comes in as a parameter; the task runs where the
project is installed (locally its own environment, on the cluster the training image).
"""

from typing import NamedTuple

from kfp import dsl  # type: ignore[import-untyped]
from kfp.dsl import Dataset, Input, Metrics, Output  # type: ignore[import-untyped]

LOCAL_IMAGE = "python:3.11-slim"


def build_image_set(package: str, config_path: str, image_set: Output[Dataset]) -> str:
    """The images the Feast training service holds (validated by the ETL), split train/test by the seed."""
    import importlib
    import json
    import os
    from pathlib import Path

    os.environ["PLATFORM_CONFIG"] = config_path
    steps = importlib.import_module(package + ".vision.steps")
    errors = importlib.import_module(package + ".training.errors")
    try:
        result = steps.build_image_set(Path(image_set.path), selected_ids=steps.feast_image_ids())
    except errors.TrainingError as error:
        raise SystemExit(f"build_image_set failed: {error}") from None
    for key in ("images", "train_images", "test_images"):
        image_set.metadata[key] = result[key]
    return json.dumps({key: value for key, value in result.items() if key not in ("train", "test")})


def train(
    package: str,
    config_path: str,
    tracking_uri: str,
    model_params: str,
    pipeline_run: str,
    image_set: Input[Dataset],
) -> str:
    """Train the task's model in a new MLflow run (state_dict, FP32 ONNX, drift reference); returns the run id."""
    import importlib
    import json
    import os
    from pathlib import Path

    os.environ["PLATFORM_CONFIG"] = config_path
    steps = importlib.import_module(package + ".vision.steps")
    errors = importlib.import_module(package + ".training.errors")
    mlflow = importlib.import_module("mlflow")
    try:
        run_id = steps.train(Path(image_set.path), tracking_uri=tracking_uri, overrides=json.loads(model_params))
    except errors.TrainingError as error:
        raise SystemExit(f"train failed: {error}") from None
    mlflow.MlflowClient(tracking_uri=tracking_uri).set_tag(run_id, "pipeline_run", pipeline_run)
    return str(run_id)


def evaluate(
    package: str,
    config_path: str,
    tracking_uri: str,
    run_id: str,
    image_set: Input[Dataset],
    metrics: Output[Metrics],
) -> str:
    """The task's primary metric against its baseline, the precision report and the quality gate."""
    import importlib
    import json
    import os
    from pathlib import Path

    os.environ["PLATFORM_CONFIG"] = config_path
    steps = importlib.import_module(package + ".vision.steps")
    errors = importlib.import_module(package + ".training.errors")
    try:
        report = steps.evaluate(Path(image_set.path), run_id, tracking_uri=tracking_uri)
    except errors.TrainingError as error:
        raise SystemExit(f"evaluate failed: {error}") from None
    for name, value in report["metrics"].items():
        metrics.log_metric(name, value)
    for name, value in report["baseline_metrics"].items():
        metrics.log_metric("baseline_" + name, value)
    print("evaluation:", json.dumps(report["quality_gate"]), "served precision:", report["served_precision"])
    return json.dumps(report, default=str)


def register(package: str, config_path: str, tracking_uri: str, run_id: str) -> str:
    """Log the pyfunc model with the served precision's ONNX and register it as challenger; returns the version."""
    import importlib
    import os

    os.environ["PLATFORM_CONFIG"] = config_path
    steps = importlib.import_module(package + ".vision.steps")
    errors = importlib.import_module(package + ".training.errors")
    try:
        return str(steps.register(run_id, tracking_uri=tracking_uri))
    except errors.TrainingError as error:
        raise SystemExit(f"register failed: {error}") from None


def promote(package: str, config_path: str, tracking_uri: str, run_id: str, version: str) -> str:
    """Champion if the version passes the gate and beats the champion; log the decision."""
    import importlib
    import json
    import os

    os.environ["PLATFORM_CONFIG"] = config_path
    steps = importlib.import_module(package + ".vision.steps")
    errors = importlib.import_module(package + ".training.errors")
    try:
        decision = steps.promote(run_id, version, tracking_uri=tracking_uri)
    except errors.TrainingError as error:
        raise SystemExit(f"promote failed: {error}") from None
    print("decision:", json.dumps(decision, default=str))
    return json.dumps(decision, default=str)


class Components(NamedTuple):
    build_image_set: object
    train: object
    evaluate: object
    register: object
    promote: object


def make(image: str = LOCAL_IMAGE) -> Components:
    """The five components for `image` (locally only a label; on the cluster the training image)."""

    def component(func: object) -> object:
        return dsl.component(func=func, base_image=image, install_kfp_package=False)

    return Components(
        build_image_set=component(build_image_set),
        train=component(train),
        evaluate=component(evaluate),
        register=component(register),
        promote=component(promote),
    )
