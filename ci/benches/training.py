"""Training bench: the wall time of each step of a rendered project's training pipeline, and of the
whole run, locally (kfp.local SubprocessRunner, each step a fresh process), as `make train` runs it.

    uv run python ci/benches/training.py --project build/stack/tabular_aws_realtime [--params '{...}']

The project must be set up (`make setup`) and hold a training set (`make etl`). The run registers a
model version in the project's MLflow (as `make train` does) and promotes it when it beats the
champion. Step times are read from kfp.local's own log lines (start to finish of each task); the last
line is the bench process from interpreter start (imports included), timed by the generator side.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject

STEPS = ("build_training_set", "train", "evaluate", "register", "promote")
PIPELINE = Path("pipelines") / "training_pipeline.py"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_START = re.compile(r"Executing task '?([\w-]+)'?")
_END = re.compile(r"Task '?([\w-]+)'? finished with status")


class StepTimer(logging.Filter):
    """Wall time of each kfp.local task, read from kfp.local's own log lines (start to finish)."""

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = _ANSI.sub("", record.getMessage())
        if found := _START.search(message):
            self.started[found.group(1)] = record.created
        elif (found := _END.search(message)) and found.group(1) in self.started:
            self.seconds[found.group(1).replace("-", "_")] = record.created - self.started[found.group(1)]
        return True


def pipeline_builder(project: Path) -> Any:
    """`build` of the project's pipelines/training_pipeline.py (the pipeline `make train` runs)."""
    spec = importlib.util.spec_from_file_location("training_pipeline", project / PIPELINE)
    if spec is None or spec.loader is None:
        raise inproject.BenchError(f"{project / PIPELINE} is missing")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded.build


def run(args: argparse.Namespace) -> int:
    project: Path = args.project
    params = json.loads(args.params) if args.params else inproject.defaults("training")["params"]
    settings = inproject.module(project, "training.settings").load_settings()
    run_local = inproject.module(project, "training.run").run_local
    build = pipeline_builder(project)
    timer = StepTimer()
    root = logging.getLogger()
    root.addFilter(timer)
    try:
        result = run_local(build, settings, dict(params))
    finally:
        root.removeFilter(timer)
    decision = result.decision
    if decision:
        print(
            f"training: {decision['registered_model']} version {decision['version']} -> {decision['decision']} "
            f"({decision['primary_metric']} {decision['challenger_score']}, champion {decision['champion_score']})"
        )
    rows: list[list[Any]] = [[step, timer.seconds.get(step, float("nan"))] for step in STEPS]
    rows.append(["pipeline total", result.seconds])
    print("\nwall time per pipeline step (kfp.local SubprocessRunner, each step a fresh process):")
    print(inproject.table(rows, ["step", "seconds"], ".1f"))
    missing = [step for step in STEPS if step not in timer.seconds]
    if missing:
        print(f"error: no timing read for {', '.join(missing)} (kfp.local's log lines changed?)", file=sys.stderr)
        return 1
    return 0


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="JSON overrides of training.model_params for this run")


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, arguments))
