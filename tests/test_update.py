"""Tier 2: `copier update` keeps the user's work, recomputes decisions and runs migrations once.

The tests build a temporary git copy of this template with four tags, like a real release history:

    v0.1.0.dev1  a dev build whose traffic answer was still called `traffic_monthly`
    v0.1.0       the working tree as it is
    v0.2.0       a later release: changed lines in README, platform.yaml, config.py and the layer files
                 (DAG, Feast, Terraform variables: those that exist), a new docs page, a removed docs
                 page, a renamed docs page, a changed test, a changed user-owned file (`_skip_if_exists`);
                 and in the decision engine: a changed table value (`error_rate_max`), a new decision
                 key that the new docs page reads, and a changed question default (`drift_schedule`)
    v0.3.0       the engine's table value changed again (old -> new -> newer in one process)
    v0.3.1       a broken release: a new page reads a decision its engine does not make

and render projects from it into temporary folders that are committed like a user's repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from conftest import REPO

sys.path.insert(0, str(REPO / "ci"))
from copier.errors import UserMessageError
from releases import commit_all, copy_working_tree, git
from replay_releases import tree

V_DEV, V1, V2 = "v0.1.0.dev1", "v0.1.0", "v0.2.0"
DEV_TRAFFIC = 2_000_000
TRAFFIC_CHANGE = {"monthly_requests": 5_000_000, "peak_rps": 200.0, "latency_p95_ms": 50}

V3 = "v0.3.0"
V_BROKEN = "v0.3.1"
V2_TITLE_SUFFIX = ": an ML platform"
ERROR_RATE = {V1: 0.01, V2: 0.02, V3: 0.03}  # monitoring.yaml's error_rate_max per release
V2_DECISION_KEY = "release_check"  # a decision key v2's engine adds and v2's new docs page reads
V2_DRIFT_SCHEDULE = "@hourly"  # v2's default for the (advanced) drift_schedule question
RENAMED_IN_V2 = ("docs/training.md", "docs/training-guide.md")
V2_LINE = "template 0.2.0 changed this line"
NEW_IN_V2 = "docs/upgrade-notes.md"
REMOVED_IN_V2 = "docs/architecture.md"
CHANGED_TEST = "tests/test_plan.py"
USER_OWNED = "src/{pkg}/custom/__init__.py"
# Layer files a user typically edits: the tests change the first file that exists for each kind.
LAYER_FILE_PATTERNS = {
    "dag": ("dags/**/*.py",),
    "feast": ("feature_repo/**/*.py", "feature_repo/**/feature_store.yaml"),
    "terraform variables": ("infra/**/*.tfvars", "infra/**/*.auto.tfvars.json", "infra/**/variables.tf"),
}
COMMENT = {".py": "# {}", ".yaml": "# {}", ".yml": "# {}", ".tf": "# {}", ".tfvars": "# {}", ".md": "<!-- {} -->"}


# ---------------------------------------------------------------------------- helpers


def without_commit(answers: bytes) -> bytes:
    return re.sub(rb"(?m)^_commit: .*$", b"_commit: X", answers)


def comment(path: str, text: str) -> str:
    suffix = Path(path).suffix
    return COMMENT.get(suffix, "# {}").format(text)


def leftovers(project: Path) -> subprocess.CompletedProcess[str]:
    """The generated project's own check, as CI and the pre-commit hook run it."""
    return subprocess.run(
        ["make", "--no-print-directory", "check-conflicts"], cwd=project, capture_output=True, text=True
    )


# ------------------------------------------------------------------- the template's history


def _dev_build_config(config: str) -> str:
    """copier.yml as the dev builds had it: the answer `traffic_monthly`, `monthly_requests` derived."""
    block = re.search(r"(?ms)^monthly_requests:\n.*?(?=^\S)", config)
    assert block, "copier.yml has no monthly_requests question"
    old = block.group(0).replace("monthly_requests:", "traffic_monthly:", 1)
    old = old.replace(
        "answer_error('monthly_requests', monthly_requests)", "answer_error('monthly_requests', traffic_monthly)"
    )
    derived = 'monthly_requests:\n  type: int\n  default: "{{ traffic_monthly }}"\n  when: false\n\n'
    return config.replace(block.group(0), old + derived, 1)


def _template_sources(template: Path, package: str) -> dict[str, Path]:
    """Rendered path -> template source file, for files whose path needs only `package_name`."""
    sources = {}
    for path in template.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(template).as_posix().replace("{{ package_name }}", package)
        if "{{" in relative or "{%" in relative:
            continue
        sources[relative.removesuffix(".jinja")] = path
    return sources


def _prepend(path: Path, line: str) -> None:
    path.write_text(line + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")


def _append(path: Path, text: str) -> None:
    content = path.read_text(encoding="utf-8")
    path.write_text(content + ("" if content.endswith("\n") else "\n") + text + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Template:
    src: Path
    package: str  # of projects rendered with the default answers
    layer_files: dict[str, str]  # kind -> rendered path of a layer file changed in v2 (those that exist)

    def copy(self, dst: Path, ref: str = V1, **answers: Any) -> Path:
        """Render `ref` into `dst` and commit it, as a user does after `copier copy`."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copier.run_copy(str(self.src), str(dst), data=answers, vcs_ref=ref, defaults=True, unsafe=True, quiet=True)
        if not (dst / ".git").is_dir():
            git(dst, "init", "-q")
        commit_all(dst, f"generated from {ref}")
        return dst

    def update(self, project: Path, ref: str = V2, conflict: str = "inline", **answers: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copier.run_update(
                str(project),
                data=answers,
                vcs_ref=ref,
                defaults=True,
                overwrite=True,
                unsafe=True,
                quiet=True,
                conflict=conflict,
            )


def _set_error_rate(src: Path, value: float) -> None:
    table = src / "modules" / "platform_engine" / "data" / "monitoring.yaml"
    text, count = re.subn(r"(?m)^error_rate_max: .*$", f"error_rate_max: {value}", table.read_text(encoding="utf-8"))
    assert count == 1, "monitoring.yaml has no error_rate_max"
    table.write_text(text, encoding="utf-8")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    src = tmp_path_factory.mktemp("template") / "mlops-template"
    src.mkdir()
    copy_working_tree(REPO, src)
    git(src, "init", "-q", "-b", "main")

    config = src / "copier.yml"
    real_config = config.read_text(encoding="utf-8")
    config.write_text(_dev_build_config(real_config), encoding="utf-8")
    commit_all(src, "dev build")
    git(src, "tag", V_DEV)

    config.write_text(real_config, encoding="utf-8")
    commit_all(src, "0.1.0")
    git(src, "tag", V1)

    # v0.2.0: find the package of a default project, to map rendered files back to their sources
    probe = tmp_path_factory.mktemp("probe") / "p"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(str(src), str(probe), vcs_ref=V1, defaults=True, unsafe=True, quiet=True, skip_tasks=True)
    package = yaml.safe_load((probe / "platform.yaml").read_text())["project"]["package"]
    sources = _template_sources(src / "template", package)

    readme = sources["README.md"]
    first, rest = readme.read_text(encoding="utf-8").split("\n", 1)
    readme.write_text(first + V2_TITLE_SUFFIX + "\n" + rest, encoding="utf-8")
    platform_yaml = sources["platform.yaml"]
    first, rest = platform_yaml.read_text(encoding="utf-8").split("\n", 1)
    platform_yaml.write_text(f"# {V2_LINE}\n" + rest, encoding="utf-8")
    for relative in (f"src/{package}/config.py", CHANGED_TEST, USER_OWNED.format(pkg=package)):
        _prepend(sources[relative], comment(relative, V2_LINE))
    layer_files = {}
    for kind, patterns in LAYER_FILE_PATTERNS.items():
        matches = [m.relative_to(probe).as_posix() for pattern in patterns for m in sorted(probe.glob(pattern))]
        editable = [m for m in matches if m in sources and not sources[m].is_symlink() and Path(m).suffix in COMMENT]
        if editable:
            _prepend(sources[editable[0]], comment(editable[0], V2_LINE))
            layer_files[kind] = editable[0]
    (src / "template" / (NEW_IN_V2 + ".jinja")).write_text(
        "# Upgrade notes for {{ project_name }}\n\nEngine check: {{ decisions.monitoring." + V2_DECISION_KEY + " }}\n"
    )
    sources[REMOVED_IN_V2].unlink()
    old_name, new_name = RENAMED_IN_V2
    sources[old_name].rename(sources[old_name].with_name(Path(new_name).name + ".jinja"))
    _set_error_rate(src, ERROR_RATE[V2])
    monitoring = src / "modules" / "platform_engine" / "monitoring.py"
    code = monitoring.read_text(encoding="utf-8")
    anchor = '            "error_rate_max": rule["error_rate_max"],\n'
    assert anchor in code, "monitoring.py changed: update the v2 fixture"
    monitoring.write_text(code.replace(anchor, anchor + f'            "{V2_DECISION_KEY}": "engine 0.2.0",\n'))
    config = src / "copier.yml"
    text = config.read_text(encoding="utf-8")
    assert 'default: "@daily"' in text
    config.write_text(text.replace('default: "@daily"', f'default: "{V2_DRIFT_SCHEDULE}"', 1))
    commit_all(src, "0.2.0")
    git(src, "tag", V2)

    _set_error_rate(src, ERROR_RATE[V3])
    commit_all(src, "0.3.0")
    git(src, "tag", V3)

    (src / "template" / "docs" / "broken.md.jinja").write_text("{{ decisions.monitoring.not_decided_yet }}\n")
    commit_all(src, "0.3.1, broken")
    git(src, "tag", V_BROKEN)
    git(src, "checkout", "-q", V3)  # the broken release stays a tag
    return Template(src=src, package=package, layer_files=layer_files)


@pytest.fixture(scope="session")
def v1_project(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template.copy(tmp_path_factory.mktemp("v1") / "project")


@pytest.fixture
def project(v1_project: Path, tmp_path: Path) -> Path:
    """A default project at v0.1.0, committed (a fresh copy of one render per test)."""
    return Path(shutil.copytree(v1_project, tmp_path / "project", symlinks=True))


# ------------------------------------------------------------------------------ the tests


@pytest.mark.render
def test_update_without_edits_equals_a_fresh_render(template: Template, project: Path, tmp_path: Path) -> None:
    template.update(project)
    fresh = template.copy(tmp_path / "fresh", ref=V2)
    updated, expected = tree(project), tree(fresh)
    updated[".copier-answers.yml"] = without_commit(updated[".copier-answers.yml"])
    expected[".copier-answers.yml"] = without_commit(expected[".copier-answers.yml"])
    assert sorted(updated) == sorted(expected)
    # the user-owned file (`_skip_if_exists`) is the one exception: an update never changes it
    user_owned = USER_OWNED.format(pkg=template.package)
    assert [path for path in expected if updated[path] != expected[path]] == [user_owned]
    assert V2_LINE not in updated[user_owned].decode()
    # a file added in v2 appears, a file removed in v2 (and not changed by the user) disappears
    assert (project / NEW_IN_V2).read_text().startswith("# Upgrade notes for")
    assert not (project / REMOVED_IN_V2).exists()
    assert leftovers(project).returncode == 0
    # the engine's changes landed: v2's table value, v2's new decision key, v2's question default
    platform = yaml.safe_load((project / "platform.yaml").read_text())
    assert platform["decisions"]["monitoring"]["error_rate_max"] == ERROR_RATE[V2]
    assert platform["decisions"]["monitoring"][V2_DECISION_KEY] == "engine 0.2.0"
    assert "Engine check: engine 0.2.0" in (project / NEW_IN_V2).read_text()
    assert platform["answers"]["drift_schedule"] == V2_DRIFT_SCHEDULE
    old_name, new_name = RENAMED_IN_V2
    assert not (project / old_name).exists() and (project / new_name).is_file()


def _same_as_fresh(project: Path, fresh: Path) -> list[str]:
    """Paths whose content differs between two projects (answers compared without `_commit`)."""
    got, expected = tree(project), tree(fresh)
    for side in (got, expected):
        side[".copier-answers.yml"] = without_commit(side[".copier-answers.yml"])
    return sorted(path for path in set(got) | set(expected) if got.get(path) != expected.get(path))


@pytest.mark.render
def test_every_render_in_one_process_uses_its_own_releases_engine(
    template: Template, project: Path, tmp_path: Path
) -> None:
    """copy, update and recopy in one process, the newest engine loaded first: no render sees
    another release's engine (a cached import once handed v2's render v1's engine)."""
    fresh = {ref: template.copy(tmp_path / f"fresh-{ref}", ref=ref) for ref in (V3, V1, V2)}
    for ref, folder in fresh.items():
        rate = yaml.safe_load((folder / "platform.yaml").read_text())["decisions"]["monitoring"]["error_rate_max"]
        assert rate == ERROR_RATE[ref], f"a fresh {ref} render used another release's engine"

    user_owned = USER_OWNED.format(pkg=template.package)  # never updated once it exists (`_skip_if_exists`)
    template.update(project, ref=V2)  # old -> new
    assert _same_as_fresh(project, fresh[V2]) == [user_owned]
    commit_all(project, "update to v2")
    template.update(project, ref=V3)  # new -> newer
    assert _same_as_fresh(project, fresh[V3]) == [user_owned]
    commit_all(project, "update to v3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_recopy(str(project), vcs_ref=V1, defaults=True, overwrite=True, unsafe=True, quiet=True)
    # recopy overwrites every file v1 renders (and leaves files it does not render, as Copier does)
    assert [p for p in _same_as_fresh(project, fresh[V1]) if (fresh[V1] / p).exists()] == []


@pytest.mark.engine
def test_the_extension_loads_one_engine_per_checkout(tmp_path: Path) -> None:
    import copier_extension

    engines = {}
    for name, rate in (("a", 0.01), ("b", 0.05)):
        folder = tmp_path / name / "platform_engine"
        shutil.copytree(copier_extension.ENGINE_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
        table_file = folder / "data" / "monitoring.yaml"
        table_file.write_text(
            re.sub(r"(?m)^error_rate_max: .*$", f"error_rate_max: {rate}", table_file.read_text()), encoding="utf-8"
        )
        engines[name] = copier_extension.load_engine(folder)
    rates = {name: e.decide(e.Answers()).monitoring.numbers["error_rate_max"] for name, e in engines.items()}
    assert rates == {"a": 0.01, "b": 0.05}
    assert copier_extension.load_engine(tmp_path / "a" / "platform_engine") is engines["a"]  # loaded once
    # a checkout whose contents change (the same temporary path reused) gets its engine anew
    table_file = tmp_path / "a" / "platform_engine" / "data" / "monitoring.yaml"
    table_file.write_text(table_file.read_text().replace("error_rate_max: 0.01", "error_rate_max: 0.07"))
    again = copier_extension.load_engine(tmp_path / "a" / "platform_engine")
    assert again.decide(again.Answers()).monitoring.numbers["error_rate_max"] == 0.07


@pytest.mark.render
def test_user_edits_survive_an_update_that_changes_other_lines(
    template: Template, project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    package = template.package
    edits: dict[str, str] = {}  # path -> text the user added or changed

    platform_yaml = project / "platform.yaml"
    text = platform_yaml.read_text()
    assert "\n  logs: .local/logs\n" in text
    platform_yaml.write_text(text.replace("\n  logs: .local/logs\n", "\n  logs: /var/log/team-logs\n"))
    edits["platform.yaml"] = "logs: /var/log/team-logs"
    _append(platform_yaml, "team:\n  oncall: '#ml-oncall'")
    _append(project / "README.md", "## Team notes\n\nOn-call: #ml-oncall.")
    edits["README.md"] = "On-call: #ml-oncall."
    config = f"src/{package}/config.py"
    _append(project / config, '\n\ndef team_helper() -> str:\n    return "kept across updates"')
    edits[config] = 'return "kept across updates"'
    for relative in template.layer_files.values():
        _append(project / relative, comment(relative, "team change: kept across updates"))
        edits[relative] = "team change: kept across updates"
    _append(project / REMOVED_IN_V2, "Team diagram notes.")  # v2 removes this file; the user changed it
    user_owned = project / USER_OWNED.format(pkg=package)
    user_owned.write_text('"""Our hooks."""\n\nTEAM = "fraud"\n')
    (project / CHANGED_TEST).unlink()  # v2 changes this file; the user deleted it
    commit_all(project, "team edits")
    capfd.readouterr()

    template.update(project)

    for relative, text in edits.items():
        content = (project / relative).read_text()
        assert text in content, f"{relative}: the user's edit was lost"
    for relative in [f"src/{package}/config.py", *template.layer_files.values()]:
        assert V2_LINE in (project / relative).read_text(), f"{relative}: the template's change is missing"
    assert V2_TITLE_SUFFIX in (project / "README.md").read_text().splitlines()[0]
    assert (project / "platform.yaml").read_text().startswith(f"# {V2_LINE}\n")
    merged = yaml.safe_load((project / "platform.yaml").read_text())
    assert merged["local"]["logs"] == "/var/log/team-logs"
    assert merged["team"] == {"oncall": "#ml-oncall"}
    print("layer files edited on both sides:", template.layer_files)
    # the user-owned file (`_skip_if_exists`) is untouched; the deleted file stays deleted
    assert user_owned.read_text() == '"""Our hooks."""\n\nTEAM = "fraud"\n'
    assert not (project / CHANGED_TEST).exists()
    # the removed file stays because the user changed it; the new one appears
    assert "Team diagram notes." in (project / REMOVED_IN_V2).read_text()
    assert f"kept {REMOVED_IN_V2}" in capfd.readouterr().out
    assert (project / NEW_IN_V2).is_file()
    check = leftovers(project)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.render
@pytest.mark.parametrize("conflict", ["inline", "rej"])
def test_edits_to_the_same_lines_conflict_and_the_check_fails(template: Template, project: Path, conflict: str) -> None:
    readme = project / "README.md"
    first, rest = readme.read_text().split("\n", 1)
    readme.write_text(first + " (fraud team)\n" + rest)
    platform_yaml = project / "platform.yaml"
    first, rest = platform_yaml.read_text().split("\n", 1)
    platform_yaml.write_text("# our platform file, edited by hand\n" + rest)
    commit_all(project, "edit the first lines")

    template.update(project, conflict=conflict)

    check = leftovers(project)
    assert check.returncode != 0
    if conflict == "inline":
        assert "<" * 7 in readme.read_text() and ">" * 7 in readme.read_text()
        assert re.search(r"(?m)^README\.md:1: Merge conflict string", check.stdout), check.stdout
        assert re.search(r"(?m)^platform\.yaml:\d+: Merge conflict string", check.stdout), check.stdout
    else:
        # --conflict rej: the file gets the template's new version; the user's change waits in the .rej
        assert readme.read_text().splitlines()[0].endswith(V2_TITLE_SUFFIX)
        assert "(fraud team)" not in readme.read_text()
        rejected = (project / "README.md.rej").read_text()
        assert re.search(r"(?m)^\+.*\(fraud team\)$", rejected), rejected
        assert platform_yaml.read_text().startswith(f"# {V2_LINE}\n")
        assert "# our platform file, edited by hand" in (project / "platform.yaml.rej").read_text()
        assert re.search(r"(?m)^README\.md\.rej: rejected update hunks for README\.md", check.stdout), check.stdout


@pytest.mark.render
def test_a_dirty_working_tree_is_refused_and_nothing_changes(template: Template, project: Path) -> None:
    _append(project / "README.md", "uncommitted work")
    before, status = tree(project), git(project, "status", "--porcelain")
    result = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--vcs-ref", V2],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "Destination repository is dirty; cannot continue." in result.stderr
    assert tree(project) == before
    assert git(project, "status", "--porcelain") == status
    with pytest.raises(UserMessageError, match="Destination repository is dirty"):
        template.update(project)
    assert tree(project) == before


@pytest.mark.render
def test_an_update_to_a_release_that_cannot_render_stops_before_writing(template: Template, project: Path) -> None:
    _append(project / "README.md", "Team notes.")
    commit_all(project, "team edits")
    before, head = tree(project), git(project, "rev-parse", "HEAD")
    result = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--vcs-ref", V_BROKEN],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "not_decided_yet" in result.stderr and "stopped before writing any file" in result.stderr
    assert "git reset --hard HEAD && git clean -fd" in result.stderr  # the way back, in the error itself
    assert tree(project) == before, "a failed update changed the project"
    assert git(project, "status", "--porcelain") == "" and git(project, "rev-parse", "HEAD") == head
    assert f"_commit: {V1}" in (project / ".copier-answers.yml").read_text()


def _decisions(project: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((project / "platform.yaml").read_text())["decisions"])


@pytest.mark.render
def test_changing_traffic_answers_recomputes_sizing_batching_budget_and_docs(
    template: Template, project: Path, tmp_path: Path
) -> None:
    from copier_extension import decisions_for

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    new = TRAFFIC_CHANGE
    before = _decisions(project)
    template.update(project, ref=V1, **new)

    after = _decisions(project)
    expected = decisions_for({k: v for k, v in answers.items() if not k.startswith("_")} | new)
    for key in ("gpu", "batching", "cost"):
        assert after[key] != before[key], f"decisions.{key} did not change"
        assert after[key]["choice"] == expected[key]["choice"]
    assert after["gpu"]["environments"] == expected["gpu"]["environments"]
    assert after["batching"]["max_batch_size"] == expected["batching"]["max_batch_size"]
    assert after["cost"]["cloud_budget_usd"] == expected["cost"]["cloud_budget_usd"]
    updated_answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {k: updated_answers[k] for k in new} == new
    decisions_md = (project / "docs" / "decisions.md").read_text()
    assert "5,000,000 requests/month" in decisions_md
    for key in ("gpu", "batching", "cost"):
        assert str(after[key]["choice"]) in decisions_md
    # every file that reads these answers (docs, platform.yaml, Terraform, Triton ...) is rendered
    # exactly as a fresh project with the new answers: nothing stale is left behind
    fresh = template.copy(tmp_path / "fresh", ref=V1, **new)
    updated, expected_tree = tree(project), tree(fresh)
    assert sorted(updated) == sorted(expected_tree)
    assert [path for path in expected_tree if updated[path] != expected_tree[path]] == []


@pytest.mark.render
def test_project_tests_pass_after_a_traffic_answer_change(template: Template, project: Path) -> None:
    """The updated project installs and its own tests pass (`make test`: the one slow test here)."""
    before = _decisions(project)
    template.update(project, ref=V1, **TRAFFIC_CHANGE)
    assert _decisions(project)["gpu"] != before["gpu"]
    commit_all(project, "more traffic")
    result = subprocess.run(["make", "test"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.render
def test_changing_traffic_answers_from_the_command_line(project: Path) -> None:
    before = _decisions(project)
    data = ["--data", "monthly_requests=5000000", "--data", "peak_rps=200", "--data", "latency_p95_ms=50"]
    result = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--quiet", "--vcs-ref=:current:", *data],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    after = _decisions(project)
    assert [key for key in ("gpu", "batching", "cost") if after[key] == before[key]] == []


def _migration_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "renamed answer 'traffic_monthly'" in line]


@pytest.mark.render
def test_the_answer_rename_migration_runs_once_for_its_version_range(
    template: Template, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = template.copy(tmp_path / "dev", ref=V_DEV, traffic_monthly=DEV_TRAFFIC)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["traffic_monthly"] == DEV_TRAFFIC and "monthly_requests" not in answers
    capfd.readouterr()

    template.update(project, ref=V1)  # crosses 0.1.0: the migration runs, once
    lines = _migration_lines(capfd.readouterr().out)
    assert len(lines) == 1, lines
    assert "before 0.1.0.dev1 -> 0.1.0, declared for 0.1.0" in lines[0]
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["monthly_requests"] == DEV_TRAFFIC and "traffic_monthly" not in answers
    assert yaml.safe_load((project / "platform.yaml").read_text())["answers"]["monthly_requests"] == DEV_TRAFFIC
    commit_all(project, "update to 0.1.0")

    template.update(project, ref=V2)  # 0.1.0 -> 0.2.0 does not cross 0.1.0: it does not run again
    assert _migration_lines(capfd.readouterr().out) == []
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["monthly_requests"] == DEV_TRAFFIC


@pytest.mark.render
def test_dev_build_straight_to_the_latest_release_migrates_once(
    template: Template, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = template.copy(tmp_path / "dev", ref=V_DEV, traffic_monthly=DEV_TRAFFIC)
    capfd.readouterr()
    template.update(project, ref=V2)
    assert len(_migration_lines(capfd.readouterr().out)) == 1
    platform = yaml.safe_load((project / "platform.yaml").read_text())
    assert platform["answers"]["monthly_requests"] == DEV_TRAFFIC
    # the decisions follow the migrated answer, not the default traffic
    from copier_extension import decisions_for

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    expected = decisions_for({k: v for k, v in answers.items() if not k.startswith("_")})
    assert platform["decisions"]["cost"]["choice"] == expected["cost"]["choice"]
    assert platform["decisions"]["gpu"]["environments"] == expected["gpu"]["environments"]


# --------------------------------------------------------------- migration script units

sys.path.insert(0, str(REPO / "migrations"))
import migrate  # noqa: E402


@pytest.mark.render
@pytest.mark.parametrize(
    ("text", "expected", "done"),
    [
        (
            "_commit: v0\ntraffic_monthly: 5\ntune: false\n",
            "_commit: v0\nmonthly_requests: 5\ntune: false\n",
            "renamed",
        ),
        ("traffic_monthly: 5\nmonthly_requests: 7\n", "monthly_requests: 7\n", "dropped"),
        ("traffic_monthly:\n- a\n- b\nx: 1\nmonthly_requests: 7\n", "x: 1\nmonthly_requests: 7\n", "dropped"),
        ("monthly_requests: 7\n", "monthly_requests: 7\n", "none"),
        ("traffic_monthly_old: 5\n  traffic_monthly: 3\n", "traffic_monthly_old: 5\n  traffic_monthly: 3\n", "none"),
    ],
)
def test_rename_answer(text: str, expected: str, done: str) -> None:
    assert migrate.rename_answer(text, "traffic_monthly", "monthly_requests") == (expected, done)


@pytest.mark.render
@pytest.mark.parametrize(
    ("text", "changed"),
    [
        ("project_name: Fraud\ncloud: aws\ndescription: 'Fraud: an ML platform on AWS, generated by the MLOps "
         "scaffold generator.'\ntune: true\n", True),
        ("project_name: Fraud\ncloud: aws\ndescription: Our fraud scores\n", False),
        ("project_name: Fraud\ncloud: gcp\n", False),
    ],
)  # fmt: skip
def test_forget_derived_description(text: str, changed: bool) -> None:
    new_text, done = migrate.forget_derived_description(text)
    assert done is changed
    loaded = yaml.safe_load(new_text)
    if changed:
        assert loaded["description"] == "" and loaded["tune"] is True and loaded["cloud"] == "aws"
    else:
        assert new_text == text


@pytest.mark.render
@pytest.mark.parametrize("tune", [False, True])
def test_a_derived_answer_follows_the_answer_it_comes_from(template: Template, tmp_path: Path, tune: bool) -> None:
    """The description says "on AWS" until `--data cloud=gcp`, then "on GCP", tuned or not."""
    project = template.copy(tmp_path / "project", tune=tune)
    assert "an ML platform on AWS" in (project / "README.md").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--quiet", "--vcs-ref=:current:",
         "--data", "cloud=gcp"],
        cwd=project, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    platform = yaml.safe_load((project / "platform.yaml").read_text())
    assert platform["project"]["description"].endswith(
        "an ML platform on GCP, generated by the MLOps scaffold generator."
    )
    assert "an ML platform on GCP" in (project / "README.md").read_text()
    assert "on AWS" not in (project / "pyproject.toml").read_text()
