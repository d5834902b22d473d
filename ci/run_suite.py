"""Run the generator's test suite tier by tier and print the time per tier.

Tiers (ARCHITECTURE.md): 1 engine, 2 render + static checks, 3 generated projects' own tests,
4 smoke runs of the whole local stack. Each tier is one pytest run; a failing tier does not stop
the later ones (so one run shows every failure), but the exit status is non-zero.

    uv run python ci/run_suite.py            # all tiers
    uv run python ci/run_suite.py 1 2        # only tiers 1 and 2
    python3 ci/run_suite.py --clean          # remove the tiers' temporary folders (`make clean`)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKERS = os.environ.get("TEST_WORKERS", "2")

PROJECTS_IN_PARALLEL = ["-n", WORKERS, "--dist", "loadgroup", "--durations=0"]
# Two projects training PyTorch models side by side on 2 cores: with torch's default of one OpenMP
# thread per core each parallel region waits for a thread the other project holds (a face model's
# fit took 801 s instead of 43-67 s on one thread). One thread per process when projects share cores.
PARALLEL_ENV = {"OMP_NUM_THREADS": "1"} if int(WORKERS) > 1 else {}

TIERS: dict[str, tuple[str, list[str]]] = {
    "1": ("engine", ["tests", "-m", "engine", "-p", "no:cacheprovider"]),
    "2": ("render + static checks", ["tests", "-m", "render or static", "-n", WORKERS, "--durations=10"]),
    # one worker per project group (tests/conftest.py `_group_by_project`): a project's tests in order
    "3": ("generated projects' tests", ["tests", "-m", "project and not smoke", *PROJECTS_IN_PARALLEL]),
    "4": ("smoke runs", ["tests", "-m", "smoke", *PROJECTS_IN_PARALLEL]),
}
# Outside this repository, as a user's projects are: inside its work tree a rendered project is not a
# git repository of its own (the template's `git init` task skips it) and git commands run in it reach
# this repository. One root per checkout, so two clones' suites on one machine keep apart.
TEMP_ROOT = Path(tempfile.gettempdir()) / f"mlops-suite-{zlib.crc32(str(REPO).encode()):08x}"
SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped|deselected)")


def run_tier(key: str) -> tuple[str, float, dict[str, int], int]:
    name, args = TIERS[key]
    print(f"\n=== tier {key}: {name} ===", flush=True)
    started = time.monotonic()
    TEMP_ROOT.mkdir(parents=True, exist_ok=True)
    parallel = PARALLEL_ENV if "--dist" in args else {}
    process = subprocess.Popen(
        # a basetemp per tier: parallel pytest runs on one machine must not prune each other's folders
        [sys.executable, "-m", "pytest", "-q", f"--basetemp={TEMP_ROOT / f'tier{key}'}", *args],
        cwd=REPO,
        env={**parallel, **os.environ},  # a value the caller set wins
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    last_lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        last_lines = [*last_lines[-5:], line]
    code = process.wait()
    counts: dict[str, int] = {}
    for line in last_lines:
        for number, word in SUMMARY.findall(line):
            word = "error" if word.startswith("error") else word
            counts[word] = counts.get(word, 0) + int(number)
    # pytest exit 5: nothing collected for this tier's marker; not a failure of the tier
    return name, time.monotonic() - started, counts, 0 if code == 5 else code


def main(argv: list[str]) -> int:
    if argv == ["--clean"]:
        shutil.rmtree(TEMP_ROOT, ignore_errors=True)
        return 0
    keys = argv or list(TIERS)
    unknown = [key for key in keys if key not in TIERS]
    if unknown:
        print(f"unknown tier {' '.join(unknown)}: choose from {' '.join(TIERS)}, or --clean", file=sys.stderr)
        return 2
    results = [(key, *run_tier(key)) for key in keys]
    print("\n=== time per tier ===")
    print(f"{'tier':<6}{'what':<30}{'seconds':>9}  {'passed':>7}{'failed':>7}{'errors':>7}  status")
    totals = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for key, name, seconds, counts, code in results:
        for word in totals:
            totals[word] += counts.get(word, 0)
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(
            f"{key:<6}{name:<30}{seconds:>9.1f}  {counts.get('passed', 0):>7}{counts.get('failed', 0):>7}"
            f"{counts.get('error', 0):>7}  {status}"
        )
    print(f"{'':<6}{'total':<30}{sum(r[2] for r in results):>9.1f}")
    failed = totals["failed"] + totals["error"]
    if any(r[4] != 0 for r in results) and failed == 0:
        failed = 1  # a tier broke before pytest could count (e.g. collection error)
    print(f"\n{totals['passed']} passed, {failed} failed, {totals['skipped']} skipped")
    return 0 if all(r[4] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
