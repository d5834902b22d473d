"""Tier 2: rendering. Bad answers render nothing; every answer set renders clean, parseable files."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, answer_sets, project_record, render_project
from doc_links import dangling_documentation
from k8s_names import name_problems
from platform_engine import Answers, decide
from platform_engine.model_choice import offers_choice
from platform_engine.tables import use_cases

JINJA_LEFTOVER = re.compile(
    r"\{\{-?\s*(decisions|project_|package_name|use_case|cloud\b|owner|cost_center|_copier|environments)"
    r"|\{%-?\s*(if|for|set|endif|endfor|include|raw)\b"
)
ALL_SETS = {**answer_sets("representative"), **answer_sets("matrix")}


# ---------------------------------------------------------------- the questionnaire


def _asked_on_default_path(use_case: str) -> list[str]:
    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    asked = []
    for name, spec in questions.items():
        if name.startswith("_"):
            continue
        when = str(spec.get("when", "true"))
        if "tune" in when:
            continue
        if "offers_accuracy_choice" in when and not offers_choice(use_case):
            continue
        if "text_generation" in when and use_case not in ("text_generation", "search_rag"):
            continue
        asked.append(name)
    return asked


@pytest.mark.parametrize("use_case", use_cases())
def test_default_path_asks_at_most_twelve_questions(use_case: str) -> None:
    asked = _asked_on_default_path(use_case)
    assert len(asked) <= 12, asked


def test_every_question_has_help_and_default() -> None:
    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    for name, spec in questions.items():
        if name.startswith("_"):
            continue
        assert spec.get("help"), name
        assert "default" in spec, name


# ---------------------------------------------------------------- bad input renders nothing

BAD_ANSWERS = [
    ({"tune": True, "project_slug": "9lives"}, "project_slug"),
    ({"tune": True, "project_slug": "class"}, "project_slug"),
    ({"tune": True, "package_name": "my-package"}, "package_name"),
    ({"tune": True, "package_name": "lambda"}, "package_name"),
    ({"monthly_requests": 0}, "monthly_requests"),
    ({"monthly_requests": -100}, "monthly_requests"),
    ({"peak_rps": 0}, "peak_rps"),
    ({"peak_rps": -3}, "peak_rps"),
    ({"latency_p95_ms": 0}, "latency_p95_ms"),
    ({"latency_p95_ms": -50}, "latency_p95_ms"),
    ({"monthly_requests": 50_000_000, "peak_rps": 1}, "peak_rps"),  # below the monthly average
    ({"monthly_requests": 100, "peak_rps": 1000}, "peak_rps"),  # more in a second than in the month
    ({"use_case": "text_generation", "model_size_b": 0.001}, "model_size_b"),
    ({"use_case": "text_generation", "model_size_b": 2500}, "model_size_b"),
    ({"cost_center": ""}, "cost_center"),
    ({"owner": ""}, "owner"),
    ({"cloud": "ibm"}, "cloud"),
    ({"use_case": "astrology"}, "use_case"),
    ({"tune": True, "hosting": "api", "use_case": "tabular"}, "hosting"),
    ({"latency_p95_ms": "abc"}, "latency_p95_ms"),  # not a number: the question and its range
    ({"monthly_requests": 10**13}, "monthly_requests"),  # past the upper bound
    ({"project_name": "123 Fraud"}, "project_name"),  # derives a slug with a leading digit
    ({"project_name": "Lambda"}, "project_name"),  # derives a keyword as the package
    ({"project_name": "Customer churn prediction for the retail banking team"}, "project_name"),  # too long
]


@pytest.mark.render
@pytest.mark.parametrize(("answers", "question"), BAD_ANSWERS, ids=[q + str(i) for i, (_, q) in enumerate(BAD_ANSWERS)])
def test_bad_answer_is_rejected_and_renders_nothing(tmp_path: Path, answers: dict[str, Any], question: str) -> None:
    dst = tmp_path / "project"
    with pytest.raises(ValueError) as error:
        render_project(dst, cached=False, **answers)
    message = str(error.value)
    assert question in message, message
    assert not dst.exists() or not any(dst.iterdir()), "a rejected answer must render nothing"


@pytest.mark.render
def test_a_rejected_answer_leaves_an_existing_destination_as_it_was(tmp_path: Path) -> None:
    dst = tmp_path / "project"
    dst.mkdir()
    (dst / "NOTES.md").write_text("ours\n")
    with pytest.raises(ValueError, match="project_name"):
        render_project(dst, cached=False, project_name="123 Fraud")
    assert sorted(p.name for p in dst.iterdir()) == ["NOTES.md"]


# ---------------------------------------------------------------- every answer set renders clean


def _load_generated_config(project: Path) -> Any:
    """The project's config module, imported under a name of its own (projects share package names)."""
    package = project_record(project)["package"]
    folder = project / "src" / package
    name = f"generated_{abs(hash(str(project)))}"
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.config")


def _text_files(project: Path) -> list[Path]:
    skip = {".git", ".venv", "__pycache__"}
    files = []
    for path in project.rglob("*"):
        if path.is_file() and not skip & set(path.parts) and path.suffix not in {".png", ".parquet", ".onnx"}:
            files.append(path)
    return files


def check_rendered_project(project: Path, answers: dict[str, Any]) -> None:
    """The static checks every rendered project must pass (no tools beyond the generator's env)."""
    files = _text_files(project)
    for path in files:
        assert "{{" not in path.name and not path.name.endswith(".jinja"), f"unrendered path {path}"
        text = path.read_text(encoding="utf-8")
        leftover = JINJA_LEFTOVER.search(text)
        assert not leftover, f"{path.relative_to(project)}: leftover Jinja {leftover.group(0)!r}"
        if path.suffix in {".yaml", ".yml"}:
            list(yaml.safe_load_all(text))
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".json":
            json.loads(text)
        if not text.strip() and path.name not in {"__init__.py", "py.typed", ".gitkeep"}:
            pytest.fail(f"{path.relative_to(project)} is empty; conditional files must not be left behind empty")

    config = _load_generated_config(project)
    platform = config.load(project / "platform.yaml")
    expected = decide(Answers.from_mapping(_answers_file(project))).to_dict()
    assert platform.decisions == expected, "platform.yaml must carry exactly the engine's decisions"

    ruff = [sys.executable, "-m", "ruff"]
    for command in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        result = subprocess.run([*ruff, *command], cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, f"ruff {command[0]}:\n{result.stdout}{result.stderr}"
    check_ci_files(project)
    check_kubernetes(project)
    check_terraform_format(project)
    dangling = dangling_documentation(project)
    assert not dangling, "documentation that leads nowhere:\n" + "\n".join(dangling)


def _tool(name: str) -> str:
    """A tool from the generator's environment or PATH; a clear failure when it is missing."""
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: run `uv sync` (Python tools) or install it (see ci/system-deps.sh)")
    return path


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"


def check_ci_files(project: Path) -> None:
    """GitHub workflows pass actionlint; .gitlab-ci.yml passes GitLab's CI JSON schema."""
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    gitlab = project / ".gitlab-ci.yml"
    assert workflows or gitlab.is_file(), "the project has no CI configuration"
    if workflows:
        _run([_tool("actionlint"), *map(str, workflows)], project)
    if gitlab.is_file():
        _run([_tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(gitlab)], project)
    check_kind_deploy(project)


def check_kind_deploy(project: Path) -> None:
    """Either provider's CI runs `make smoke`, then deploys the local overlay on kind and checks
    Triton's health through the Service."""
    if (project / ".gitlab-ci.yml").is_file():
        jobs = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        smoke, kind = "\n".join(jobs["smoke"]["script"]), "\n".join(jobs["kind"]["script"])
        assert jobs["kind"]["needs"] == ["smoke"]
        assert any(s["name"].endswith("-dind") for s in jobs["kind"]["services"])
    else:
        workflow = yaml.safe_load((project / ".github" / "workflows" / "smoke.yml").read_text())
        steps = {
            name: "\n".join(str(step.get("run", "")) for step in job["steps"]) for name, job in workflow["jobs"].items()
        }
        smoke, kind = steps["smoke"], steps["kind"]
        assert workflow["jobs"]["kind"]["needs"] == "smoke"
    assert "make smoke" in smoke and "PROFILE=cluster-cpu" in smoke
    for expected in (
        "kubectl apply -k deploy/k8s/overlays/local",
        "rollout status deployment/triton",
        "/v2/health/ready",
    ):
        assert expected in kind, f"the kind job lacks `{expected}`"


def check_kubernetes(project: Path) -> None:
    """Every Kustomize overlay and stand-alone kustomization renders offline, validates, and keeps its
    names within Kubernetes's limits (base is checked through the overlays that include it)."""
    overlays = sorted(p.parent for p in project.glob("deploy/k8s/**/kustomization.yaml") if "base" not in p.parts)
    for overlay in overlays:
        rendered = subprocess.run([_tool("kubectl"), "kustomize", str(overlay)], capture_output=True, text=True)
        assert rendered.returncode == 0, f"kustomize {overlay}: {rendered.stderr}"
        refused = [problem for doc in yaml.safe_load_all(rendered.stdout) if doc for problem in name_problems(doc)]
        assert not refused, f"{overlay.relative_to(project)}: names Kubernetes refuses:\n" + "\n".join(refused)
        manifest = project / ".local-rendered.yaml"
        manifest.write_text(rendered.stdout)
        try:
            _run([_tool("kubernetes-validate"), "--quiet", "--strict", str(manifest)], project)
        finally:
            manifest.unlink()


def check_terraform_format(project: Path) -> None:
    if (project / "infra").is_dir():
        _run([_tool("terraform"), "fmt", "-check", "-recursive", "infra"], project)


def _answers_file(project: Path) -> dict[str, Any]:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    platform = yaml.safe_load((project / "platform.yaml").read_text())
    # hidden (tune=false) answers are not stored in the answers file; platform.yaml records them all
    return {
        **platform["answers"],
        **platform["project"],
        **answers,
        "project_name": platform["project"]["name"],
        "project_slug": platform["project"]["slug"],
        "package_name": platform["project"]["package"],
    }


@pytest.mark.render
def test_default_answers_render(tmp_path: Path) -> None:
    project = render_project(tmp_path / "default")
    for name in (
        "README.md",
        "platform.yaml",
        "pyproject.toml",
        "Makefile",
        ".copier-answers.yml",
        ".gitignore",
        "docs/decisions.md",
        "docs/architecture.md",
        "src/churn_prediction/config.py",
        "src/churn_prediction/plan.py",
    ):
        assert (project / name).is_file(), name
    assert "```mermaid" in (project / "docs" / "architecture.md").read_text()
    check_rendered_project(project, {})


@pytest.mark.render
def test_the_projects_makefile_installs_uv_when_it_is_missing(tmp_path: Path) -> None:
    """A fresh shell without uv: `make help` installs nothing; the first target that runs uv
    installs it (pip --user, from PyPI) into ~/.local/bin and uses it; the next run finds it."""
    project = render_project(tmp_path / "project")
    home = tmp_path / "home"
    home.mkdir()
    python_dir = Path(sys.executable).resolve().parent  # python3 without uv next to it
    assert not (python_dir / "uv").exists(), "this test needs a python3 whose folder holds no uv"
    env = {"HOME": str(home), "PATH": f"{python_dir}:/usr/bin:/bin", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        command = ["make", "-C", str(project), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)

    assert make("help").returncode == 0 and not (home / ".local" / "bin" / "uv").exists()
    dry_run = make("-n", "lint")
    assert dry_run.returncode == 0, dry_run.stdout + dry_run.stderr
    uv = home / ".local" / "bin" / "uv"
    assert uv.is_file() and f"{uv} run --frozen ruff check ." in dry_run.stdout
    again = make("-n", "lint")
    assert again.returncode == 0 and f"{uv} run --frozen ruff check ." in again.stdout


@pytest.mark.render
def test_a_copied_project_is_a_git_repository_of_its_own(tmp_path: Path) -> None:
    """`copier copy` ends with `git init` (copier.yml's task): `copier update` and pre-commit need a
    repository, and git commands in the project must not reach a repository around it."""
    project = render_project(tmp_path / "project")
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=project, capture_output=True, text=True, check=False
    )
    assert top.returncode == 0, top.stderr
    assert Path(top.stdout.strip()).resolve() == project.resolve()


@pytest.mark.render
def test_the_pre_commit_hooks_refuse_conflict_markers_and_rej_files(tmp_path: Path) -> None:
    """The project's .pre-commit-config.yaml runs pre-commit-hooks' check-merge-conflict and refuses
    .rej files; a clean file passes."""
    uv = shutil.which("uv")
    assert uv, "uv is needed to run pre-commit (make env installs it)"
    project = render_project(tmp_path / "project")
    (project / "notes.md").write_text("intro\n" + "<" * 7 + " ours\na\n" + "=" * 7 + "\nb\n" + ">" * 7 + " theirs\n")
    (project / "README.md.rej").write_text("@@ -1 +1 @@\n-old\n+new\n")
    (project / "clean.md").write_text("Title\n=====\n")

    def pre_commit(*files: str) -> subprocess.CompletedProcess[str]:
        command = [uv, "tool", "run", "pre-commit", "run", "--files", *files]
        return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600, check=False)

    refused = pre_commit("notes.md", "README.md.rej")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "notes.md:2: Merge conflict string" in refused.stdout and "README.md.rej" in refused.stdout
    clean = pre_commit("clean.md")
    assert clean.returncode == 0, clean.stdout + clean.stderr


@pytest.mark.render
@pytest.mark.parametrize("name", sorted(ALL_SETS))
def test_answer_set_renders_clean(tmp_path: Path, name: str) -> None:
    answers = ALL_SETS[name]
    project = render_project(tmp_path / name, **answers)
    check_rendered_project(project, answers)
    decisions_md = (project / "docs" / "decisions.md").read_text()
    for warning in yaml.safe_load((project / "platform.yaml").read_text())["decisions"]["warnings"]:
        assert warning["code"] in decisions_md


@pytest.mark.render
def test_llm_api_with_pii_warns_in_every_place(tmp_path: Path) -> None:
    project = render_project(tmp_path / "llm", **answer_sets()["llm_api_pii"])
    platform = yaml.safe_load((project / "platform.yaml").read_text())
    codes = [w["code"] for w in platform["decisions"]["warnings"]]
    assert "sensitive-data-to-api" in codes
    assert "sensitive-data-to-api" in (project / "docs" / "decisions.md").read_text()


@pytest.mark.render
def test_copy_prints_the_decisions_and_warnings(tmp_path: Path) -> None:
    copier = shutil.which("copier", path=str(Path(sys.executable).parent))
    assert copier, "copier is not installed in the generator environment (uv sync)"
    result = subprocess.run(
        [
            copier,
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "use_case=text_generation",
            "--data",
            "tune=true",
            "--data",
            "hosting=api",
            "--data",
            "data_sensitivity=pii",
            str(REPO),
            str(tmp_path / "p"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for needle in ("model", "GPU pool", "monthly cost", "Warnings", "would leave your account for GPT-4"):
        assert needle in output, needle


def test_readme_documents_every_question() -> None:
    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    readme = (REPO / "README.md").read_text()
    for name in questions:
        if not name.startswith("_"):
            assert f"| `{name}` |" in readme, f"README's question table lacks {name}"
    first_lines = readme.splitlines()[:5]
    assert any(line.startswith("make demo") for line in first_lines)
    assert any(line.startswith("make test") for line in first_lines)
