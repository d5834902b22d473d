"""Tier 2: every Python module a project holds is used by that project (issue #17's target).

ci/project_footprint.py follows the imports of a rendered project from its entry points (DAGs,
pipelines, feature repo, what the Makefile and the code start by name, the files Triton loads by
path) and its tests. A module nothing reaches is code its answers did not choose, or dead code; it
fails here for every use case's default render. So does a package module that only the tests reach:
a test helper belongs under tests/ (tests/stack/serving_demo.py, training_frames.py), an instrument of the generator
under ci/ (ci/benches/numpy_psi.py). `--runtime` there measures the same share from the modules
really imported by `make test test-stack smoke` (minutes per use case, not run here).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, project_record
from platform_engine.tables import use_cases

sys.path.insert(0, str(REPO / "ci"))
import project_footprint


@pytest.mark.parametrize("use_case", use_cases())
def test_every_rendered_module_is_reached_by_the_project(use_case: str, render: Callable[..., Path]) -> None:
    project = render(use_case=use_case)
    package = project_record(project)["package"]
    reached, unreached = project_footprint.reach(project, package, with_tests=True)
    assert reached, f"{use_case}: no module reached; the entry points were not found"
    assert unreached == (), f"{use_case}: modules nothing in the project imports: {list(unreached)}"
    _, test_only = project_footprint.reach(project, package, with_tests=False)
    assert test_only == (), f"{use_case}: package modules only the tests import (move them under tests/): {test_only}"
