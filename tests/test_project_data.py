"""Tier 3: the data layer of representative generated projects runs on real engines.

For each answer set the project is rendered once and every layer installed (`stack_project`), then the
project's own data tests run in its environment (`make test-data`: tests/test_data.py,
tests/stack/test_data_*.py and tests/stack/test_airflow_*.py): unit tests (the data interval of scheduled,
manual and backfill runs), DAG integrity, the ETL DAG end to end (`airflow db migrate` on SQLite,
`dag.test()`), idempotence, point-in-time correctness, bad data, `feast plan` after the DAG's apply, the
cloud wiring against a real PostgreSQL and Redis (started by the project's tests/stack/conftest.py), and
every DAG under a real Airflow scheduler (api-server + scheduler + dag-processor, LocalExecutor): the ETL
DAG scheduled, manual and backfill, the drift and training DAGs manual.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_project_tests

pytestmark = pytest.mark.project

SETS = ["tabular_aws_realtime"]  # image_gcp_batch runs end to end in the smoke tier


@pytest.mark.parametrize("name", SETS)
def test_generated_data_layer_runs_on_real_engines(name: str, stack_project: Callable[[str], Path]) -> None:
    for binary in ("initdb", "postgres", "redis-server"):
        assert shutil.which(binary), f"`{binary}` is not on PATH; .ci/run installs PostgreSQL and redis-server"
    project = stack_project(name)
    run_project_tests(project, ["make", "test-data"], "data", timeout=1500)
