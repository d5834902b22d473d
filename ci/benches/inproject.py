"""Run a generator bench inside a rendered project's own environment.

Every bench under ci/benches is started from the generator (`uv run python ci/benches/<x>.py
--project <dir>`) and measures a rendered project: its package, its platform.yaml, its engines.
`enter()` re-runs the bench script with the project's interpreter (`<dir>/.venv/bin/python`, made
by the project's `make setup`), in the project's folder, so the project's package imports as it
does for its owner and nothing of the project is installed into the generator's environment.
The generator side times that process (interpreter start and imports included).

The bench settings (sizes, durations, concurrency) are in ci/benches/benches.yaml; the command
line overrides them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
SETTINGS = HERE / "benches.yaml"
INSIDE_ENV = "PLATFORM_BENCH_INSIDE"


class BenchError(RuntimeError):
    """The bench cannot run; the message says what is missing."""


def parser(description: str | None) -> argparse.ArgumentParser:
    """An argument parser with the `--project` every bench takes."""
    found = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    found.add_argument("--project", type=Path, required=True, help="a rendered project after its `make setup`")
    return found


def project_python(project: Path) -> Path:
    python = project / ".venv" / "bin" / "python"
    if not (project / "platform.yaml").is_file():
        raise BenchError(f"{project} is not a rendered project (no platform.yaml)")
    if not python.is_file():
        raise BenchError(f"{project} has no .venv: run `make setup` in the project first")
    return python


def inside(project: Path) -> bool:
    """True in the process that runs with the project's interpreter in the project's folder."""
    return os.environ.get(INSIDE_ENV) == str(project.resolve())


def enter(script: str, project: Path, argv: list[str]) -> int | None:
    """Outside the project: run `script argv` with the project's interpreter, print its wall time,
    return its exit status. Inside: return None (the caller runs the bench)."""
    project = project.resolve()
    if inside(project):
        os.chdir(project)
        return None
    python = project_python(project)
    venv = project / ".venv"
    env = {
        **os.environ,
        INSIDE_ENV: str(project),
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PLATFORM_CONFIG": str(project / "platform.yaml"),
        "PYTHONUNBUFFERED": "1",
        "FEAST_USAGE": "False",
    }
    env.pop("PYTHONHOME", None)
    started = time.perf_counter()
    # -P: the bench's own folder is not put first on sys.path (its module names must not shadow
    # the project's imports); the benches append it themselves.
    status = subprocess.run([str(python), "-P", script, *argv], cwd=project, env=env, check=False).returncode
    print(f"\n[{Path(script).name}: {time.perf_counter() - started:.1f} s in {project}, exit {status}]", flush=True)
    return status


def package(project: Path) -> str:
    """The project's Python package (platform.yaml's project.package)."""
    import yaml

    loaded = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    return str(loaded["project"]["package"])


def module(project: Path, name: str) -> ModuleType:
    """`<package>.<name>` of the project, e.g. module(project, "serving.server")."""
    return importlib.import_module(f"{package(project)}.{name}")


def defaults(bench: str) -> dict[str, Any]:
    """This bench's section of benches.yaml."""
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(SETTINGS.read_text(encoding="utf-8"))
    return dict(loaded[bench])


def table(rows: list[list[Any]], headers: list[str], floatfmt: str | list[str] = ".2f") -> str:
    """A plain text table (tabulate is a dependency of every generated project)."""
    from tabulate import tabulate

    return tabulate(rows, headers=headers, floatfmt=floatfmt, intfmt=",", disable_numparse=False)


def main_guard(run: Any, description: str | None, add: Any = None) -> int:
    """Parse the common arguments, enter the project, run `run(args)` inside it."""
    arguments = parser(description)
    if add is not None:
        add(arguments)
    args = arguments.parse_args()
    try:
        script = str(Path(sys.argv[0]).resolve())
        status = enter(script, args.project, [*sys.argv[1:], "--project", str(args.project.resolve())])
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if status is not None:
        return status
    args.project = args.project.resolve()
    return int(run(args))
