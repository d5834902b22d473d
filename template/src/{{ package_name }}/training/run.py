"""Compile the training pipeline, run it locally (kfp.local), or submit it to Kubeflow.

Called by pipelines/training_pipeline.py, which defines the pipeline and passes its builder here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .errors import TrainingError
from .settings import TrainingSettings, load_settings
from .tracking import check_tracking_uri

PipelineBuilder = Callable[..., Any]
COMPILED = Path("pipelines") / "compiled" / "training_pipeline.yaml"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class LocalRun:
    """The outcome of one local pipeline run."""

    pipeline_run: str
    seconds: float
    run_id: str | None = None
    decision: dict[str, Any] = field(default_factory=dict)


def run_local(build: PipelineBuilder, settings: TrainingSettings, overrides: dict[str, Any] | None = None) -> LocalRun:
    """Run the pipeline in this environment with kfp.local.SubprocessRunner(use_venv=False)."""
    arguments = settings.pipeline_parameters(overrides)
    check_tracking_uri(arguments["tracking_uri"])  # before the slow imports: fail in seconds

    import kfp.local  # type: ignore[import-untyped]

    result = LocalRun(pipeline_run=uuid.uuid4().hex[:12], seconds=0.0)
    arguments["pipeline_run"] = result.pipeline_run
    settings.pipeline_root.mkdir(parents=True, exist_ok=True)
    kfp.local.init(
        runner=kfp.local.SubprocessRunner(use_venv=False),
        pipeline_root=str(settings.pipeline_root),
        raise_on_error=True,
    )
    started = time.perf_counter()
    try:
        finished = build()(**arguments)
    except RuntimeError as error:
        raise TrainingError(f"the training pipeline failed: {_ANSI.sub('', str(error))}") from error
    finally:
        result.seconds = time.perf_counter() - started
    # The pipeline's output is promote's decision, so this process never imports MLflow (~5 s).
    result.decision = json.loads(finished.output)
    result.run_id = result.decision.get("run_id")
    return result


def compile_pipeline(build: PipelineBuilder, settings: TrainingSettings, output: Path) -> Path:
    """Compile to KFP v2 YAML with the cluster's defaults (training.remote) as parameter defaults."""
    from kfp import compiler  # type: ignore[import-untyped, unused-ignore]

    remote = settings.remote
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(
        build(remote.image) if remote.image else build(),
        str(output),
        pipeline_name=settings.pipeline_name,
        pipeline_parameters={
            "package": settings.package,
            "config_path": remote.config_path,
            "tracking_uri": remote.tracking_uri,
            "model_params": json.dumps(settings.model_params, sort_keys=True),
        },
    )
    return output


def submit_remote(build: PipelineBuilder, settings: TrainingSettings, overrides: dict[str, Any] | None = None) -> str:
    """Submit to Kubeflow Pipelines at training.remote.kfp_endpoint ($KFP_ENDPOINT); returns the run id."""
    import kfp  # type: ignore[import-untyped, unused-ignore]

    remote = settings.remote
    if not remote.kfp_endpoint:
        raise TrainingError("no Kubeflow endpoint: set training.remote.kfp_endpoint in platform.yaml or $KFP_ENDPOINT")
    if not remote.image:
        raise TrainingError(
            "no training image: set training.remote.image in platform.yaml to an image of this project "
            "installed with `uv sync --group train` (the components import it)"
        )
    try:
        client = kfp.Client(host=remote.kfp_endpoint, namespace=remote.namespace)
    except Exception as error:  # kfp/urllib3 raise many types; one message says what failed
        raise TrainingError(f"Kubeflow Pipelines at {remote.kfp_endpoint} is unreachable: {error}") from error
    arguments = {
        "package": settings.package,
        "config_path": remote.config_path,
        "tracking_uri": remote.tracking_uri,
        "model_params": json.dumps({**settings.model_params, **(overrides or {})}, sort_keys=True),
        "pipeline_run": uuid.uuid4().hex[:12],
    }
    try:
        submitted = client.create_run_from_pipeline_func(
            build(remote.image),
            arguments=arguments,
            run_name=f"{settings.pipeline_name}-{arguments['pipeline_run']}",
            experiment_name=remote.experiment,
        )
    except Exception as error:
        raise TrainingError(f"Kubeflow Pipelines at {remote.kfp_endpoint} refused the run: {error}") from error
    return str(submitted.run_id)


def _print_run(result: LocalRun) -> None:
    decision = result.decision
    if decision:
        print(
            f"training: {decision['registered_model']} version {decision['version']} -> {decision['decision']} "
            f"({decision['primary_metric']} {decision['challenger_score']}, champion "
            f"{decision['champion_score']}; {decision['reason']}); MLflow run {result.run_id}"
            + (f"; ONNX: {decision['onnx']}" if "onnx" in decision else "")
        )


def main(
    build: PipelineBuilder,
    argv: Sequence[str] | None = None,
    *,
    settings_loader: Callable[[], TrainingSettings] = load_settings,
    compiled: Path = COMPILED,
) -> int:
    """The pipeline scripts' command line; another pipeline (rag_pipeline.py) passes its own settings
    (registry name, experiment) and compiled path."""
    parser = argparse.ArgumentParser(prog="training_pipeline", description=__doc__)
    parser.add_argument("command", choices=("compile", "run", "submit"))
    parser.add_argument("--params", default="{}", help="JSON overrides of training.model_params for this run")
    parser.add_argument("--output", type=Path, default=None, help="compile: where the YAML goes")
    args = parser.parse_args(argv)
    try:
        settings = settings_loader()
        overrides = json.loads(args.params)
        if not isinstance(overrides, dict):
            raise TrainingError(f"--params must be a JSON object, got {args.params!r}")
        if args.command == "compile":
            path = compile_pipeline(build, settings, args.output or settings.platform.path.parent / compiled)
            print(f"compiled: {path}")
        elif args.command == "submit":
            print(f"submitted: Kubeflow run {submit_remote(build, settings, overrides)}")
        else:
            _print_run(run_local(build, settings, overrides))
    except (TrainingError, ConfigError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
