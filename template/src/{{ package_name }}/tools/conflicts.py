"""Find what `copier update` (or a git merge) left unresolved: conflict markers and `*.rej` files.

    python -m <package>.tools.conflicts              # the whole project (make check-conflicts)
    python -m <package>.tools.conflicts FILE ...     # only these files (the pre-commit hook)

Prints one `path:line: problem` per finding and exits 1 when there is any, 0 when there is none.
A marker is a line that starts with seven `<`, `|` or `>` followed by a space or the line end, or
a line that is exactly seven `=`. In Markdown, reST and text files a `=======` line right under a
line of text is a heading underline, so it only counts when the file holds other markers too.

Standard library only: it also runs as a plain script before the project is installed
(`python3 src/<package>/tools/conflicts.py`), right after `copier update`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MARKERS = ("<" * 7, "|" * 7, ">" * 7)
SEPARATOR = "=" * 7
REJECT_SUFFIX = ".rej"
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".local",
        ".terraform",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
        ".eggs",
    }
)
PROSE_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt"})
MAX_BYTES = 10_000_000
BINARY_PROBE_BYTES = 8192


@dataclass(frozen=True)
class Problem:
    """One leftover: `line` is 0 for a problem with the whole file (a `.rej` file)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


def _is_marker(line: str) -> str | None:
    """The marker this line starts with, or None."""
    for marker in MARKERS:
        if line.startswith(marker):
            rest = line[len(marker) :]
            if not rest or rest[0] in " \t\r\n":
                return marker
    if line.rstrip() == SEPARATOR:
        return SEPARATOR
    return None


def markers_in_text(text: str, prose: bool = False) -> list[tuple[int, str]]:
    """(line number, marker) for every conflict marker in `text`."""
    lines = text.splitlines()
    found = [(number, marker) for number, line in enumerate(lines, start=1) if (marker := _is_marker(line))]
    if prose and all(marker == SEPARATOR for _, marker in found):
        # A lone `=======` under a line of text is a setext heading underline, not a conflict.
        found = [(number, marker) for number, marker in found if number == 1 or not lines[number - 2].strip()]
    return found


def _read_text(path: Path) -> str | None:
    """The file's text, or None for binary, huge or unreadable files."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:BINARY_PROBE_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def check_file(path: Path, root: Path) -> list[Problem]:
    """Problems in one file."""
    shown = _display(path, root)
    if path.name.endswith(REJECT_SUFFIX):
        target = shown[: -len(REJECT_SUFFIX)]
        return [
            Problem(
                shown,
                0,
                f"rejected update hunks for {target} (your change; {target} has the template's new version): "
                "re-apply what you still want by hand, then delete this file",
            )
        ]
    text = _read_text(path)
    if text is None:
        return []
    prose = path.suffix.lower() in PROSE_SUFFIXES
    return [
        Problem(shown, number, f"leftover conflict marker {marker!r}: resolve the conflict, then remove the markers")
        for number, marker in markers_in_text(text, prose=prose)
    ]


def iter_files(root: Path) -> Iterator[Path]:
    """Every file under `root`, skipping VCS folders, virtual environments, caches and local state."""
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            yield Path(folder, name)


def find_problems(paths: Iterable[Path] = (), root: Path | None = None) -> list[Problem]:
    """Problems in `paths` (files or folders), or in the whole project under `root` when none are given."""
    base = root or Path.cwd()
    targets = list(paths) or [base]
    problems: list[Problem] = []
    for target in targets:
        files = iter_files(target) if target.is_dir() else [target]
        for file in files:
            if file.is_file():
                problems.extend(check_file(file, base))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m <package>.tools.conflicts",
        description="Fail on leftover merge conflict markers and copier `.rej` files.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders to check (default: the project)")
    parser.add_argument("--root", type=Path, default=None, help="project folder (default: the current folder)")
    args = parser.parse_args(argv)
    problems = find_problems(args.paths, args.root)
    for problem in problems:
        print(problem)
    if problems:
        print(
            f"{len(problems)} unresolved update leftover(s): resolve them, then run `make check-conflicts` again "
            "(docs: https://copier.readthedocs.io/en/stable/updating/)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
