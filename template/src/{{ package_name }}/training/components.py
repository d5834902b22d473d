"""KFP v2 lightweight Python components: thin shells over the family's steps module.

Every family's steps module has the same five functions (build_training_set, train, evaluate,
register, promote) with the same signatures: `<package>.training.steps` for the feature-row
families, `<package>.vision.steps` for the PyTorch vision models, `<package>.rag.steps` for the RAG
embedding model (pipelines/rag_pipeline.py). The pipeline names the module in each component's
`steps` input, so one set of components serves them all.

KFP copies each function's source into the task, so every import sits inside the function and the
package comes in as a parameter. The task runs where this project is installed: locally the
project's own environment (kfp.local.SubprocessRunner(use_venv=False)), on the cluster the training
image (`training.remote.image`). No `pip install` happens at run time.
"""

from typing import NamedTuple

from kfp import dsl  # type: ignore[import-untyped]
from kfp.dsl import Dataset, Input, Metrics, Output  # type: ignore[import-untyped]

LOCAL_IMAGE = "python:3.11-slim"


def build_training_set(package: str, config_path: str, steps: str, training_set: Output[Dataset]) -> str:
    """The Feast training feature service's selection, checked and split into the training_set artifact."""
    import importlib
    import json
    import os
    from pathlib import Path

    os.environ["PLATFORM_CONFIG"] = config_path
    module = importlib.import_module(f"{package}.{steps}")
    errors = importlib.import_module(package + ".training.errors")
    try:
        summary = module.build_training_set(Path(training_set.path))
    except errors.TrainingError as error:
        raise SystemExit(f"build_training_set failed: {error}") from None
    for key, value in summary.items():
        if isinstance(value, (str, int, float, bool)):  # KFP metadata: scalars (the UI shows them)
            training_set.metadata[key] = value
    return json.dumps(summary, default=str)


def train(
    package: str,
    config_path: str,
    steps: str,
    tracking_uri: str,
    model_params: str,
    pipeline_run: str,
    training_set: Input[Dataset],
) -> str:
    """Fit the family's model in a new MLflow run; returns the run id."""
    import importlib
    import json
    import os
    from pathlib import Path

    os.environ["PLATFORM_CONFIG"] = config_path
    module = importlib.import_module(f"{package}.{steps}")
    errors = importlib.import_module(package + ".training.errors")
    mlflow = importlib.import_module("mlflow")
    try:
        run_id = module.train(Path(training_set.path), tracking_uri=tracking_uri, overrides=json.loads(model_params))
    except errors.TrainingError as error:
        raise SystemExit(f"train failed: {error}") from None
    mlflow.MlflowClient(tracking_uri=tracking_uri).set_tag(run_id, "pipeline_run", pipeline_run)
    return str(run_id)


def evaluate(
    package: str,
    config_path: str,
    steps: str,
    tracking_uri: str,
    run_id: str,
    training_set: Input[Dataset],
    metrics: Output[Metrics],
) -> str:
    """Held-out metrics against the baseline and the quality gate (vision: per precision), logged to the run."""
    import importlib
    import json
    import os
    from pathlib import Path

    os.environ["PLATFORM_CONFIG"] = config_path
    module = importlib.import_module(f"{package}.{steps}")
    errors = importlib.import_module(package + ".training.errors")
    try:
        report = module.evaluate(Path(training_set.path), run_id, tracking_uri=tracking_uri)
    except errors.TrainingError as error:
        raise SystemExit(f"evaluate failed: {error}") from None
    for name, value in report["metrics"].items():
        metrics.log_metric(name, value)
    for name, value in report["baseline_metrics"].items():
        metrics.log_metric("baseline_" + name, value)
    verdict = {key: report[key] for key in ("quality_gate", "served_precision") if key in report}
    print("evaluation:", json.dumps(verdict, default=str))
    return json.dumps(report, default=str)


def register(package: str, config_path: str, steps: str, tracking_uri: str, run_id: str) -> str:
    """Register the run's model as a new version with alias challenger; returns the version."""
    import importlib
    import os

    os.environ["PLATFORM_CONFIG"] = config_path
    module = importlib.import_module(f"{package}.{steps}")
    errors = importlib.import_module(package + ".training.errors")
    try:
        return str(module.register(run_id, tracking_uri=tracking_uri))
    except errors.TrainingError as error:
        raise SystemExit(f"register failed: {error}") from None


def promote(
    package: str,
    config_path: str,
    steps: str,
    tracking_uri: str,
    run_id: str,
    version: str,
    training_set: Input[Dataset],
) -> str:
    """Champion if the version passes the gate and beats the champion (training.promotion); log the decision."""
    import importlib
    import json
    import os
    from pathlib import Path

    os.environ["PLATFORM_CONFIG"] = config_path
    module = importlib.import_module(f"{package}.{steps}")
    errors = importlib.import_module(package + ".training.errors")
    try:
        decision = module.promote(Path(training_set.path), run_id, version, tracking_uri=tracking_uri)
    except errors.TrainingError as error:
        raise SystemExit(f"promote failed: {error}") from None
    print("decision:", json.dumps(decision, default=str))
    return json.dumps(decision, default=str)


class Components(NamedTuple):
    build_training_set: object
    train: object
    evaluate: object
    register: object
    promote: object


def make(image: str = LOCAL_IMAGE) -> Components:
    """The five components for `image` (locally only a label; on the cluster the training image)."""

    def component(func: object) -> object:
        return dsl.component(func=func, base_image=image, install_kfp_package=False)

    return Components(
        build_training_set=component(build_training_set),
        train=component(train),
        evaluate=component(evaluate),
        register=component(register),
        promote=component(promote),
    )
