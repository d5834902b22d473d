"""Tier 2: every Python module a project holds is used by that project (issue #17's target).

ci/project_footprint.py follows the imports of a rendered project from its entry points (DAGs,
pipelines, feature repo, what the Makefile and the code start by name, the files Triton loads by
path) and its tests. A module nothing reaches is code its answers did not choose, or dead code; it
fails here for every use case's default render. So does a package module that only the tests reach:
a test helper belongs under tests/ (tests/stack/serving_demo.py, training_frames.py), an instrument of the generator
under ci/ (ci/benches/numpy_psi.py). `--runtime` there measures the same share from the modules
really imported by `make test test-stack smoke` (minutes per use case, not run here), and
`--runtime --lines` the statements that run (coverage.py in every process); its recorder and report
are checked here on a small package in a bare environment.
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


def test_lines_counts_what_a_child_process_ran_and_the_functions_it_never_ran(tmp_path: Path) -> None:
    """--lines: the recorder starts coverage.py in a process the run starts (through the rc file and
    the sitecustomize, as in a project's run), and line_use reads the combined report: statements
    run, functions of which no line ran, and out-of-sight files counted apart."""
    import os
    import subprocess

    package = tmp_path / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "used.py").write_text(
        "def called(x):\n    return x + 1\n\n\ndef never(x):\n    y = x * 2\n    return y\n", encoding="utf-8"
    )
    (package / "components.py").write_text("def step():\n    return 1\n", encoding="utf-8")
    (package / "triton_steps.py").write_text("class TritonPythonModel:\n    pass\n", encoding="utf-8")
    logs = tmp_path / "logs"
    env = project_footprint.recorder_env(logs, "pkg", lines=True)  # as runtime_modules sets up a project's run
    env["PYTHONPATH"] += os.pathsep + str(tmp_path / "src")
    # a bare environment, as a project's: coverage is not installed there (nor its .pth, which
    # would start it without the recorder)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    # leaving with os._exit, as forked workers do
    code = "import pkg.used, pkg.components, pkg.triton_steps, os; pkg.used.called(1); os._exit(0)"
    ran = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0 and "footprint:" not in ran.stderr and "sitecustomize" not in ran.stderr, ran.stderr

    recorded = [path.read_text(encoding="utf-8").splitlines() for path in (logs / "modules").glob("modules-*.txt")]
    assert any("pkg.used" in names for names in recorded)  # the module recorder ran beside coverage

    used = project_footprint.line_use(project_footprint.coverage_report(logs / "lines", package), package)

    # used.py: `def called`, its return, `def never` ran; never's two statements did not
    assert (used.statements, used.run) == (5, 3)
    assert used.never_run == {"used.py:never": 2}
    assert used.out_of_sight == {"components.py": 2, "triton_steps.py": 2}  # counted apart, run or not
