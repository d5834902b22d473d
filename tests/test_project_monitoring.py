"""Tier 3: the monitoring layer of a representative generated project runs on real engines.

The project is rendered once and every layer installed (`stack_project`); then its own monitoring
tests run in its environment: the inference log (Parquet by hour, sampling, failing sink), Evidently
PSI against the numpy PSI, `make drift` with no drift (exit 0) and with one shifted feature (exit 3,
reports, MLflow), bad input (empty / small window, missing feature, all-null column, failing webhook)
and the drift DAGs; then `make check-rules` (promtool) in the project.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.project

SETS = ["tabular_aws_realtime"]


@pytest.mark.parametrize("name", SETS)
def test_generated_monitoring_layer_runs_on_real_engines(name: str, stack_project: Callable[[str], Path]) -> None:
    assert shutil.which("promtool"), "`promtool` is not on PATH; .ci/run installs Debian's prometheus package"
    project = stack_project(name)
    started = time.monotonic()
    result = subprocess.run(
        [
            "uv",
            "run",
            "--frozen",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_monitoring.py",
            "tests/stack/test_monitoring_stack.py",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    elapsed = time.monotonic() - started
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"{name}: the project's monitoring tests failed after {elapsed:.0f} s:\n{tail}"
    assert " passed" in result.stdout and "skipped" not in result.stdout.split("\n")[-2], tail
    rules = subprocess.run(
        ["make", "check-rules"], cwd=project, capture_output=True, text=True, timeout=300, check=False
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    print(f"{name}: monitoring tests {elapsed:.0f} s: {result.stdout.strip().splitlines()[-1]}")
