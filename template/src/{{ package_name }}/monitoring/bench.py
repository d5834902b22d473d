"""`make bench-drift`: the drift job against a plain numpy PSI on the same data, same run.

For each size (default 10K, 100K, 1M logged rows x 20 features) it writes a synthetic inference
log (hour-partitioned Parquet, as the logger writes it) and a reference snapshot of
training.dataset.reference_rows rows, then times in a fresh process each:

- job:   drift.run() on that window (read the log, validate, Evidently PSI, JSON + HTML reports,
         metrics file; no MLflow, no webhook); rows above monitoring.drift.max_rows are sampled;
- numpy: psi.psi_table() on all the rows of the same window and reference (reading the window
         and computing PSI timed apart: `np read s`, `np PSI s`).

`x (read+PSI)` is job time / numpy read+PSI time, `x (PSI)` job time / numpy PSI time alone.

Time excludes interpreter start and imports (printed once); peak memory is each process's peak
RSS. Two features are shifted so both sides have drift to find; |dPSI| is the largest difference
between the job's and numpy's PSI per feature.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = tuple(f"f{i:02d}" for i in range(20))
SHIFTED = ("f03", "f11")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def synthetic(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=list(FEATURES))
    if shifted:
        for name in SHIFTED:
            frame[name] = frame[name] * 1.5 + 0.8
    return frame


def prepare(folder: Path, rows: int, reference_rows: int) -> None:
    """reference.parquet and an inference log of `rows` rows under folder/log."""
    from .inference_log import InferenceLogger

    synthetic(reference_rows, seed=1, shifted=False).to_parquet(folder / "reference.parquet", index=False)
    current = synthetic(rows, seed=2, shifted=True)
    logger = InferenceLogger(uri=str(folder / "log"), sample_rate=1.0, background=False)
    for start in range(0, rows, 50_000):
        chunk = current.iloc[start : start + 50_000]
        logger.log(chunk, np.zeros(len(chunk)), "bench", 1.0)
    logger.close()
    if logger.failures:
        raise RuntimeError(f"writing the synthetic log failed: {logger.last_error}")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one(side: str, folder: Path) -> dict[str, Any]:
    """Run one side in this process; returns seconds, peak MB and the PSI per feature."""
    started_imports = time.perf_counter()
    from ..config import load
    from . import drift
    from .inference_log import read_window
    from .psi import psi_table

    if side == "job":
        import evidently.presets  # type: ignore[import-untyped]  # noqa: F401  (import time is not job time)
    imports = time.perf_counter() - started_imports
    end = datetime.now(UTC) + timedelta(minutes=1)
    start = end - timedelta(days=2)
    started = time.perf_counter()
    if side == "job":
        current_platform = load()
        settings = dataclasses.replace(
            drift.DriftSettings.from_platform(current_platform),
            features=FEATURES,
            summary_statistics=False,
            reports_dir=folder / "reports",
        )
        outcome = drift.run(
            current_platform,
            start=start,
            end=end,
            reference_path=folder / "reference.parquet",
            use_mlflow=False,
            send_alerts=False,
            settings=settings,
        )
        if outcome.status not in (drift.EXIT_OK, drift.EXIT_DRIFT):
            raise RuntimeError(outcome.message)
        values = dict(outcome.summary["psi"])
        rows = int(outcome.summary["window"]["rows"])
        read_seconds = 0.0
    else:
        current = read_window(start, end, uri=str(folder / "log"), columns=list(FEATURES))
        reference = pd.read_parquet(folder / "reference.parquet")
        read_seconds = time.perf_counter() - started
        values = psi_table(reference, current, list(FEATURES))
        rows = len(current)
    return {
        "seconds": time.perf_counter() - started,
        "read_seconds": read_seconds,
        "peak_mb": peak_mb(),
        "imports": imports,
        "psi": values,
        "rows": rows,
    }


def measure(side: str, folder: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "INFERENCE_LOG_URI": str(folder / "log"),
        "DRIFT_METRICS_TEXTFILE": str(folder / "drift.prom"),
    }
    result = subprocess.run(
        [sys.executable, "-m", __spec__.name if __spec__ else __name__, "--one", side, "--folder", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{side} run failed: {result.stderr.strip()[-2000:]}")
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="drift job vs numpy PSI: time and peak memory")
    parser.add_argument("--sizes", default=",".join(str(size) for size in DEFAULT_SIZES))
    parser.add_argument("--one", choices=("job", "numpy"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.folder)))
        return 0
    from ..config import load
    from .drift import DriftSettings

    current_platform = load()
    settings = DriftSettings.from_platform(current_platform)
    training = current_platform.raw.get("training") or {}
    reference_rows = int((training.get("dataset") or {}).get("reference_rows", 2000))
    sizes = [int(float(size)) for size in args.sizes.split(",") if size.strip()]
    print(
        f"drift job vs numpy PSI, {len(FEATURES)} features ({', '.join(SHIFTED)} shifted), reference "
        f"{reference_rows} rows, job samples above {settings.max_rows} rows per side"
    )
    header = (
        f"{'rows':>9} | {'job s':>7} | {'job MB':>7} | {'np read s':>9} | {'np PSI s':>8} | {'np MB':>6} | "
        f"{'x (read+PSI)':>12} | {'x (PSI)':>8} | {'mem x':>5} | {'max |dPSI|':>10} | drifted job/np"
    )
    print(header)
    print("-" * len(header))
    imports: dict[str, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
            folder = Path(tmp)
            prepare(folder, size, reference_rows)
            job = measure("job", folder)
            plain = measure("numpy", folder)
        imports = {"job": job["imports"], "numpy": plain["imports"]}
        delta = max(abs(job["psi"][name] - plain["psi"][name]) for name in FEATURES)
        drifted_job = sum(1 for value in job["psi"].values() if value >= settings.threshold)
        drifted_numpy = sum(1 for value in plain["psi"].values() if value >= settings.threshold)
        numpy_psi = plain["seconds"] - plain["read_seconds"]
        print(
            f"{size:>9,} | {job['seconds']:>7.2f} | {job['peak_mb']:>7.0f} | {plain['read_seconds']:>9.3f} | "
            f"{numpy_psi:>8.3f} | {plain['peak_mb']:>6.0f} | {job['seconds'] / max(plain['seconds'], 1e-9):>12.1f} | "
            f"{job['seconds'] / max(numpy_psi, 1e-9):>8.0f} | {job['peak_mb'] / max(plain['peak_mb'], 1e-9):>5.1f} | "
            f"{delta:>10.5f} | {drifted_job} / {drifted_numpy}",
            flush=True,
        )
    if imports:
        print(f"imports (not in the times above): job {imports['job']:.1f} s, numpy {imports['numpy']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
