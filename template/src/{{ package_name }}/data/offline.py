"""The offline store: where the family's partitions live, how an interval's partition is named, and
what the store holds. The ETL steps (data/etl.py) write it; the feature store (features/) reads it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from ..contract import EVENT_TIMESTAMP
from .settings import DataSettings, load_settings, profile


def as_utc(moment: datetime) -> datetime:
    """Airflow passes pendulum datetimes; keep plain, timezone-aware UTC datetimes."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(aware.timestamp(), tz=UTC)


def interval_key(start: datetime) -> str:
    """The partition name of an interval: its start day (`2026-03-01`), or day and time when not midnight."""
    moment = as_utc(start)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%dT%H%M%S")


def offline_root(settings: DataSettings) -> str:
    """Where the family's partitions live: a local folder, or an object-storage URI in the cloud profile."""
    if profile() == "cloud":
        variable = settings.feature_store.cloud.offline_uri_env
        base = os.environ.get(variable, "").strip()
        if not base:
            raise ValueError(
                f"${variable} is not set: the cloud offline store is <object storage>/offline, "
                "e.g. s3://<terraform output offline_store_bucket>/offline (docs/data.md)"
            )
        return base.rstrip("/") + "/" + settings.family.name
    return str(settings.offline_dir)


def partition_uri(start: datetime, settings: DataSettings | None = None) -> str:
    """The offline-store file of an interval (one file per interval: re-running replaces it)."""
    current = settings or load_settings()
    return f"{offline_root(current)}/{interval_key(as_utc(start))}.parquet"


def offline_partitions(settings: DataSettings | None = None) -> dict[str, int]:
    """Row count per partition of the local offline store (empty when none)."""
    current = settings or load_settings()
    folder = Path(offline_root(current))
    if not folder.is_dir():
        return {}
    return {path.stem: pq.read_metadata(path).num_rows for path in sorted(folder.glob("*.parquet"))}


def latest_event_time(settings: DataSettings | None = None) -> datetime | None:
    """The newest event_timestamp in the offline store (None when it holds nothing)."""
    current = settings or load_settings()
    root = offline_root(current)
    if "://" not in root and not any(Path(root).glob("*.parquet")):
        return None
    try:
        dataset = pads.dataset(root, format="parquet")
    except (FileNotFoundError, pa.ArrowInvalid):
        return None
    newest = pc.max(dataset.to_table(columns=[EVENT_TIMESTAMP])[EVENT_TIMESTAMP]).as_py()
    return None if newest is None else as_utc(newest)


def write_parquet(frame: pd.DataFrame, target: Path) -> Path:
    """Write atomically: a half-written file never replaces a good one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")  # dot files are invisible to Parquet dataset readers
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, target)
    return target
