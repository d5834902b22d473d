"""The stages of `make smoke` on the local profile, in order.

Each stage drives the same entry points a person would (the ETL DAG, the training pipeline, the
serving CLI, the client, the drift job) and returns the key figure for the summary table. Stages
that run a whole layer run it as a subprocess with its output in `.local/logs/smoke-<stage>.out`,
so a failure shows that layer's own messages.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..config import Platform, local_path, platform
from .runner import SmokeContext, Stage


class StageError(RuntimeError):
    """A stage failed; the message says what and where to look."""


def _package() -> str:
    return __name__.rsplit(".", 2)[0]


def run_logged(ctx: SmokeContext, stage: str, command: list[str]) -> str:
    """Run a layer's command with its output in the smoke log folder; raise with the tail on failure."""
    log = ctx.log_dir / f"smoke-{stage}.out"
    env = {**os.environ, "PLATFORM_CONFIG": str(platform().path), "FEAST_USAGE": "False", "PYTHONUNBUFFERED": "1"}
    with log.open("w", encoding="utf-8") as handle:
        result = subprocess.run(
            command, cwd=platform().path.parent, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False
        )
    output = log.read_text(encoding="utf-8", errors="replace")
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-15:])
        raise StageError(f"`{' '.join(command[1:])}` exited {result.returncode}; log {log}\n{tail}")
    return output


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


# Modules the later stages import in this process. The ETL stage runs Airflow in a subprocess on
# one core; importing these on the other core meanwhile takes ~15 s off the later stages.
WARM_MODULES = (
    "feast",
    "mlflow",
    "mlflow.tracking",
    "mlflow.pyfunc",
    "onnxruntime",
    "tritonclient.http",
    "tritonclient.grpc",
    "evidently",
    "evidently.presets",
    ".features.store",
    ".training.registry",
    ".serving.transport",
    ".monitoring.drift",
)


# One progress line per stage: the libraries' own bars (MLflow's artifact downloads, transformers'
# weight loading, any other tqdm) would print between them.
NO_PROGRESS_BARS = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
}


def quiet_library_notices() -> None:
    """Keep the libraries' deprecation notices out of the progress lines. Importing Feast turns every
    DeprecationWarning on (`warnings.simplefilter("once")`), so notices from Evidently, Litestar or
    MLflow's SQLAlchemy store would print between the stages; this package's own still show, and
    `make test` lists the libraries' in its summary. Called again after each warm import, since a
    filter added later (Feast's) comes first."""
    own = re.escape(_package())
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=rf"(?!{own}(\.|$))")


def _warm_imports() -> None:
    for name in WARM_MODULES:
        with contextlib.suppress(Exception):  # a stage that needs the module reports the real error
            importlib.import_module(name, package=_package())
        quiet_library_notices()


def start_warm_imports(ctx: SmokeContext) -> None:
    thread = threading.Thread(target=_warm_imports, name="warm-imports", daemon=True)
    thread.start()
    ctx.values["warm_imports"] = thread


def finish_warm_imports(ctx: SmokeContext) -> None:
    """Wait for the background imports, so no module is ever imported from two threads at once."""
    thread = ctx.values.pop("warm_imports", None)
    if thread is not None:
        thread.join()


# ---------------------------------------------------------------- data


def etl(ctx: SmokeContext) -> str:
    """The Airflow ETL DAG with dag.test(): extract, validate, transform, load, feast apply, materialize."""
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    ctx.values["etl_day"] = day
    run_logged(ctx, "etl", _python("-m", f"{_package()}.data.cli", "etl", "--date", day))
    finish_warm_imports(ctx)
    from ..data.offline import offline_partitions

    partitions = offline_partitions()
    rows = sum(partitions.values())
    if rows == 0:
        raise StageError("the ETL DAG finished but the offline store holds no rows")
    return f"{rows:,} rows in {len(partitions)} partition(s) for {day}"


def feature_store(ctx: SmokeContext) -> str:
    """Feast: the training frame (point in time) and online reads for known entities."""
    from ..contract import get_family
    from ..features.store import online_features, training_frame

    family = get_family(str(platform().decision("model")["family"]))
    frame = training_frame()
    if frame.empty:
        raise StageError("Feast returned an empty training frame")
    ids = [int(i) for i in frame[family.entity].drop_duplicates().head(50)]
    online = online_features(ids)
    served = int(online[list(family.features)].notna().all(axis=1).sum())
    if served == 0:
        raise StageError(f"Feast online store returned no features for {len(ids)} known {family.entity}s")
    ctx.values["training_frame"] = frame
    ctx.values["features"] = list(family.features)
    return f"{len(frame):,} training rows; online features for {served}/{len(ids)} entities"


# ---------------------------------------------------------------- training


def train(ctx: SmokeContext) -> str:
    """The Kubeflow pipeline on kfp.local: build set, train, evaluate, register, promote."""
    run_logged(ctx, "train", _python("pipelines/training_pipeline.py", "run"))
    from ..training.registry import champion

    info = champion()
    ctx.values["champion"] = info
    metric = f"{info.primary_metric} {info.score:.3f}" if info.score is not None else info.primary_metric
    return f"{info.family} model trained, {metric}"


def champion_report(ctx: SmokeContext, training: Any) -> tuple[Any, dict[str, Any]]:
    """The champion version of `training`'s registered model and its run's evaluation report (the
    RAG embedder's and the language model's pipelines write evaluation/report.json)."""
    import json

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=training.tracking_uri())
    champion = client.get_model_version_by_alias(training.registered_model_name, training.champion_alias)
    path = client.download_artifacts(str(champion.run_id), "evaluation/report.json", str(ctx.log_dir))
    with open(path, encoding="utf-8") as handle:
        return champion, dict(json.load(handle))


def registry(ctx: SmokeContext) -> str:
    """MLflow registry: the champion alias points at a version with an ONNX export."""
    info = ctx.values["champion"]
    if info.onnx_path is None:
        return f"{info.name} v{info.version} @champion (pyfunc, no ONNX export)"
    return f"{info.name} v{info.version} @champion, ONNX export"


# ---------------------------------------------------------------- serving


def build_serving(ctx: SmokeContext) -> str:
    """The Triton model repository from models:/<name>@champion."""
    output = run_logged(ctx, "build-serving", _python("-m", f"{_package()}.serving", "build"))
    batching = platform().decision("batching")
    return f"{output.strip().splitlines()[-1].split(': ', 1)[-1]}; max batch {batching['max_batch_size']}"


def serve(ctx: SmokeContext) -> str:
    """A real Triton server (from the nvidia-pytriton wheel), waited on until /v2/health/ready."""
    from ..serving.server import read_record, stop_recorded
    from ..serving.settings import ServingSettings

    settings = ServingSettings.from_platform()
    ctx.on_exit("Triton server", lambda: _stop_triton(settings.state_dir, stop_recorded))
    started = time.monotonic()
    run_logged(ctx, "serve", _python("-m", f"{_package()}.serving", "serve"))
    record = read_record(settings.state_dir)
    if record is None:
        raise StageError(f"`serving serve` returned but left no server record in {settings.state_dir}")
    ctx.values["triton"] = record
    ports = record["ports"]
    seconds = time.monotonic() - started
    return f"ready in {seconds:.1f} s (http {ports['http']}, grpc {ports['grpc']}, metrics {ports['metrics']})"


def _stop_triton(state_dir: Path, stop_recorded: Any) -> None:
    stop_recorded(state_dir)


# ---------------------------------------------------------------- monitoring


def inference_log(ctx: SmokeContext) -> str:
    """The requests just served, read back from the Parquet inference log."""
    from ..monitoring.inference_log import read_window

    start = ctx.values["started_at"]
    window = read_window(start, datetime.now(UTC) + timedelta(minutes=1))
    if window.empty:
        raise StageError(f"no rows in the inference log {local_path('inference_log')} since {start:%H:%M:%S}")
    served = int(ctx.values.get("served_rows", 0))
    rate = float(platform().section("monitoring")["inference_log"]["sample_rate"])
    expected = served if rate >= 1.0 else int(served * rate * 0.8)  # sampling below 1 is random
    if len(window) < expected:
        raise StageError(f"only {len(window)} of {served} served rows reached the inference log (rate {rate})")
    return f"{len(window):,} rows logged under {local_path('inference_log').relative_to(platform().path.parent)}"


def drift(ctx: SmokeContext) -> str:
    """Evidently PSI of the served window against the champion's training snapshot."""
    from ..monitoring import drift as drift_job

    outcome = drift_job.run(
        platform(), start=ctx.values["started_at"], end=datetime.now(UTC) + timedelta(minutes=1), send_alerts=False
    )
    psi = outcome.summary.get("psi", {}) if outcome.summary else {}
    psi_max = max(psi.values()) if psi else float("nan")
    ctx.values["psi_max"] = psi_max
    if outcome.status not in (drift_job.EXIT_OK, drift_job.EXIT_DRIFT):
        raise StageError(f"the drift job exited {outcome.status}: {outcome.message}")
    verdict = "drift" if outcome.status == drift_job.EXIT_DRIFT else "no drift"
    return f"PSI max {psi_max:.3f}: {verdict} (threshold {platform().decision('monitoring')['psi_threshold']})"


PORT_RELEASE_S = 15.0


def stop(ctx: SmokeContext) -> str:
    """Stop Triton and check that its ports are free again."""
    from ..serving.server import port_taken

    record = ctx.values.get("triton")
    ctx.clean_up(sys.stdout)
    if record is None:
        return "nothing was running"
    # The python backend's stub processes close their inherited sockets a moment after the server
    # exits: a port is left bound only if it stays bound for PORT_RELEASE_S.
    deadline = time.monotonic() + PORT_RELEASE_S
    while busy := [port for port in record["ports"].values() if port_taken("127.0.0.1", int(port))]:
        if time.monotonic() > deadline:
            raise StageError(f"ports still bound {PORT_RELEASE_S:.0f} s after stopping Triton: {busy}")
        time.sleep(0.25)
    return "Triton stopped, ports free"


STAGES: tuple[Stage, ...] = (
    Stage("etl", "Airflow ETL DAG (dag.test) into Feast", etl),
    Stage("features", "Feast offline (point in time) and online reads", feature_store),
    Stage("train", "Kubeflow pipeline on kfp.local, tracked in MLflow", train),
    Stage("registry", "MLflow registry champion alias", registry),
    Stage("build-serving", "Triton model repository from the champion", build_serving),
    Stage("serve", "start the local Triton server", serve),
    Stage("inference-log", "read the inference log back", inference_log),
    Stage("drift", "Evidently PSI drift job", drift),
    Stage("stop", "stop everything", stop),
)


def project_stages(current: Platform | None = None) -> tuple[Stage, ...]:
    """This project's stages: STAGES, with a layer's own stages in place of (or around) some of them,
    each layer applied to the stages before it: the predict stage after serve, the feature-row one
    (smoke/rows.py) or a PyTorch framework model's (decisions.model.framework, src/<package>/vision/)
    with the stream for detection; the production contract's task stage after predict
    (decisions.task, src/<package>/tasks/); the RAG layer's (decisions.model.rag, src/<package>/rag/)
    training, ingestion and query stages; the language model's (decisions.model.llm,
    src/<package>/llm/) training and streaming stages, and its gateway's (src/<package>/gateway/) chat
    completions after them; the batch pattern's (smoke/batch.py) queue and worker, or the edge
    pattern's (smoke/edge.py) device bundle, after whichever predict stage the project has."""
    plat = current or platform()
    model = plat.decision("model")
    layers = (
        (not model.get("framework"), ".smoke.rows"),
        (model.get("framework"), ".vision.smoke"),
        (plat.decisions.get("task"), ".tasks.smoke"),
        (model.get("rag"), ".rag.smoke"),
        (model.get("llm"), ".llm.smoke"),
        (model.get("llm"), ".gateway.smoke"),
        (plat.decision("serving_pattern")["choice"] == "batch", ".smoke.batch"),
        (plat.decision("serving_pattern")["choice"] == "edge", ".smoke.edge"),
    )
    stages = STAGES
    for decided, module in layers:
        if decided:
            replaced = importlib.import_module(module, package=_package()).stages({s.name: s for s in stages})
            stages = tuple(item for stage in stages for item in replaced.get(stage.name, (stage,)))
    return stages


def prepare(current: Platform) -> SmokeContext:
    for name, value in NO_PROGRESS_BARS.items():  # set before the libraries are imported: they read it then
        os.environ.setdefault(name, value)
    quiet_library_notices()
    ctx = SmokeContext(log_dir=local_path("logs", current))
    ctx.values["started_at"] = datetime.now(UTC) - timedelta(seconds=5)
    start_warm_imports(ctx)
    return ctx
