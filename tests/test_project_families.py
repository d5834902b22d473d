"""Tier 3: every family's data and model work in a project rendered for that family.

A project holds only its own family's sample generator, contract and model, and its tests test
that family only; so the generator renders one project per family (the first use case of the
catalog with that family, other answers default) and runs there the tests that cover the family:
the contract and settings (test_data, test_training, test_serving_config), the sample data and its
validation (stack/test_data_units), training the family's model, its ONNX export and the KFP
pipeline (stack/test_training_models), plus the family-only tests (text hashing, the click model).
Every family but tabular (test_project_monitoring runs its) also runs the drift job's stack tests on
its own sample: what drifts by accident differs by family (a recommendation sample's users and items
come from its seed; an audio clip's band energies sum to 1, so their mean is constant up to FP32
noise). The time series and text families render as edge projects and run the edge bundle's tests too:
their models (a tree regressor, a linear pipeline) export only ai.onnx.ml operators, which the edge
export ships unquantized; the vision family's network is quantized in test_project_serving's edge set.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_project_tests, template_fingerprint, top_level_tests, use_case_project, use_case_project_name
from test_render_families import FAMILIES, FAMILY_TESTS, first_use_case

pytestmark = pytest.mark.project

TESTS = [
    "tests/test_data.py",
    "tests/test_training.py",
    "tests/test_serving_config.py",
    "tests/stack/test_data_units.py",
    "tests/stack/test_training_models.py",
]
EDGE_FAMILIES = ("time_series", "text")
EDGE_TESTS = ["tests/stack/test_edge_stack.py", "tests/test_edge_settings.py", "tests/test_smoke_edge.py"]
MONITORING_TESTS = ["tests/stack/test_monitoring_stack.py"]
MONITORED_ELSEWHERE = ("tabular",)  # test_project_monitoring


def _pattern(family: str) -> dict[str, str]:
    return {"serving_pattern": "edge"} if family in EDGE_FAMILIES else {}


def project_of(params: dict[str, str]) -> str:
    """The project a test of this module uses (its xdist_group, tests/conftest.py)."""
    return use_case_project_name(first_use_case(params["family"]), **_pattern(params["family"]))


@pytest.fixture(scope="session")
def family_project() -> Callable[[str], Path]:
    """`family_project(family)`: the project of the family's first use case, committed to a fresh
    git repo and set up (`make setup`) once per template fingerprint."""
    fingerprint = template_fingerprint()

    def _get(family: str) -> Path:
        return use_case_project(first_use_case(family), fingerprint, **_pattern(family))

    return _get


@pytest.mark.parametrize("family", FAMILIES)
def test_the_familys_data_and_model_work_in_its_project(family: str, family_project: Callable[[str], Path]) -> None:
    project = family_project(family)
    own = [test for test, families in FAMILY_TESTS.items() if family in families]
    files = [*TESTS, *own, *(EDGE_TESTS if family in EDGE_FAMILIES else [])]
    files += [] if family in MONITORED_ELSEWHERE else MONITORING_TESTS
    files = list(dict.fromkeys([*top_level_tests(project), *files]))  # and the rest of its unit tests
    assert all((project / name).is_file() for name in files), files
    command = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", *files]
    run_project_tests(project, command, f"{family} family data + model + drift", timeout=1800)
