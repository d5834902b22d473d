"""Tier 3: the training layer of representative generated projects trains, registers and promotes.

For each answer set the project is rendered once and every layer installed (`stack_project`), then the
project's own training tests run in its environment:
- tests/test_training.py: settings, quality gate, manifests (dev deps only);
- tests/stack/test_training_models.py: the project family's model beats its trivial baseline, its ONNX
  export keeps the serving contract, bad training sets are refused, the pipeline compiles to KFP v2
  YAML (every family's model: tests/test_project_families.py);
- tests/stack/test_training_stack.py: the ETL DAG fills Feast, `make train` (kfp.local + MLflow)
  promotes a champion, a worse configuration stays challenger, bad input and an unreachable tracking
  server stop the pipeline with nothing registered, and the champion API predicts like the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_project_tests

pytestmark = pytest.mark.project

SETS = ["tabular_aws_realtime"]  # image_gcp_batch runs end to end in the smoke tier
TESTS = ["tests/test_training.py", "tests/stack/test_training_models.py", "tests/stack/test_training_stack.py"]


@pytest.mark.parametrize("name", SETS)
def test_generated_training_layer_trains_and_promotes(name: str, stack_project: Callable[[str], Path]) -> None:
    project = stack_project(name)
    run_project_tests(
        project, ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], "training", 1800
    )
