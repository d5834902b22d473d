"""`make bench-data`: rows/s of validate+transform and of materialize at growing sizes.

Runs in a temporary folder (its own offline store, registry and SQLite online store), so the
project's .local state is untouched. Materialize writes the latest row per entity (entities =
rows / 4 for families with repeated entities), so both the rows read and the keys written are shown.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..features import store
from .etl import load_offline, transform, validate_file
from .sample import generate
from .settings import DataSettings


def _scoped(settings: DataSettings, folder: Path) -> DataSettings:
    return dataclasses.replace(
        settings,
        raw_dir=folder / "raw",
        staging_dir=folder / "staging",
        quarantine_dir=folder / "quarantine",
        offline_store=folder / "offline",
        online_store=folder / "online.db",
        feast_registry=folder / "registry.db",
    )


def run_bench(settings: DataSettings, sizes: list[int]) -> list[dict[str, float]]:
    """Print and return one row per size."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    results: list[dict[str, float]] = []
    header = (
        f"{'rows':>10} {'valid+transform s':>18} {'rows/s':>12} "
        f"{'materialize s':>14} {'rows/s':>12} {'keys written':>13}"
    )
    print(f"family {settings.family.name}: {len(settings.family.features)} features, SQLite online store")
    print(header)
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-data-") as temporary:
            scoped = _scoped(settings, Path(temporary))
            frame = generate(settings.family, start, end, rows=size, entities=max(1, size // 4), seed=settings.seed)
            scoped.raw_dir.mkdir(parents=True)
            raw = scoped.raw_dir / "2026-03-01.parquet"
            frame.to_parquet(raw, index=False)
            began = time.perf_counter()
            valid = validate_file(str(raw), start, end, settings=scoped)
            features = transform(valid, start, end, settings=scoped)
            prepare = time.perf_counter() - began
            rows = load_offline(features, start, settings=scoped)
            store.apply(scoped)
            began = time.perf_counter()
            store.materialize(start, end, scoped)
            materialize = time.perf_counter() - began
            keys = int(frame[settings.family.entity].nunique())
            row = {
                "rows": float(rows),
                "validate_transform_s": prepare,
                "validate_transform_rows_per_s": rows / prepare,
                "materialize_s": materialize,
                "materialize_rows_per_s": rows / materialize,
                "keys": float(keys),
            }
            results.append(row)
            print(
                f"{rows:>10,} {prepare:>18.2f} {rows / prepare:>12,.0f} {materialize:>14.2f} "
                f"{rows / materialize:>12,.0f} {keys:>13,}"
            )
    return results
