"""Benchmark: how long `copier copy --defaults` takes (target: under 5 s on 2 cores).

Prints a table: the copier CLI end to end (process start included) and the in-process render,
each over several runs, with the decision engine's own share measured in the same run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "modules"))
RUNS = 5
TARGET_S = 5.0


def _cli_once(dst: Path) -> float:
    copier = Path(sys.executable).parent / "copier"
    started = time.perf_counter()
    subprocess.run(
        [str(copier), "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "HEAD", str(REPO), str(dst)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _api_once(dst: Path) -> float:
    import copier

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(str(REPO), str(dst), defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")
    return time.perf_counter() - started


def _engine_once() -> float:
    from platform_engine import Answers, decide

    started = time.perf_counter()
    decide(Answers())
    return time.perf_counter() - started


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, (label, fn) in enumerate(
            (("copier copy --defaults (CLI)", _cli_once), ("copier.run_copy (in process)", _api_once))
        ):
            times = [fn(Path(tmp) / f"run{kind}-{i}") for i in range(RUNS)]
            rows.append((label, times))
    rows.append(("decision engine: decide()", [_engine_once() for _ in range(RUNS)]))
    print(f"{'what':<32}{'runs':>5}{'median s':>10}{'min s':>8}{'max s':>8}")
    for label, times in rows:
        print(f"{label:<32}{len(times):>5}{statistics.median(times):>10.3f}{min(times):>8.3f}{max(times):>8.3f}")
    cli = statistics.median(rows[0][1])
    verdict = "OK" if cli < TARGET_S else "OVER TARGET"
    share = cli / TARGET_S
    print(f"\ncopier copy --defaults: {cli:.2f} s median against a {TARGET_S:.0f} s target ({share:.0%}): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
