"""Replay the real releases: render each one, edit the project as a user would, update to now.

    uv run python ci/replay_releases.py            # every release -> the working tree, as a table
    uv run python ci/replay_releases.py 0.4.0      # one release

For each release of CHANGELOG.md (rebuilt from history by `ci/releases.py`), in a scratch folder:

1. `copier copy --vcs-ref vX` with the default answers, committed like a user's repository;
2. the user's edits: a changed setting in `platform.yaml`, custom code (a new module and a function
   added to `config.py`), a Makefile target, a deleted docs page; committed;
3. `copier update --vcs-ref <current>` through the CLI, as a user runs it;
4. checks: every edit survives; the project equals a fresh render of the current version with the
   same answers once the user's lines and files are taken out (so every template change landed;
   a file the template creates once and never updates, copier.yml `_skip_if_exists`, must exist
   but keeps the content of the release it came from); a second update to the same version
   changes nothing.

The same function backs `tests/test_update_releases.py`; this script prints the table for people.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from releases import History, Release, build_history, commit_all, git

COPIER = [sys.executable, "-m", "copier"]
IGNORED_PARTS = {".git", "__pycache__"}  # git's folder, and bytecode caches of a project run

# The user's edits: (file, text the template renders, text the user has instead).
SETTING = ("platform.yaml", "\n  logs: .local/logs\n", "\n  logs: /var/log/team-logs\n")
MAKE_TARGET = "\nteam-report: ## Our own report (a user's target)\n\t@echo 'team report'\n"
CONFIG_CODE = '\n\ndef team_helper() -> str:\n    return "kept across updates"\n'
CUSTOM_MODULE = '"""Our own code, next to the generated package."""\n\nTEAM = "fraud"\n'
DELETED_DOC = "docs/data.md"
USER_EDITS = 5  # the setting, the module, the function, the target, the deleted page


@dataclass
class Replay:
    release: str
    current: str
    exit_code: int = -1
    output: str = ""
    lost_edits: list[str] = field(default_factory=list)
    template_changed: int = 0  # files the template changed between the two releases
    not_landed: list[str] = field(default_factory=list)  # differ from the fresh render (user's lines aside)
    noop_changes: list[str] = field(default_factory=list)  # what a second update changed
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.lost_edits or self.not_landed or self.noop_changes)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` except git's folder and bytecode caches, as relative path -> content."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if (p.is_file() or p.is_symlink()) and not IGNORED_PARTS & set(p.relative_to(root).parts)
    }


def _copier(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKELEVEL", "MAKEFLAGS")}
    return subprocess.run([*COPIER, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def render(history: History, ref: str, dst: Path, answers: dict[str, Any] | None = None) -> Path:
    data = [f"--data={key}={_cli_value(value)}" for key, value in (answers or {}).items()]
    result = _copier("copy", "--trust", "--defaults", "--quiet", "--vcs-ref", ref, *data, str(history.path), str(dst))
    if result.returncode != 0:
        raise RuntimeError(f"copier copy {ref} failed:\n{result.stderr[-3000:]}")
    if not (dst / ".git").is_dir():
        git(dst, "init", "-q")
    commit_all(dst, f"generated from {ref}")
    return dst


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)


def _package(project: Path) -> str:
    return str(yaml.safe_load((project / "platform.yaml").read_text())["project"]["package"])


def edit_like_a_user(project: Path) -> None:
    path, template_text, user_text = SETTING
    text = (project / path).read_text()
    assert template_text in text, f"{path} has no {template_text.strip()!r} to change"
    (project / path).write_text(text.replace(template_text, user_text, 1))
    package = _package(project)
    (project / "src" / package / "custom" / "team.py").write_text(CUSTOM_MODULE)
    config = project / "src" / package / "config.py"
    config.write_text(config.read_text() + CONFIG_CODE)
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + MAKE_TARGET)
    (project / DELETED_DOC).unlink()
    commit_all(project, "team edits")


def lost_edits(project: Path) -> list[str]:
    package = _package(project)
    lost = []
    path, _, user_text = SETTING
    if user_text not in (project / path).read_text():
        lost.append(f"{path}: setting")
    if not (project / "src" / package / "custom" / "team.py").is_file():
        lost.append("custom/team.py")
    elif (project / "src" / package / "custom" / "team.py").read_text() != CUSTOM_MODULE:
        lost.append("custom/team.py: content")
    if CONFIG_CODE.strip() not in (project / "src" / package / "config.py").read_text():
        lost.append("config.py: team_helper")
    if MAKE_TARGET.strip() not in (project / "Makefile").read_text():
        lost.append("Makefile: team-report")
    if (project / DELETED_DOC).exists():
        lost.append(f"{DELETED_DOC}: came back")
    return lost


def without_user_edits(updated: dict[str, bytes], package: str) -> dict[str, bytes]:
    """The updated tree with the user's lines and files taken out (what the template alone gives)."""
    result = dict(updated)
    result.pop(f"src/{package}/custom/team.py", None)
    path, template_text, user_text = SETTING
    if path in result:
        result[path] = result[path].replace(user_text.encode(), template_text.encode(), 1)
    for path, added in ((f"src/{package}/config.py", CONFIG_CODE), ("Makefile", MAKE_TARGET)):
        if path in result:
            result[path] = result[path].replace(added.encode(), b"", 1)
    return result


def created_once(history: History) -> list[str]:
    """The template's `_skip_if_exists` patterns: files an update never changes once they exist."""
    config = yaml.safe_load((history.path / "copier.yml").read_text(encoding="utf-8"))
    return [str(pattern) for pattern in config.get("_skip_if_exists") or []]


def replay(history: History, release: Release, workdir: Path, answers: dict[str, Any] | None = None) -> Replay:
    """Render `release` (with `answers`, defaults otherwise), edit, update to the current version, check."""
    started = time.monotonic()
    outcome = Replay(release=release.version, current=history.current)
    project = render(history, release.tag, workdir / "project", answers)
    before = tree(render(history, release.tag, workdir / "old-fresh", answers))
    edit_like_a_user(project)

    result = _copier("update", "--trust", "--defaults", "--vcs-ref", history.current, cwd=project)
    outcome.exit_code, outcome.output = result.returncode, (result.stdout + result.stderr)[-4000:]
    if result.returncode == 0:
        outcome.lost_edits = lost_edits(project)
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        data = {k: v for k, v in answers.items() if not k.startswith("_")}
        fresh = tree(render(history, history.current, workdir / "fresh", data))
        package = _package(project)
        expected = {k: v for k, v in fresh.items() if k != DELETED_DOC}
        got = without_user_edits(tree(project), package)
        outcome.template_changed = sum(1 for k in set(fresh) | set(before) if fresh.get(k) != before.get(k))
        once = created_once(history)
        outcome.not_landed = sorted(
            k
            for k in set(expected) | set(got)
            if expected.get(k) != got.get(k)
            and not (k in expected and k in got and any(fnmatch.fnmatch(k, pattern) for pattern in once))
        )
        commit_all(project, "update")
        again = _copier("update", "--trust", "--defaults", "--vcs-ref", history.current, cwd=project)
        if again.returncode != 0:
            outcome.noop_changes = [f"exit {again.returncode}: {again.stderr[-500:]}"]
        else:
            outcome.noop_changes = git(project, "status", "--porcelain").splitlines()
    outcome.seconds = time.monotonic() - started
    return outcome


def _kept(row: Replay) -> str:
    return "-" if row.exit_code != 0 else f"{USER_EDITS - len(row.lost_edits)}/{USER_EDITS}"


def _verdict(row: Replay, problems: list[str]) -> str:
    return "-" if row.exit_code != 0 else "yes" if not problems else f"no ({len(problems)})"


def table(rows: list[Replay]) -> str:
    lines = [
        f"{'release':<10}{'-> to':<15}{'exit':>5}  {'edits kept':<12}{'template changes landed':<26}"
        f"{'= fresh render':<16}{'no-op update':<14}{'seconds':>8}"
    ]
    for row in rows:
        landed = f"{row.template_changed - len(row.not_landed)}/{row.template_changed} files"
        lines.append(
            f"{row.release:<10}{row.current:<15}{row.exit_code:>5}  "
            f"{_kept(row):<12}{landed if row.exit_code == 0 else '-':<26}"
            f"{_verdict(row, row.not_landed):<16}{_verdict(row, row.noop_changes):<14}{row.seconds:>8.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="replay-") as folder:
        history = build_history(Path(folder) / "history")
        wanted = [r for r in history.releases if not argv or r.version in argv]
        rows = []
        for release in wanted:
            print(f"replaying {release.tag} -> {history.current} ...", flush=True)
            rows.append(replay(history, release, Path(folder) / release.version))
            for problem in (rows[-1].lost_edits, rows[-1].not_landed, rows[-1].noop_changes):
                for line in problem:
                    print(f"  {line}")
            if rows[-1].exit_code != 0:
                print(rows[-1].output)
        print()
        print(table(rows))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
