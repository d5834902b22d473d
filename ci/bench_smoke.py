"""Benchmark: `copier copy` of the default project, then `make smoke`, stage by stage.

Runs the whole path twice in one go: with the machine's warm uv cache, and with an empty one
(UV_CACHE_DIR in a temporary folder, so every package is downloaded again). Prints a table per run
and the totals against the targets (150 s warm, 300 s cold on 2 cores).

    uv run python ci/bench_smoke.py            # warm and cold
    uv run python ci/bench_smoke.py --warm     # warm only
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"warm": 150.0, "cold": 300.0}
STAGE_ROW = re.compile(r"^\| (\S+)\s+\| (ok|FAILED|skipped)\s+\| ([\d.]+)\s+\|")


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{' '.join(command)} failed after {seconds:.0f} s")
    return seconds, result.stdout + result.stderr


def run_path(label: str, workdir: Path, env: dict[str, str]) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    project = workdir / "project"
    copier = str(Path(sys.executable).parent / "copier")
    command = [copier, "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "HEAD", str(REPO), str(project)]
    seconds, _ = _timed(command, workdir, env)
    rows.append(("copier copy --defaults", seconds))
    seconds, _ = _timed(["make", "setup"], project, env)
    rows.append(("make setup (uv lock + sync, every layer)", seconds))
    seconds, output = _timed(["make", "smoke"], project, env)
    stages = [(m.group(1), float(m.group(3))) for line in output.splitlines() if (m := STAGE_ROW.match(line))]
    overhead = seconds - sum(s for _, s in stages)
    rows.append(("make smoke", seconds))
    rows += [(f"  smoke stage {name}", s) for name, s in stages]
    rows.append(("  smoke start-up (uv run, imports)", overhead))
    print(f"\n{label}: {project}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="only the warm-cache run")
    args = parser.parse_args()
    results: dict[str, list[tuple[str, float]]] = {}
    for label in ["warm"] if args.warm else ["warm", "cold"]:
        with tempfile.TemporaryDirectory(prefix=f"bench-smoke-{label}-") as tmp:
            env = {**os.environ}
            if label == "cold":
                env["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")
            results[label] = run_path(label, Path(tmp), env)
    for label, rows in results.items():
        total = sum(s for name, s in rows if not name.startswith("  "))
        print(f"\n{label} cache{'':<34}{'seconds':>9}")
        for name, seconds in rows:
            print(f"{name:<44}{seconds:>9.1f}")
        target = TARGETS[label]
        verdict = "OK" if total <= target else "OVER TARGET"
        share = total / target
        print(f"{'total (copy + setup + smoke)':<44}{total:>9.1f}  target {target:.0f} s: {verdict} ({share:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
