"""Data bench: a rendered project's rows/s of validate+transform and of materialize at growing sizes.

    uv run python ci/benches/data.py --project build/stack/tabular_aws_realtime [--sizes 20000]

Runs in a temporary folder (its own offline store, Feast registry and SQLite online store), so the
project's .local state is untouched. Materialize writes the latest row per entity (entities =
rows / 4 for families with repeated entities), so both the rows read and the keys written are shown.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject

HEADERS = ["rows", "valid+transform s", "rows/s", "materialize s", "rows/s", "keys written"]
FLOATS = ["", ".2f", ",.0f", ".2f", ",.0f", ""]


def scoped(settings: Any, folder: Path) -> Any:
    """The project's data settings with every store under `folder`."""
    return dataclasses.replace(
        settings,
        raw_dir=folder / "raw",
        staging_dir=folder / "staging",
        quarantine_dir=folder / "quarantine",
        offline_store=folder / "offline",
        online_store=folder / "online.db",
        feast_registry=folder / "registry.db",
    )


def one_size(project: Path, settings: Any, size: int) -> dict[str, float]:
    etl = inproject.module(project, "data.etl")
    store = inproject.module(project, "features.store")
    generate = inproject.module(project, "data.sample").generate
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    with tempfile.TemporaryDirectory(prefix="bench-data-") as temporary:
        local = scoped(settings, Path(temporary))
        frame = generate(settings.family, start, end, rows=size, entities=max(1, size // 4), seed=settings.seed)
        local.raw_dir.mkdir(parents=True)
        raw = local.raw_dir / "2026-03-01.parquet"
        frame.to_parquet(raw, index=False)
        began = time.perf_counter()
        valid = etl.validate_file(str(raw), start, end, settings=local)
        features = etl.transform(valid, start, end, settings=local)
        prepare = time.perf_counter() - began
        rows = int(etl.load_offline(features, start, settings=local))
        store.apply(local)
        began = time.perf_counter()
        store.materialize(start, end, local)
        materialize = time.perf_counter() - began
    return {
        "rows": float(rows),
        "validate_transform_s": prepare,
        "validate_transform_rows_per_s": rows / prepare,
        "materialize_s": materialize,
        "materialize_rows_per_s": rows / materialize,
        "keys": float(frame[settings.family.entity].nunique()),
    }


def run(args: argparse.Namespace) -> int:
    project: Path = args.project
    settings = inproject.module(project, "data.settings").load_settings()
    sizes = [int(size) for size in (args.sizes or inproject.defaults("data")["sizes"])]
    print(f"family {settings.family.name}: {len(settings.family.features)} features, SQLite online store", flush=True)
    rows = []
    for size in sizes:
        result = one_size(project, settings, size)
        rows.append(
            [
                int(result["rows"]),
                result["validate_transform_s"],
                result["validate_transform_rows_per_s"],
                result["materialize_s"],
                result["materialize_rows_per_s"],
                int(result["keys"]),
            ]
        )
        print(f"  {size:,} rows done", flush=True)
    print(inproject.table(rows, HEADERS, FLOATS))
    return 0


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="rows per run (default: benches.yaml)")


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, arguments))
