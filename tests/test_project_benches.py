"""Tier 3: the generator's benches (ci/benches) measure a rendered project and print their tables.

The comparisons against alternatives (Triton vs `mlflow models serve` vs in-process predict, the
no-op ceiling model, the data layer's rows/s, the drift job vs numpy PSI, the training steps) live
with the generator, not in the project. Each bench runs once, briefly, against `tabular_aws_realtime`
(ci/matrix.yaml), exactly as a maintainer runs it: `python ci/benches/<x>.py --project <dir>`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ensure_champion, run_bench

pytestmark = [pytest.mark.project, pytest.mark.xdist_group("tabular_aws_realtime")]
NAME = "tabular_aws_realtime"


def _table(stdout: str, header: str) -> list[list[str]]:
    """The rows of the tabulate table whose header line starts with `header` (cells split on 2+ spaces)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip() or line.startswith(("[", "at concurrency", "imports")):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def _number(cell: str) -> float:
    return float(cell.replace(",", ""))


def _ensure_champion(project: Path) -> None:
    """The training layer's champion (and so the ETL's training set), in the environment a maintainer
    runs the benches from."""
    env = {**os.environ}
    env.pop("VIRTUAL_ENV", None)
    ensure_champion(project, env)


def test_serving_bench_compares_triton_mlflow_and_in_process(stack_project: Callable[[str], Path]) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (apt-get install wrk)")
    project = stack_project(NAME)
    _ensure_champion(project)
    stdout = run_bench("serving", project, "--duration", "2", "--concurrency", "1", "8", "--paired-rounds", "2")
    for needle in ("a/b =", "a/c =", "median of 2 back-to-back pairs", "ceiling: ", "Triton p95 "):
        assert needle in stdout, stdout[-3000:]
    rows = {(row[0], row[1]): row for row in _table(stdout, "target")}
    targets = {target for target, _ in rows}
    expected = {"a: triton (local stack)", "a0: triton, no-op model", "b: mlflow models serve -w2"}
    assert expected | {"c: in-process predict()"} <= targets, targets
    # every load level, the no-op ceiling included, served without errors and with requests
    for (target, _), row in rows.items():
        if target in expected:
            assert row[-1] == "0" and _number(row[3]) > 0, row


def test_data_bench_prints_rows_per_second(stack_project: Callable[[str], Path]) -> None:
    project = stack_project(NAME)
    stdout = run_bench("data", project, "--sizes", "20000")
    (row,) = _table(stdout, "rows")
    rows, prepare, prepare_rate, materialize, materialize_rate, keys = (_number(cell) for cell in row)
    assert 0.9 * 20_000 <= rows <= 20_000  # the planted dirty rows are quarantined
    assert prepare > 0 and materialize > 0 and 0 < keys <= rows
    assert _rate_matches(prepare_rate, rows, row[1]), row
    assert _rate_matches(materialize_rate, rows, row[3]), row


def _rate_matches(rate: float, rows: float, seconds_cell: str) -> bool:
    """rows/s agrees with the printed seconds, which are rounded to their last digit (0.07 s may be
    0.065-0.075 s: 7% apart at that size, so a fixed tolerance fails on a fast run)."""
    decimals = len(seconds_cell.split(".", 1)[1]) if "." in seconds_cell else 0
    half_unit = 0.5 * 10.0**-decimals
    seconds = _number(seconds_cell)
    slowest = rows / (seconds + half_unit)
    fastest = rows / max(seconds - half_unit, 1e-9)
    return slowest * 0.99 <= rate <= fastest * 1.01


def test_drift_bench_matches_numpy_psi(stack_project: Callable[[str], Path]) -> None:
    project = stack_project(NAME)
    stdout = run_bench("drift", project, "--sizes", "10000")
    rules = _table(stdout, "column")  # Evidently against numpy, a column per binning rule
    assert [row[0] for row in rules] == ["normal", "skewed", "counts", "with_nans"], rules
    assert all(_number(row[-1]) <= 1e-6 and _number(row[2]) > 0 for row in rules), rules
    (row,) = _table(stdout, "rows")
    assert _number(row[0]) == 10_000
    assert _number(row[1]) > 0 and _number(row[4]) > 0  # job s, np PSI s
    assert _number(row[9]) < 1e-3, row  # max |dPSI|: no sampling at 10K rows, same bins
    assert row[10] == "2 / 2", row  # both find the two shifted features
    assert "imports (not in the times above)" in stdout


def test_training_bench_times_every_step(stack_project: Callable[[str], Path]) -> None:
    project = stack_project(NAME)
    _ensure_champion(project)  # the feature store holds a training set
    stdout = run_bench("training", project)
    rows = dict((row[0], _number(row[1])) for row in _table(stdout, "step"))
    steps = ("build_training_set", "train", "evaluate", "register", "promote")
    assert all(rows[step] > 0 for step in steps), rows
    assert rows["pipeline total"] >= sum(rows[step] for step in steps) * 0.9, rows
