"""Drift bench: a rendered project's drift job against a plain numpy PSI on the same data, same run.

    uv run python ci/benches/drift.py --project build/stack/tabular_aws_realtime [--sizes 10000]

For each size (default 10K, 100K, 1M logged rows x 20 features) it writes a synthetic inference
log (hour-partitioned Parquet, written by the project's InferenceLogger) and a reference snapshot
of training.dataset.reference_rows rows, then times in a fresh process each:

- job:   the project's drift job on that window (read the log, validate, Evidently PSI, JSON + HTML
         reports, metrics file; no MLflow, no webhook); rows above monitoring.drift.max_rows are sampled;
- numpy: numpy_psi.psi_table() (this folder: a plain numpy PSI on Evidently's bins) on all the rows
         of the same window and reference, at the job's precision (the project's
         drift.computation.without_float_noise: FP32's 6 significant digits) (reading the window and
         computing PSI timed apart: `np read s`, `np PSI s`).

`x (read+PSI)` is job time / numpy read+PSI time, `x (PSI)` job time / numpy PSI time alone.

Time excludes interpreter start and imports (printed once); peak memory is each process's peak
RSS. Two features are shifted so both sides have drift to find; |dPSI| is the largest difference
between the job's and numpy's PSI per feature.

First, one table checks the project's Evidently PSI (drift.computation.evidently_psi) against numpy
on a column for each binning rule (Sturges bins, one bin per value, NaNs dropped); the bench exits 1
when they differ by more than 1e-6 on any of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import pkgutil
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject

FEATURES = tuple(f"f{i:02d}" for i in range(20))
SHIFTED = ("f03", "f11")
RULES_TOLERANCE = 1e-6
HEADERS = [
    "rows",
    "job s",
    "job MB",
    "np read s",
    "np PSI s",
    "np MB",
    "x (read+PSI)",
    "x (PSI)",
    "mem x",
    "max |dPSI|",
    "drifted job/np",
]
FLOATS = ["", ".2f", ".0f", ".3f", ".3f", ".0f", ".1f", ".0f", ".1f", ".5f", ""]


def job_api(project: Path, name: str) -> Any:
    """`name` (DriftSettings, run, EXIT_OK, ...) from the project's drift job: monitoring.drift, or
    the monitoring module that defines it (the job may be split into several modules)."""
    drift = inproject.module(project, "monitoring.drift")
    if hasattr(drift, name):
        return getattr(drift, name)
    monitoring = inproject.module(project, "monitoring")
    for info in pkgutil.walk_packages(monitoring.__path__, f"{monitoring.__name__}."):
        found = importlib.import_module(info.name)
        if hasattr(found, name):
            return getattr(found, name)
    raise inproject.BenchError(f"the project's monitoring package has no {name}")


def binning_rules(project: Path) -> tuple[list[list[Any]], float]:
    """The project's Evidently PSI against numpy's on a column per binning rule; (rows, largest |d|)."""
    import numpy as np
    import numpy_psi  # numpy is the project's (this process runs in its environment)
    import pandas as pd

    evidently_psi = job_api(project, "evidently_psi")
    rng = np.random.default_rng(7)
    columns = {  # name: (rule, reference, current)
        "normal": ("Sturges bins", rng.normal(size=3000), rng.normal(0.3, 1.2, size=1500)),
        "skewed": ("Sturges bins", rng.gamma(2.0, 3.0, size=3000), rng.gamma(2.5, 3.0, size=1500)),
        "counts": ("a bin per value (<= 20)", rng.poisson(3, 3000) * 1.0, rng.poisson(4, 1500) * 1.0),
        "with_nans": (
            "NaNs dropped",
            np.where(rng.random(3000) < 0.1, np.nan, rng.normal(size=3000)),
            np.where(rng.random(1500) < 0.2, np.nan, rng.normal(0.5, 1, size=1500)),
        ),
    }
    reference = pd.DataFrame({name: values for name, (_, values, _) in columns.items()})
    current = pd.DataFrame({name: values for name, (_, _, values) in columns.items()})
    job_values = evidently_psi(reference, current, threshold=0.2, drift_share=0.5)[0]
    numpy_values = numpy_psi.psi_table(reference, current, list(columns))
    rows = [
        [name, rule, job_values[name], numpy_values[name], abs(job_values[name] - numpy_values[name])]
        for name, (rule, _, _) in columns.items()
    ]
    return rows, max(row[-1] for row in rows)


def synthetic(rows: int, seed: int, shifted: bool) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=list(FEATURES))
    if shifted:
        for name in SHIFTED:
            frame[name] = frame[name] * 1.5 + 0.8
    return frame


def prepare(project: Path, folder: Path, rows: int, reference_rows: int) -> None:
    """reference.parquet and an inference log of `rows` rows under folder/log."""
    import numpy as np

    logger_class = inproject.module(project, "monitoring.inference_log").InferenceLogger
    synthetic(reference_rows, seed=1, shifted=False).to_parquet(folder / "reference.parquet", index=False)
    current = synthetic(rows, seed=2, shifted=True)
    logger = logger_class(uri=str(folder / "log"), sample_rate=1.0, background=False)
    for start in range(0, rows, 50_000):
        chunk = current.iloc[start : start + 50_000]
        logger.log(chunk, np.zeros(len(chunk)), "bench", 1.0)
    logger.close()
    if logger.failures:
        raise RuntimeError(f"writing the synthetic log failed: {logger.last_error}")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one(project: Path, side: str, folder: Path) -> dict[str, Any]:
    """Run one side in this process; returns seconds, peak MB and the PSI per feature."""
    import numpy_psi
    import pandas as pd

    started_imports = time.perf_counter()
    load = inproject.module(project, "config").load
    read_window = inproject.module(project, "monitoring.inference_log").read_window
    psi_table = numpy_psi.psi_table
    # the job compares columns at FP32's precision; numpy gets the same columns, so the bins match
    same_precision = inproject.module(project, "monitoring.drift.computation").without_float_noise
    if side == "job":
        import evidently.presets  # noqa: F401  (import time is not job time)

        drift_settings, drift_run = job_api(project, "DriftSettings"), job_api(project, "run")
        finished = (job_api(project, "EXIT_OK"), job_api(project, "EXIT_DRIFT"))
    imports = time.perf_counter() - started_imports
    end = datetime.now(UTC) + timedelta(minutes=1)
    start = end - timedelta(days=2)
    started = time.perf_counter()
    if side == "job":
        current_platform = load()
        settings = dataclasses.replace(
            drift_settings.from_platform(current_platform),
            features=FEATURES,
            summary_statistics=False,
            reports_dir=folder / "reports",
        )
        outcome = drift_run(
            current_platform,
            start=start,
            end=end,
            reference_path=folder / "reference.parquet",
            use_mlflow=False,
            send_alerts=False,
            settings=settings,
        )
        if outcome.status not in finished:
            raise RuntimeError(outcome.message)
        values = dict(outcome.summary["psi"])
        rows = int(outcome.summary["window"]["rows"])
        read_seconds = 0.0
    else:
        current = read_window(start, end, uri=str(folder / "log"), columns=list(FEATURES))
        reference = pd.read_parquet(folder / "reference.parquet")
        read_seconds = time.perf_counter() - started
        values = psi_table(*same_precision(reference[list(FEATURES)], current[list(FEATURES)]), list(FEATURES))
        rows = len(current)
    return {
        "seconds": time.perf_counter() - started,
        "read_seconds": read_seconds,
        "peak_mb": peak_mb(),
        "imports": imports,
        "psi": values,
        "rows": rows,
    }


def measure(project: Path, side: str, folder: Path) -> dict[str, Any]:
    """One side in a fresh interpreter (the project's), so time and peak memory are its own."""
    env = {
        **os.environ,
        "INFERENCE_LOG_URI": str(folder / "log"),
        "DRIFT_METRICS_TEXTFILE": str(folder / "drift.prom"),
    }
    command = [sys.executable, "-P", str(Path(__file__).resolve()), "--project", str(project)]
    result = subprocess.run(
        [*command, "--one", side, "--folder", str(folder)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{side} run failed: {result.stderr.strip()[-2000:]}")
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def run(args: argparse.Namespace) -> int:
    project: Path = args.project
    if args.one:
        print(json.dumps(one(project, args.one, args.folder)))
        return 0
    current_platform = inproject.module(project, "config").load()
    settings = job_api(project, "DriftSettings").from_platform(current_platform)
    training = current_platform.raw.get("training") or {}
    reference_rows = int((training.get("dataset") or {}).get("reference_rows", 2000))
    sizes = [int(float(size)) for size in (args.sizes or inproject.defaults("drift")["sizes"])]
    rules, largest = binning_rules(project)
    print("binning rules: the project's Evidently PSI against numpy's on the same rows")
    headers = ["column", "rule", "Evidently PSI", "numpy PSI", "|d|"]
    print(inproject.table(rules, headers, ["", "", ".6f", ".6f", ".1e"]) + "\n")
    if largest > RULES_TOLERANCE:
        print(f"Evidently and numpy disagree by {largest:.1e} (> {RULES_TOLERANCE}): the PSI rule changed", flush=True)
        return 1
    print(
        f"drift job vs numpy PSI, {len(FEATURES)} features ({', '.join(SHIFTED)} shifted), reference "
        f"{reference_rows} rows, job samples above {settings.max_rows} rows per side",
        flush=True,
    )
    rows: list[list[Any]] = []
    imports: dict[str, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
            folder = Path(tmp)
            prepare(project, folder, size, reference_rows)
            job = measure(project, "job", folder)
            plain = measure(project, "numpy", folder)
        imports = {"job": job["imports"], "numpy": plain["imports"]}
        delta = max(abs(job["psi"][name] - plain["psi"][name]) for name in FEATURES)
        drifted_job = sum(1 for value in job["psi"].values() if value >= settings.threshold)
        drifted_numpy = sum(1 for value in plain["psi"].values() if value >= settings.threshold)
        numpy_psi_seconds = plain["seconds"] - plain["read_seconds"]
        rows.append(
            [
                size,
                job["seconds"],
                job["peak_mb"],
                plain["read_seconds"],
                numpy_psi_seconds,
                plain["peak_mb"],
                job["seconds"] / max(plain["seconds"], 1e-9),
                job["seconds"] / max(numpy_psi_seconds, 1e-9),
                job["peak_mb"] / max(plain["peak_mb"], 1e-9),
                delta,
                f"{drifted_job} / {drifted_numpy}",
            ]
        )
        print(f"  {size:,} rows done", flush=True)
    print(inproject.table(rows, HEADERS, FLOATS))
    if imports:
        print(f"imports (not in the times above): job {imports['job']:.1f} s, numpy {imports['numpy']:.1f} s")
    return 0


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=None, help="logged rows per run (default: benches.yaml)"
    )
    parser.add_argument("--one", choices=("job", "numpy"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, arguments))
