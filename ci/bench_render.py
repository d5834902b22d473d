"""Benchmark: how long `copier copy --defaults` takes (target: under 2 s here), beside peers in the same run.

    uv run python ci/bench_render.py [--runs 5] [--no-peers] [--baseline OTHER_CHECKOUT]

One table, median of --runs runs each (wall seconds, and CPU seconds of the process and its children,
which the other jobs on a shared machine do not inflate):
- this template: the copier CLI end to end (process start included), and copier.run_copy in process;
  the CLI again with an empty temporary folder, which is what the first copy on a machine pays (the
  template's extension keeps compiled templates in Jinja's bytecode cache there: later copies load them);
- copier's floor: the same CLI rendering a one-file template (what any copier template pays);
- peers: cookiecutter rendering Kedro's project template (it ships inside the kedro wheel, so it
  renders offline), and cookiecutter-data-science's `ccds` (its template lives on GitHub: the row
  says why when the network is closed). The peers install once into a cache folder with uv
  (~/.cache/mlops-scaffold-bench, untimed);
- the decision engine's decide() alone.
Every tool runs once untimed first, with bytecode writing on (as a user's installation has it: pip
and uv tool installs compile or cache bytecode; PYTHONDONTWRITEBYTECODE would recompile copier at
every start), so no row pays for a cold disk or compilation that a second run would not.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "modules"))
TARGET_S = 2.0
REF = ("--vcs-ref", "HEAD")
PEER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlops-scaffold-bench"
KEDRO = "kedro==1.7.0"
CCDS = "cookiecutter-data-science==2.3.0"
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"} | {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


@dataclass
class Row:
    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    files: int = 0
    problem: str = ""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _count_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file() and ".git" not in path.relative_to(folder).parts)


Command = Callable[[Path], list[str]]


def _timed_commands(jobs: list[tuple[str, Command]], runs: int) -> list[Row]:
    """Run each `command(destination)` once untimed, then `runs` times timed, each into a new folder.

    The jobs take turns (A B C A B C ...), so a change in the machine's load hits them alike."""
    rows = [Row(label) for label, _ in jobs]
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        for attempt in range(runs + 1):
            for index, ((_, command), row) in enumerate(zip(jobs, rows, strict=True)):
                if row.problem:
                    continue
                dst = Path(tmp) / f"job{index}-run{attempt}"
                dst.mkdir()
                cpu, started = _children_cpu(), time.perf_counter()
                result = subprocess.run(command(dst), cwd=dst, env=ENV, capture_output=True, text=True, timeout=300)
                wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
                if result.returncode != 0:
                    row.problem = ((result.stderr.strip() or result.stdout.strip()).splitlines() or ["?"])[-1][:160]
                    continue
                if attempt:
                    row.wall.append(wall)
                    row.cpu.append(cpu)
                # the project, not the first-copy row's temporary folder beside it
                row.files = _count_files(dst / "project" if (dst / "project").is_dir() else dst)
                shutil.rmtree(dst, ignore_errors=True)
    return rows


def _copier(template: Path, extra: tuple[str, ...] = ()) -> Command:
    copier = str(Path(sys.executable).parent / "copier")
    return lambda dst: [copier, "copy", "--trust", "--defaults", "--quiet", *extra, str(template), str(dst / "project")]


def _cold(command: Command) -> Command:
    """The same command with an empty temporary folder, so Jinja's bytecode cache starts empty: what
    the first copy on a machine pays (the extension caches compiled templates in the temp folder)."""

    def cold(dst: Path) -> list[str]:
        (dst / "tmp").mkdir()
        return ["env", f"TMPDIR={dst / 'tmp'}", *command(dst)]

    return cold


def _in_process(template: Path, runs: int) -> Row:
    """copier.run_copy in this process: the copy without the CLI's process start and imports."""
    import copier

    row = Row("copier.run_copy (in process)")
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        for attempt in range(runs + 1):
            dst = Path(tmp) / f"run{attempt}"
            cpu, started = time.process_time(), time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                copier.run_copy(str(template), str(dst), defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")
            if attempt:
                row.wall.append(time.perf_counter() - started)
                row.cpu.append(time.process_time() - cpu)
            row.files = _count_files(dst)
    return row


def _engine(runs: int) -> Row:
    from platform_engine import Answers, decide

    row = Row("decision engine: decide()")
    for _ in range(runs):
        cpu, started = time.process_time(), time.perf_counter()
        decide(Answers())
        row.wall.append(time.perf_counter() - started)
        row.cpu.append(time.process_time() - cpu)
    return row


def _peer_env(name: str, requirement: str) -> tuple[Path | None, str]:
    """A cached virtual environment holding `requirement` (created with uv once; untimed)."""
    venv = PEER_CACHE / name
    python = venv / "bin" / "python"
    if python.is_file():
        return venv, ""
    uv = shutil.which("uv")
    if uv is None:
        return None, "uv not found (needed once to install the peer)"
    steps = (
        [uv, "venv", "--quiet", "--python", "3.11", str(venv)],
        [uv, "pip", "install", "--quiet", "--python", str(python), requirement],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            return None, f"cannot install {requirement}: {(result.stderr.strip().splitlines() or ['?'])[-1][:120]}"
    return venv, ""


def _kedro_peer() -> tuple[str, Command | str]:
    label = f"peer: cookiecutter + Kedro project template ({KEDRO})"
    venv, problem = _peer_env("kedro", KEDRO)
    if venv is None:
        return label, problem
    python = str(venv / "bin" / "python")
    probe = "import kedro, pathlib; print(kedro.__version__, pathlib.Path(kedro.__file__).parent / 'templates/project')"
    version, template = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    cookiecutter = str(venv / "bin" / "cookiecutter")
    return label, lambda dst: [cookiecutter, "--no-input", "-o", str(dst), template, f"kedro_version={version}"]


def _ccds_peer() -> tuple[str, Command | str]:
    label = f"peer: cookiecutter-data-science ({CCDS}, template from GitHub)"
    venv, problem = _peer_env("ccds", CCDS)
    if venv is None:
        return label, problem
    ccds = str(venv / "bin" / "ccds")
    return label, lambda dst: [ccds, "--no-input", "-o", str(dst)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per row (default 5; one untimed run first)")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer templates")
    parser.add_argument("--template", type=Path, default=REPO, help="the template to time (default: this checkout)")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (its HEAD) to time in the same run, e.g. a release"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as floor:
        Path(floor, "copier.yml").write_text("name:\n  type: str\n  default: demo\n", encoding="utf-8")
        Path(floor, "README.md.jinja").write_text("# {{ name }}\n", encoding="utf-8")
        jobs: list[tuple[str, Command | str]] = [
            ("copier copy --defaults (CLI), this template", _copier(args.template, REF))
        ]
        jobs.append(("copier copy --defaults (CLI), this template, first copy (empty Jinja cache)", _cold(jobs[0][1])))
        if args.baseline:
            baseline = _copier(args.baseline, REF)
            jobs.append((f"copier copy --defaults (CLI), baseline {args.baseline.name}", baseline))
            jobs.append((f"copier copy --defaults (CLI), baseline {args.baseline.name}, first copy", _cold(baseline)))
        jobs.append(("copier copy --defaults (CLI), a one-file template", _copier(Path(floor))))
        if not args.no_peers:
            jobs += [_kedro_peer(), _ccds_peer()]
        runnable = [(label, job) for label, job in jobs if not isinstance(job, str)]
        timed = iter(_timed_commands(runnable, args.runs))
        rows = [Row(label, problem=job) if isinstance(job, str) else next(timed) for label, job in jobs]
    for row in rows:
        if CCDS in row.label and "git" in row.problem:
            row.problem = "unavailable: `ccds` clones its template from GitHub, which this machine cannot reach"
    at = 2 + 2 * bool(args.baseline)
    rows.insert(at, _in_process(args.template, args.runs))
    rows.append(_engine(args.runs))

    width = max(len(row.label) for row in rows) + 2
    print(f"{'what':<{width}}{'files':>6}{'runs':>5}{'wall s':>8}{'min':>7}{'max':>7}{'CPU s':>8}")
    for row in rows:
        if row.problem:
            print(f"{row.label:<{width}}  {row.problem}")
            continue
        print(
            f"{row.label:<{width}}{row.files or '':>6}{len(row.wall):>5}{statistics.median(row.wall):>8.3f}"
            f"{min(row.wall):>7.3f}{max(row.wall):>7.3f}{statistics.median(row.cpu):>8.3f}"
        )
    cli, first = statistics.median(rows[0].wall), statistics.median(rows[1].wall)
    verdict = "OK" if max(cli, first) < TARGET_S else "OVER TARGET"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\ncopier copy --defaults: {cli:.2f} s median wall ({statistics.median(rows[0].cpu):.2f} s CPU), first copy")
    print(f"{first:.2f} s, against a {TARGET_S:.0f} s target: {verdict} ({os.cpu_count()} cores, load average {load})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
