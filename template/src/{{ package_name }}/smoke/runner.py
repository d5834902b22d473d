"""A small stage runner for `make smoke`: progress per stage, a summary table, clean-up always.

Stages are plain callables that take the shared `SmokeContext` and return a key figure for the
summary. A stage that starts a process registers its stop function with `ctx.on_exit`; every
registered stop runs when the run ends, after a success, a failure or Ctrl-C.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tabulate import tabulate

StageFn = Callable[["SmokeContext"], str]

# Requests in flight in the stages that send to Triton (predict, rag-query, llm-generate)
CONCURRENCY = int(os.environ.get("SMOKE_CONCURRENCY", "8"))
# SmokeContext.values keys one layer's stage writes and another's reads:
PREDICT_PROBE = "predict_probe"  # (inputs, Triton's direct answers) of the predict stage: the batch and edge stages'
SERVED_PREDICTIONS = "served_predictions"  # vision: (Triton's answers as the task's Predictions, the annotations)


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    run: StageFn


@dataclass
class StageResult:
    name: str
    status: str
    seconds: float
    figure: str


@dataclass
class SmokeContext:
    """What stages share: the log folder, values passed between stages, and clean-ups."""

    log_dir: Path
    values: dict[str, Any] = field(default_factory=dict)
    cleanups: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def on_exit(self, what: str, stop: Callable[[], None]) -> None:
        self.cleanups.append((what, stop))

    def clean_up(self, out: TextIO) -> list[str]:
        """Run every registered stop, newest first; return the ones that failed."""
        failed = []
        while self.cleanups:
            what, stop = self.cleanups.pop()
            try:
                stop()
                print(f"  stopped {what}", file=out, flush=True)
            except Exception as error:  # clean-up must go on for the others
                failed.append(f"{what}: {error}")
                print(f"  could not stop {what}: {error}", file=out, flush=True)
        return failed


def _table(results: Sequence[StageResult]) -> str:
    rows = [(r.name, r.status, f"{r.seconds:.1f}", r.figure) for r in results]
    return str(tabulate(rows, headers=("stage", "status", "time (s)", "key figure"), tablefmt="grid"))


def run_stages(stages: Sequence[Stage], ctx: SmokeContext, out: TextIO) -> int:
    """Run stages in order; stop at the first failure. Exit status 0 when all passed, 1 otherwise."""
    ctx.log_dir.mkdir(parents=True, exist_ok=True)
    results: list[StageResult] = []
    failure: str | None = None
    total_started = time.monotonic()
    try:
        for number, stage in enumerate(stages, start=1):
            print(f"[{number}/{len(stages)}] {stage.name}: {stage.description} ...", file=out, flush=True)
            started = time.monotonic()
            try:
                figure = stage.run(ctx)
            except BaseException as error:
                seconds = time.monotonic() - started
                log = ctx.log_dir / f"smoke-{stage.name}.log"
                log.write_text("".join(traceback.format_exception(error)), encoding="utf-8")
                results.append(StageResult(stage.name, "FAILED", seconds, str(error).splitlines()[0][:80]))
                failure = f"stage '{stage.name}' failed: {error}\n  traceback: {log}\n  logs: {ctx.log_dir}"
                if isinstance(error, KeyboardInterrupt):
                    failure = f"interrupted during stage '{stage.name}'"
                break
            seconds = time.monotonic() - started
            results.append(StageResult(stage.name, "ok", seconds, figure))
            print(f"      ok in {seconds:.1f} s: {figure}", file=out, flush=True)
        for stage in stages[len(results) :]:
            results.append(StageResult(stage.name, "skipped", 0.0, ""))
    finally:
        print("clean-up:", file=out, flush=True)
        leftovers = ctx.clean_up(out)
    print("", file=out)
    print(_table(results), file=out)
    print(f"total {time.monotonic() - total_started:.1f} s", file=out)
    if failure:
        print(f"\nsmoke: FAILED, {failure}", file=out, flush=True)
        return 1
    if leftovers:
        print(f"\nsmoke: FAILED to stop: {'; '.join(leftovers)}", file=out, flush=True)
        return 1
    print("\nsmoke: OK", file=out, flush=True)
    return 0
