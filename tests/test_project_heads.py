"""Tier 3: every task head in the project that holds it, on a real Triton server.

A project holds only its own use case's head (decisions.task.modules under tasks/heads/, its
tests/test_heads_<head>.py and tests/stack/test_task_stack.py), so no single project tests every
head any more: this module renders one project per use case with a head (`--defaults` plus the
use case), checks that it holds exactly that head's modules and tests, and runs them there: the
head's unit tests, the contract's (tests/test_task_contract.py), the project's other top-level unit
tests (its load test's request is the task model's, or `rag`'s) and the task stack test (the head
served by Triton as `<model>_<head>` around the demo champion must equal the head computed in
process, over HTTP and gRPC, and answer the load test's request as the head does).

The projects live in build/stack/use_case_<use_case> (shared with test_project_families) and are
reused while the template's fingerprint is unchanged (like tests/conftest.py's `stack_project`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    ensure_champion,
    run_make,
    run_project_tests,
    served_by_make,
    serving_env,
    template_fingerprint,
    top_level_tests,
    use_case_project,
    use_case_project_name,
)
from platform_engine import Answers, decide
from platform_engine.tasks import task_use_cases

pytestmark = pytest.mark.project


def project_of(params: dict[str, str]) -> str:
    """The project a test of this module uses (its xdist_group, tests/conftest.py)."""
    return use_case_project_name(params["use_case"]) if "use_case" in params else "tabular_render"


@pytest.fixture(scope="session")
def head_project() -> Callable[[str], Path]:
    """`head_project(use_case)`: the project rendered with `--defaults` plus the use case, committed
    to a fresh git repo and set up (`make setup`) once per template fingerprint."""
    fingerprint = template_fingerprint()
    return lambda use_case: use_case_project(use_case, fingerprint)


# Use cases with a PyTorch framework (classification, detection, segmentation) serve their contract
# themselves on every pattern (tests/test_project_vision.py): they have no head.
HEAD_USE_CASES = [use_case for use_case in task_use_cases() if decide(Answers(use_case=use_case)).task is not None]


@pytest.mark.parametrize("use_case", HEAD_USE_CASES)
def test_the_project_holds_and_serves_its_own_head(head_project: Callable[[str], Path], use_case: str) -> None:
    task = decide(Answers(use_case=use_case)).task
    assert task is not None
    project = head_project(use_case)
    (heads,) = project.glob("src/*/tasks/heads")
    assert {path.stem for path in heads.glob("*.py")} == {"__init__", "base", *task["modules"]}, "the head's only"
    assert (heads.parent / "triton_task_model.py").is_file()
    expected = {f"test_heads_{task['head']}.py"} | ({"test_heads_vision.py"} if "vision" in task["modules"] else set())
    tests = sorted(path.name for path in (project / "tests").glob("test_heads_*.py"))
    assert set(tests) == expected, "the head's tests only"
    files = [*(f"tests/{name}" for name in tests), "tests/test_task_contract.py", "tests/stack/test_task_stack.py"]
    assert all((project / name).is_file() for name in files)
    files = list(dict.fromkeys([*top_level_tests(project), *files]))  # and the rest of its unit tests (load test ...)
    command = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", *files]
    run_project_tests(project, command, f"{task['head']} head + task stack", timeout=1800)


@pytest.mark.parametrize("use_case", ["embeddings"])
def test_make_load_test_drives_the_task_model(
    head_project: Callable[[str], Path], use_case: str, tmp_path: Path
) -> None:
    """`make serve load-test` where the use case has a production contract: Locust posts the head's
    requests to the task model `<model>_<head>`, the endpoint its users call, not to the core model,
    and holds the run to the p95 target."""
    task = decide(Answers(use_case=use_case)).task
    assert task is not None
    project = head_project(use_case)
    env = serving_env(tmp_path)
    ensure_champion(project, env)
    with served_by_make(project, env):
        result = run_make(project, "load-test", {**env, "LOAD_SECONDS": "6", "LOAD_USERS": "4"}, timeout=300)
    output = result.stdout + result.stderr
    path = next((word for word in output.split() if word.startswith("/v2/models/")), "")
    assert path.endswith(f"_{task['head']}/infer"), output[-3000:]
    # Locust's own table: the task model's row has requests and no failures
    (row, *_) = [line.split() for line in output.splitlines() if f" {path} " in line and "|" in line]
    assert int(row[2]) > 0 and row[3].startswith("0("), row
    assert "load test: PASS" in output, output[-3000:]


def test_a_flat_contract_project_holds_no_head(render: Callable[..., Path]) -> None:
    """The tabular default: no task layer at all (no src/<package>/tasks/), no head test, no task stack
    test, no task model."""
    project = render(use_case="tabular")
    assert not list(project.glob("src/*/tasks")), "a flat-contract project holds no task code"
    assert not list((project / "tests").rglob("test_heads_*.py"))
    assert not (project / "tests" / "stack" / "test_task_stack.py").exists()
    assert not (project / "tests" / "test_task_contract.py").exists()
