"""Shared fixtures: render the template into a temporary folder with given answers."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import copier
import pytest

REPO = Path(__file__).resolve().parents[1]

# The suite runs under `make test` inside this repository's uv environment. Generated projects run
# their own make and uv: they must not inherit our make level (it adds "Entering directory" lines
# to their output) or our virtual environment (uv warns and ignores it).
for _inherited in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "VIRTUAL_ENV"):
    os.environ.pop(_inherited, None)

RenderFn = Callable[..., Path]


RENDER_CACHE = REPO / "build" / "render-cache"


def project_record(project: Path) -> dict[str, Any]:
    """The `project` section of a rendered project's platform.yaml: its name, slug, package, ..."""
    return _platform_section(project, "project")


def project_decisions(project: Path) -> dict[str, Any]:
    """The engine's `decisions` recorded in a rendered project's platform.yaml."""
    return _platform_section(project, "decisions")


def _platform_section(project: Path, name: str) -> dict[str, Any]:
    import yaml

    section: dict[str, Any] = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))[name]
    return section


def render_project(dst: Path, *, vcs_ref: str | None = "HEAD", cached: bool = True, **answers: Any) -> Path:
    """Render the template into `dst` with `answers`, non-interactively.

    `vcs_ref="HEAD"` renders the working tree, uncommitted changes included; without it Copier
    would render the newest release tag, and tests would check an old version. Working-tree
    renders are cached per (answers, template fingerprint) in build/render-cache and copied to
    `dst`: tier 2 renders each representative set in a dozen test modules ($RENDER_CACHE=0 or
    `cached=False`: Copier renders into `dst` itself, e.g. to check what a rejected answer leaves there).
    """
    if vcs_ref != "HEAD" or not cached or os.environ.get("RENDER_CACHE") == "0":
        return _copier_copy(dst, vcs_ref, answers)
    import hashlib
    import json
    import shutil

    key = hashlib.sha256(json.dumps([_fingerprint_once(), sorted(answers.items())], default=str).encode()).hexdigest()[
        :20
    ]
    cached_render = RENDER_CACHE / key
    if not cached_render.is_dir():
        _fill_cache(cached_render, answers)
    shutil.copytree(cached_render, dst, symlinks=True, dirs_exist_ok=True)
    return dst


def _fill_cache(cached_render: Path, answers: dict[str, Any]) -> None:
    """Render into a system temporary folder, outside any git work tree, as a user's `copier copy`
    does (the template's `git init` task runs only outside a repository, and build/ is inside this
    one), then move the project into the cache in one rename."""
    import contextlib
    import shutil
    import tempfile

    RENDER_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="render-") as outside:
        project = _copier_copy(Path(outside) / "project", "HEAD", answers)
        scratch = Path(tempfile.mkdtemp(prefix=f".{cached_render.name}-", dir=RENDER_CACHE))
        try:
            shutil.copytree(project, scratch / "project", symlinks=True)
            with contextlib.suppress(OSError):  # a parallel worker's identical render may have won
                (scratch / "project").rename(cached_render)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


_FINGERPRINT: list[str] = []


def _fingerprint_once() -> str:
    """The template's fingerprint, computed once per test process (the template does not change
    while tests run)."""
    if not _FINGERPRINT:
        _FINGERPRINT.append(template_fingerprint())
    return _FINGERPRINT[0]


def _copier_copy(dst: Path, vcs_ref: str | None, answers: dict[str, Any]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DirtyLocalWarning: tests render the working tree on purpose
        copier.run_copy(
            str(REPO),
            str(dst),
            data=answers,
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref=vcs_ref,
        )
    return dst


@pytest.fixture
def render(tmp_path: Path) -> RenderFn:
    """`render(**answers)` -> the rendered project folder (a fresh one per call)."""
    counter = iter(range(1000))

    def _render(**answers: Any) -> Path:
        return render_project(tmp_path / f"project{next(counter)}", **answers)

    return _render


MATRIX_FILE = REPO / "ci" / "matrix.yaml"


def answer_sets(kind: str = "representative") -> dict[str, dict[str, Any]]:
    """Named answer sets from ci/matrix.yaml (`representative` or `matrix`)."""
    import yaml

    loaded: dict[str, dict[str, dict[str, Any]]] = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
    return dict(loaded.get(kind) or {})


TEMPLATE_INPUTS = ("copier.yml", "modules", "partials", "template", "terraform", "ci/matrix.yaml")
STACK_DIR = REPO / "build" / "stack"


def template_fingerprint() -> str:
    """A hash of everything that shapes a rendered project (file names and contents)."""
    import hashlib

    digest = hashlib.sha256()
    for top in TEMPLATE_INPUTS:
        root = REPO / top
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
        for path in paths:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes() if path.is_file() else str(path.readlink()).encode())
    return digest.hexdigest()[:16]


def set_up_project(name: str, answers: dict[str, Any], fingerprint: str) -> Path:
    """build/stack/<name>: the project rendered from the working tree with `answers`, committed to a
    fresh git repo (like a user's project) and set up with `make setup` (every group). The folder is
    reused by later test runs (tiers 3 and 4 run in separate processes) while the template's
    fingerprint is unchanged; any change to the template renders it anew."""
    import shutil
    import subprocess
    import time

    dst = STACK_DIR / name
    marker = STACK_DIR / f"{name}.ready"
    if marker.is_file() and marker.read_text() == fingerprint:
        return dst
    marker.unlink(missing_ok=True)
    shutil.rmtree(dst, ignore_errors=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    render_project(dst, **answers)
    git = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q"], cwd=dst, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dst, check=True)
    subprocess.run([*git, "commit", "-qm", "generated"], cwd=dst, check=True)
    rendered = time.monotonic() - started
    result = subprocess.run(["make", "setup"], cwd=dst, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"make setup failed in {dst}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print(f"{name}: rendered in {rendered:.1f} s, set up in {time.monotonic() - started - rendered:.0f} s")
    marker.write_text(fingerprint)
    return dst


def use_case_project(use_case: str, fingerprint: str, **answers: str) -> Path:
    """build/stack/use_case_<use_case>[_<answer>...]: `--defaults` plus the use case (and `answers`),
    set up once and shared by the tier-3 modules that need the same project (a family's first use case
    is often a use case with a task head: one setup serves both)."""
    return set_up_project(use_case_project_name(use_case, **answers), {"use_case": use_case, **answers}, fingerprint)


def use_case_project_name(use_case: str, **answers: str) -> str:
    return "_".join(["use_case", use_case, *answers.values()])


@pytest.fixture(scope="session")
def stack_project() -> Callable[[str], Path]:
    """`stack_project(name)`: a representative answer set of ci/matrix.yaml, rendered and set up
    (set_up_project) once per template fingerprint."""
    fingerprint = template_fingerprint()
    return lambda name: set_up_project(name, answer_sets()[name], fingerprint)


def top_level_tests(project: Path) -> list[str]:
    """The project's top-level unit tests (tests/test_*.py, part of its `make test`): config, plan,
    load test, infra, monitoring ... as rendered for that project's answers."""
    return sorted(str(path.relative_to(project)) for path in (project / "tests").glob("test_*.py"))


def run_project_tests(project: Path, command: list[str], what: str, timeout: int) -> str:
    """Run a generated project's own test command; fail with its output's tail unless every test
    ran and passed (no skips, no deselection). Returns pytest's summary line."""
    import shutil
    import subprocess
    import tempfile
    import time

    # Its own temp root: pytest keeps the newest 3 `pytest-N` folders of a root and prunes the rest, so
    # project sessions running side by side under one root delete each other's live folders (a
    # PostgreSQL started under tmp_path lost its socket that way).
    temproot = tempfile.mkdtemp(prefix=f"{project.name}-pytest-")
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": temproot}
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    finally:
        shutil.rmtree(temproot, ignore_errors=True)
    elapsed = time.monotonic() - started
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"{project.name}: the project's {what} tests failed after {elapsed:.0f} s:\n{tail}"
    # pytest's summary is its last line, but make may print "Leaving directory" after it.
    summaries = [line for line in result.stdout.splitlines() if re.search(r"\d+ passed", line)]
    summary = summaries[-1] if summaries else "(no pytest summary line)"
    assert " passed" in summary and "skipped" not in summary and "deselected" not in summary, tail
    # local state lives under .local/ (MLflow's default artifact root is ./mlruns in the working folder)
    strays = [name for name in ("mlruns", "mlartifacts") if (project / name).exists()]
    assert not strays, f"{project.name}: the {what} tests wrote {strays} at the project root, outside .local/"
    print(f"{project.name}: {what} tests {elapsed:.0f} s: {summary}")
    return summary


def run_make(project: Path, target: str, env: dict[str, str], timeout: int = 1200) -> subprocess.CompletedProcess[str]:
    """`make target` in the project; fail with its output's tail unless it exits 0."""
    result = subprocess.run(["make", target], cwd=project, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"make {target}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def ensure_made(project: Path, env: dict[str, str], probe: str, targets: tuple[str, ...]) -> None:
    """`make` each of `targets` in turn, once, unless `probe` (Python run in the project's environment)
    exits 0: what another test already made is not made again."""
    found = subprocess.run(
        ["uv", "run", "--frozen", "python", "-c", probe], cwd=project, env=env, capture_output=True, text=True
    )
    if found.returncode != 0:
        for target in targets:
            run_make(project, target, env, timeout=1800)


def ensure_champion(project: Path, env: dict[str, str]) -> None:
    """The training layer's champion; `make etl` + `make train` (the training set comes from the
    feature store) once if no other test trained it yet."""
    probe = f"from {project_record(project)['package']}.training.registry import champion; champion()"
    ensure_made(project, env, probe, ("etl", "train"))


def ensure_llm_champion(project: Path, env: dict[str, str]) -> None:
    """The language model's champion; `make llm-train` once if no other test promoted one yet."""
    probe = (
        "import sys, tempfile, pathlib; "
        f"from {project_record(project)['package']}.llm.steps import champion_folder; "
        "sys.exit(0 if champion_folder(pathlib.Path(tempfile.mkdtemp())) else 1)"
    )
    ensure_made(project, env, probe, ("llm-train",))


def serving_env(tmp_path: Path) -> dict[str, str]:
    """The environment a test runs `make serve` in: its own state and repository folders and free ports
    (tiers run projects side by side), outside the suite's virtual environment."""
    env = {
        **os.environ,
        "SERVING_STATE_DIR": str(tmp_path / "triton"),
        "SERVING_REPOSITORY": str(tmp_path / "model_repository"),
        "SERVING_HTTP_PORT": "0",
        "SERVING_GRPC_PORT": "0",
        "SERVING_METRICS_PORT": "0",
    }
    env.pop("VIRTUAL_ENV", None)
    return env


@contextlib.contextmanager
def served_by_make(project: Path, env: dict[str, str]) -> Iterator[None]:
    """`make serve` for the `with` block, then `make serve-stop`, which must report the server stopped."""
    try:
        run_make(project, "serve", env)
        yield
    finally:
        stopped = subprocess.run(["make", "serve-stop"], cwd=project, env=env, capture_output=True, text=True)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr


def run_bench(name: str, project: Path, *args: str, timeout: int = 1200) -> str:
    """`python ci/benches/<name>.py --project <project> ...` as a maintainer runs it (the bench enters the
    project's own environment); fail with its output's tail unless it exits 0. Returns its stdout."""
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    command = [sys.executable, str(REPO / "ci" / "benches" / f"{name}.py"), "--project", str(project), *args]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"ci/benches/{name}.py exited {result.returncode}:\n{output[-4000:]}"
    print(result.stdout[-3000:])
    return result.stdout


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tier markers from file names, so `ci/run_suite.py` can run the tiers one by one.

    test_engine* -> engine (tier 1); test_render*, test_terraform*, test_update* -> static
    (tier 2); test_project* -> project (tier 3); anything named *smoke* -> smoke (tier 4).
    Tiers 3 and 4 also get an xdist_group per set-up project (`_group_by_project`).
    """
    for item in items:
        name = item.path.name
        if "smoke" in name:
            item.add_marker(pytest.mark.smoke)
            _group_by_project(item)
        elif name.startswith("test_project"):
            item.add_marker(pytest.mark.project)
            _group_by_project(item)
        elif name.startswith(("test_render", "test_terraform", "test_update")):
            item.add_marker(pytest.mark.static)
        elif name.startswith("test_engine"):
            item.add_marker(pytest.mark.engine)


def _group_by_project(item: pytest.Item) -> None:
    """Tiers 3 and 4 run under `-n 2 --dist loadgroup`: the tests of one project (build/stack/<name>)
    share its .local/ state (feature store, MLflow, the champion), so they run on one worker, in order;
    different projects run side by side. The project is the test's `name` parameter (a set of
    ci/matrix.yaml), the module's `project_of(params)`, or an explicit xdist_group mark."""
    if item.get_closest_marker("xdist_group"):
        return
    params: dict[str, Any] = getattr(getattr(item, "callspec", None), "params", {})
    project_of = getattr(getattr(item, "module", None), "project_of", None)
    project = project_of(params) if project_of else params.get("name")
    if not project:
        raise pytest.UsageError(f"{item.nodeid}: which project? (a `name` parameter or an xdist_group mark)")
    item.add_marker(pytest.mark.xdist_group(str(project)))
