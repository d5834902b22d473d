"""Tier 2: the generated CI does its job on a fresh repository (GitHub and GitLab, every cloud).

Each command a workflow runs is checked against what the rendered project holds: every `make X`
names a target that exists (and `make -n` accepts it), every `python -m pkg.mod` (in the workflow
or in the recipes it reaches) names a module that renders, every `uv sync --group g` names a
dependency group, every path it reads exists. Jobs that reach the cloud get credentials by OIDC,
and the scheduled drift job runs the CronJob the monitoring kustomization renders, in its namespace.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import render_project

CLOUDS = ("aws", "gcp", "azure")
PROVIDERS = ("github", "gitlab")
# Targets that need cloud credentials (Terraform state, registry, cluster).
CLOUD_TARGETS = {"tf-init", "registry-login", "cluster-credentials", "deploy", "drift-cluster", "identities"}
CREDENTIAL_ACTIONS = ("aws-actions/configure-aws-credentials", "google-github-actions/auth", "azure/login")
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+(\.\d+)?|[0-9a-f]{40})$")
# `make` in command position (not an argument, as in `apt-get install make`).
MAKE_CALL = re.compile(r"(?:^|[;&|(]|\b(?:then|do|else))[ \t]*make\s+([^;&|\n)>]*)", re.MULTILINE)
PYTHON_MODULE = re.compile(r"python3?\s+-m\s+([\w.]+)")
UV_GROUP = re.compile(r"uv\s+(?:sync|export)\b[^\n;&|]*")
READ_PATH = re.compile(r"(?<![\w$/.-])((?:deploy|infra|dags|src|pipelines|feature_repo|loadtest|serving)/[\w./-]*)")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    root = tmp_path_factory.mktemp("workflows")
    return {
        (cloud, ci): render_project(root / f"{cloud}-{ci}", cloud=cloud, tune=True, ci_provider=ci)
        for cloud in CLOUDS
        for ci in PROVIDERS
    }


# ---------------------------------------------------------------- reading the CI files


def _extends(jobs: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """A GitLab job with its `extends` merged in (the keys GitLab merges: a shallow merge is enough here)."""
    parents = job.get("extends") or []
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged.update(_extends(jobs, jobs[parent]))
    merged.update({k: v for k, v in job.items() if k != "extends"})
    return merged


def ci_jobs(project: Path) -> dict[str, dict[str, Any]]:
    """job -> {commands, environments, credentials, uses, directories} for either provider."""
    environments = list(yaml.safe_load((project / "platform.yaml").read_text())["decisions"]["names"]["environments"])
    found: dict[str, dict[str, Any]] = {}
    for workflow in sorted((project / ".github" / "workflows").glob("*.yml")):
        doc = yaml.safe_load(workflow.read_text())
        top_token = (doc.get("permissions") or {}).get("id-token") == "write"
        for name, job in doc["jobs"].items():
            steps = job.get("steps", [])
            uses = [step["uses"] for step in steps if "uses" in step]
            token = top_token or (job.get("permissions") or {}).get("id-token") == "write"
            workdir = ((job.get("defaults") or {}).get("run") or {}).get("working-directory")
            found[f"{workflow.name}:{name}"] = {
                "commands": [step["run"] for step in steps if "run" in step],
                "environments": environments,
                "credentials": token and any(u.startswith(CREDENTIAL_ACTIONS) for u in uses),
                "uses": uses,
                "directories": [workdir] if workdir else [],
            }
    gitlab = project / ".gitlab-ci.yml"
    if gitlab.is_file():
        doc = yaml.safe_load(gitlab.read_text())
        for name, raw in doc.items():
            if name.startswith(".") or not isinstance(raw, dict) or ("script" not in raw and "extends" not in raw):
                continue
            job = _extends(doc, raw)
            before = job.get("before_script", (doc.get("default") or {}).get("before_script", []))
            found[f".gitlab-ci.yml:{name}"] = {
                "commands": [*before, *job.get("script", [])],
                "environments": environments,
                "credentials": bool(job.get("id_tokens")),
                "uses": [],
                "directories": [],
            }
    return found


def _expand(command: str, env: str) -> str:
    """The command as it runs for one environment: CI expressions and $ENV-style variables filled in."""
    command = re.sub(r"\$\{\{\s*(matrix\.env|inputs\.environment[^}]*|env\.ENV)\s*\}\}", env, command)
    return re.sub(r"\$\{?(ENV|ENV_NAME)\}?", env, command)


def make_calls(command: str) -> list[tuple[list[str], list[str]]]:
    """Each `make ...` in a shell command: (targets, variables)."""
    calls = []
    for match in MAKE_CALL.finditer(command):
        targets: list[str] = []
        variables: list[str] = []
        for token in shlex.split(match.group(1)):
            if token.startswith("-") or "$" in token:  # options; values only the CI run knows
                continue
            (variables if "=" in token else targets).append(token)
        calls.append((targets, variables))
    return calls


def makefile_targets(project: Path) -> set[str]:
    targets: set[str] = set()
    for makefile in [project / "Makefile", *sorted((project / "mk").glob("*.mk"))]:
        for line in makefile.read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.%-]+(?:\s+[A-Za-z0-9_.%-]+)*)\s*:(?!=)", line)
            if match and not line.startswith("\t"):
                targets.update(match.group(1).split())
    return targets


def dry_run(project: Path, targets: list[str], variables: list[str]) -> str:
    """`make -n` of the call: make itself says whether each target exists; the recipes it would run."""
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *targets, *variables, "TAG=0123456789ab"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"make -n {' '.join(targets)}:\n{result.stderr[-2000:]}"
    return result.stdout


def module_exists(project: Path, module: str) -> bool:
    parts = module.split(".")
    base = project / "src" / Path(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file() or (base / "__main__.py").is_file()


# ---------------------------------------------------------------- the checks


@pytest.mark.render
@pytest.mark.parametrize("ci", PROVIDERS)
@pytest.mark.parametrize("cloud", CLOUDS)
def test_workflow_commands_name_what_the_project_holds(
    projects: dict[tuple[str, str], Path], cloud: str, ci: str
) -> None:
    project = projects[(cloud, ci)]
    targets = makefile_targets(project)
    groups = set(tomllib.loads((project / "pyproject.toml").read_text())["dependency-groups"])
    jobs = ci_jobs(project)
    assert jobs, "the project has no CI jobs"
    made: set[str] = set()
    for job_name, job in jobs.items():
        for env in job["environments"]:
            for directory in job["directories"]:
                assert (project / _expand(directory, env)).is_dir(), f"{job_name}: working-directory {directory}"
            for raw in job["commands"]:
                command = _expand(raw, env)
                reached = [command]
                for call_targets, variables in make_calls(command):
                    for target in call_targets:
                        assert target in targets, f"{job_name}: `make {target}`: no such target in Makefile or mk/*.mk"
                    made.update(call_targets)
                    reached.append(dry_run(project, call_targets, variables))
                for text in reached:
                    for module in PYTHON_MODULE.findall(text):
                        if module.split(".")[0] in ("pip", "venv", "json", "uv"):
                            continue
                        assert module_exists(project, module), f"{job_name}: python -m {module}: no such module"
                    for uv_call in UV_GROUP.findall(text):
                        for group in re.findall(r"--group[= ](\S+)", uv_call):
                            assert group in groups, f"{job_name}: {uv_call.strip()}: no dependency group {group}"
                for path in READ_PATH.findall(command):
                    path = path.rstrip("/.")
                    assert (project / path).exists(), f"{job_name}: reads {path}, which the project does not hold"
                for flag, path in re.findall(r"(--file|-k|-f)\s+([\w./-]+)", reached[-1] if len(reached) > 1 else ""):
                    if not path.startswith((".local", "/", "-")) and "$" not in path:
                        assert (project / path).exists(), f"{job_name}: {flag} {path} does not exist"
    # What the issue asks each project to run from CI: the deploy (images) and the in-cluster drift job.
    assert {"deploy", "drift-cluster", "check", "test", "smoke"} <= made, sorted(made)


@pytest.mark.render
@pytest.mark.parametrize("ci", PROVIDERS)
@pytest.mark.parametrize("cloud", CLOUDS)
def test_cloud_jobs_have_oidc_credentials(projects: dict[tuple[str, str], Path], cloud: str, ci: str) -> None:
    project = projects[(cloud, ci)]
    for job_name, job in ci_jobs(project).items():
        called = {t for raw in job["commands"] for targets, _ in make_calls(raw) for t in targets}
        if called & CLOUD_TARGETS or any("terraform init" in c and "-backend=false" not in c for c in job["commands"]):
            assert job["credentials"], f"{job_name} reaches {cloud} without an OIDC credentials step"
        for action in job["uses"]:
            assert PINNED_ACTION.match(action), f"{job_name}: {action} is not pinned to a version"


@pytest.mark.render
@pytest.mark.parametrize("ci", PROVIDERS)
@pytest.mark.parametrize("cloud", CLOUDS)
def test_scheduled_drift_runs_the_cronjob_in_the_cluster(
    projects: dict[tuple[str, str], Path], cloud: str, ci: str
) -> None:
    project = projects[(cloud, ci)]
    drift_jobs = {n: j for n, j in ci_jobs(project).items() if "drift" in n.split(":")[-1] or n.startswith("drift.yml")}
    assert drift_jobs, "no drift job"
    for job_name, job in drift_jobs.items():
        called = [t for raw in job["commands"] for targets, _ in make_calls(raw) for t in targets]
        assert "drift-cluster" in called and "drift" not in called, f"{job_name} runs {called}"
    images_mk = (project / "mk" / "images.mk").read_text()
    namespace = re.search(r"^DRIFT_NAMESPACE := (\S+)", images_mk, re.MULTILINE)
    cronjob = re.search(r"^DRIFT_CRONJOB := (\S+)", images_mk, re.MULTILINE)
    assert namespace and cronjob
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed"
    rendered = subprocess.run(
        [kubectl, "kustomize", "deploy/k8s/monitoring"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    cronjobs = [d for d in yaml.safe_load_all(rendered) if d and d.get("kind") == "CronJob"]
    assert [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in cronjobs] == [
        (namespace.group(1), cronjob.group(1))
    ]
    # The log line drift-cluster reads its status from is the one the drift job prints.
    main = next(project.glob("src/*/monitoring/drift/__main__.py")).read_text()
    assert 'f"drift: exit status {outcome.status}' in main and "drift: exit status" in images_mk
