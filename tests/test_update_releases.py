"""Tier 2: replay the real releases (CHANGELOG.md names each one's commit) up to the working tree.

Each release is rendered, edited as a user would (a setting in platform.yaml, custom code, a
Makefile target, a deleted docs page) and updated to the working tree through the copier CLI:
the update exits 0, every edit survives, the project equals a fresh render of the working tree
with the same answers apart from the user's lines and files, and a second update is a no-op.
`uv run python ci/replay_releases.py` prints the same replay as a table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "ci"))
from releases import History, build_history, changelog_releases, commit_all
from replay_releases import _copier, render, replay, table, tree

RELEASES = [r for r in changelog_releases((REPO / "CHANGELOG.md").read_text(encoding="utf-8")) if r.commit]


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("releases") / "history")


def test_the_changelog_names_a_commit_for_every_release_but_the_one_in_preparation() -> None:
    releases = changelog_releases((REPO / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert len(RELEASES) >= 5, releases
    assert all(r.commit for r in releases[1:]), "only the newest section may lack its release commit"


@pytest.mark.render
@pytest.mark.parametrize("version", [r.version for r in RELEASES])
def test_a_real_release_updates_to_the_working_tree_keeping_user_edits(
    history: History, version: str, tmp_path: Path
) -> None:
    release = next(r for r in history.releases if r.version == version)
    outcome = replay(history, release, tmp_path)
    print(table([outcome]))
    assert outcome.exit_code == 0, outcome.output
    assert outcome.lost_edits == [], f"user edits lost: {outcome.lost_edits}"
    assert outcome.not_landed == [], f"differ from a fresh render of {history.current}: {outcome.not_landed}"
    assert outcome.noop_changes == [], f"a second update changed: {outcome.noop_changes}"


@pytest.mark.render
def test_an_accented_project_keeps_its_names_across_the_slug_change(history: History, tmp_path: Path) -> None:
    """0.6.0 transliterates accents in derived slugs; a 0.5.0 project named with them keeps its old
    slug and package (the pin-old-slug migration), so nothing is renamed."""
    import yaml

    release = next(r for r in history.releases if r.version == "0.5.0")
    outcome = replay(history, release, tmp_path, {"project_name": "Café Crème"})
    assert outcome.ok, (outcome.output, outcome.lost_edits, outcome.not_landed, outcome.noop_changes)
    platform = yaml.safe_load((tmp_path / "project" / "platform.yaml").read_text())
    assert (platform["project"]["slug"], platform["project"]["package"]) == ("caf-cr-me", "caf_cr_me")
    assert "kept project_slug 'caf-cr-me'" in outcome.output


@pytest.mark.render
def test_a_project_keeps_the_name_an_older_release_suggested(history: History, tmp_path: Path) -> None:
    """Releases before 0.7.0 suggested `Churn Prediction` for every use case; the working tree suggests
    the use case's own example name. An OCR project made with the old suggestion keeps its recorded
    name, slug and package through the update (nothing is renamed under a deployed stack)."""
    import yaml

    release = next(r for r in history.releases if r.version == "0.6.0")
    outcome = replay(history, release, tmp_path, {"use_case": "ocr"})
    assert outcome.ok, (outcome.output, outcome.lost_edits, outcome.not_landed, outcome.noop_changes)
    platform = yaml.safe_load((tmp_path / "project" / "platform.yaml").read_text())
    assert (platform["project"]["name"], platform["project"]["package"]) == ("Churn Prediction", "churn_prediction")
    assert (tmp_path / "project" / "src" / "churn_prediction" / "vision").is_dir()


@pytest.mark.render
def test_files_the_new_version_drops_go_unless_the_user_changed_them(history: History, tmp_path: Path) -> None:
    """The newest release's default project holds Python files that the working tree no longer renders
    for it. The update deletes the ones the user left alone and keeps, with the user's lines, the one
    the user changed (the `keep-changed` migration), and says so."""
    release = history.releases[-1]  # oldest first
    project = render(history, release.tag, tmp_path / "project")
    current = tree(render(history, history.current, tmp_path / "fresh"))
    dropped = sorted(path for path in tree(project) if path.endswith(".py") and path not in current)
    assert len(dropped) >= 2, f"{release.version} -> {history.current} drops {dropped}: pick another release"
    changed, untouched = project / dropped[0], [project / path for path in dropped[1:]]
    changed.write_text(changed.read_text() + '\n\ndef team_tweak() -> str:\n    return "ours"\n')
    commit_all(project, "a team change to a file the next version drops")

    result = _copier("update", "--trust", "--defaults", "--vcs-ref", history.current, cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    assert changed.is_file() and "def team_tweak" in changed.read_text(), "the user's changed file was deleted"
    assert f"kept {dropped[0]}" in result.stdout + result.stderr
    assert [path.name for path in untouched if path.exists()] == [], "unchanged dropped files stayed"
