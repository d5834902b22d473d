"""The template's releases, rebuilt from history: CHANGELOG.md names each release's commit.

Git tags do not travel with this repository, so a test (or a person) that needs the real tagged
history rebuilds it in a scratch clone:

    history = build_history(Path("/tmp/history"))   # clone + tags v0.1.0 ... + the working tree
    history.current                                   # the tag of the working tree ("v0.6.0")

Every `## [X.Y.Z]` section of CHANGELOG.md with a `Release commit: `<sha>`` line is tagged `vX.Y.Z`
at that commit. The working tree (uncommitted changes included) is committed on top and tagged as
the newest section without a commit (the release being prepared), or `v<newest>.post1`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "-c", "commit.gpgsign=false"]
SECTION = re.compile(r"(?m)^## \[(?P<version>[^\]]+)\]")
COMMIT = re.compile(r"(?m)^Release commit: `(?P<sha>[0-9a-f]{7,40})`")


@dataclass(frozen=True)
class Release:
    version: str
    commit: str | None  # None: the release being prepared (the working tree)

    @property
    def tag(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class History:
    path: Path
    releases: tuple[Release, ...]  # the tagged releases, oldest first
    current: str  # the working tree's tag


def changelog_releases(text: str) -> list[Release]:
    """Every versioned section of the changelog with its release commit, newest first."""
    sections = list(SECTION.finditer(text))
    found = []
    for index, match in enumerate(sections):
        version = match.group("version")
        if version.lower() == "unreleased":
            continue
        Version(version)  # a PEP 440 version, or this raises
        end = sections[index + 1].start() if index + 1 < len(sections) else len(text)
        commit = COMMIT.search(text, match.end(), end)
        found.append(Release(version, commit.group("sha") if commit else None))
    return found


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def commit_all(cwd: Path, message: str) -> None:
    """Commit everything in `cwd`, as a user does after rendering or editing a project."""
    git(cwd, "add", "-A")
    git(cwd, "commit", "-qm", message, "--no-verify")


def copy_working_tree(src: Path, dst: Path) -> None:
    """Copy src's working tree (tracked and untracked, not ignored files) into dst, links as links."""
    listed = subprocess.run(["git", "ls-files", "-coz", "--exclude-standard"], cwd=src, check=True, capture_output=True)
    for name in sorted(set(filter(None, listed.stdout.decode().split("\0")))):
        source = src / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def _snapshot_working_tree(src: Path, dst: Path) -> None:
    """Replace the files of the clone dst by src's working tree."""
    for name in filter(None, git(dst, "ls-files", "-z").split("\0")):
        (dst / name).unlink(missing_ok=True)
    copy_working_tree(src, dst)


def build_history(dst: Path, repo: Path = REPO) -> History:
    """A scratch clone of `repo` with every release tagged and the working tree as the newest tag."""
    releases = changelog_releases((repo / "CHANGELOG.md").read_text(encoding="utf-8"))
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(repo), str(dst)], check=True, capture_output=True)
    tagged = []
    for release in reversed(releases):
        if release.commit is None:
            continue
        try:
            git(dst, "tag", release.tag, release.commit)
        except subprocess.CalledProcessError as error:
            raise RuntimeError(
                f"CHANGELOG.md names commit {release.commit} for {release.version}, which this clone lacks "
                f"({error.stderr.strip()}); a shallow clone? run `git fetch --unshallow`"
            ) from error
        tagged.append(release)
    _snapshot_working_tree(repo, dst)
    git(dst, "add", "-A")
    git(dst, "commit", "-q", "--allow-empty", "--no-verify", "-m", "working tree")
    preparing = [r for r in releases if r.commit is None]
    newest = max((Version(r.version) for r in tagged), default=Version("0.0.0"))
    current = f"v{preparing[0].version}" if preparing else f"v{newest}.post1"
    git(dst, "tag", current)
    return History(path=dst, releases=tuple(tagged), current=current)
