"""The ETL steps the Airflow DAG runs, as plain functions (testable without Airflow).

extract -> validate -> transform -> load_offline (into the offline store, data/offline.py); the DAG
then applies and materializes the feature store (features/store.py), which reads that store.
Every step works on one data interval [start, end) and writes files named by it, so re-running an
interval replaces its partition instead of adding to it.
"""

from __future__ import annotations

import importlib
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .. import custom
from ..contract import CREATED_TIMESTAMP, EVENT_TIMESTAMP
from .offline import as_utc, interval_key, partition_uri, write_parquet
from .sample import generate
from .settings import DataSettings, load_settings, profile
from .validate import REASON, ValidationError, ValidationResult, validate


def read_table(path: str | Path) -> pd.DataFrame:
    """A Parquet or CSV file as a frame; an empty (0-byte) file is an empty frame."""
    target = Path(path)
    if target.stat().st_size == 0:
        return pd.DataFrame()
    if target.suffix == ".csv":
        frame = pd.read_csv(target)
        if EVENT_TIMESTAMP in frame.columns:
            frame[EVENT_TIMESTAMP] = pd.to_datetime(frame[EVENT_TIMESTAMP], utc=True, errors="coerce")
        return frame
    return pd.read_parquet(target)


def _read_source(settings: DataSettings, start: datetime, end: datetime, dsn: str | None) -> pd.DataFrame:
    if profile() == "local":
        return generate(
            settings.family,
            start,
            end,
            rows=settings.sample_rows,
            entities=settings.sample_entities,
            seed=settings.seed,
            dirty_share=settings.dirty_share,
        )
    source = settings.source.cloud
    if source.kind == "images":
        # Families whose data are files (vision): their sample module reads, validates and describes
        # the interval's files where they are stored (data/samples/<family>.py `stored_rows`).
        module = importlib.import_module(f"{__package__}.samples.{settings.family.name}")
        if not hasattr(module, "stored_rows"):
            raise ValueError(
                f"data.source.cloud.kind is images, but family {settings.family.name!r} reads rows; "
                "use postgres or parquet"
            )
        rows: pd.DataFrame = module.stored_rows(settings.family, start, end)
        return rows
    if source.kind == "parquet":
        if not source.parquet_uri:
            raise ValueError(
                "data.source.cloud.parquet_uri is empty in platform.yaml (e.g. s3://bucket/raw/{ds}.parquet)"
            )
        return pd.read_parquet(source.parquet_uri.format(ds=interval_key(start)))
    if not dsn:
        raise ValueError(f"the cloud source needs the Airflow connection {source.conn_id!r} (a PostgreSQL URI)")
    import sqlalchemy  # installed with Airflow; only the cloud profile reads PostgreSQL

    engine = sqlalchemy.create_engine(dsn.replace("postgres://", "postgresql://", 1))
    query = sqlalchemy.text(
        f'SELECT * FROM "{source.table}" WHERE "{source.timestamp_column}" >= :start '
        f'AND "{source.timestamp_column}" < :end'
    )
    try:
        with engine.connect() as connection:
            frame = pd.read_sql(query, connection, params={"start": start, "end": end})
    finally:
        engine.dispose()
    if EVENT_TIMESTAMP in frame.columns:
        frame[EVENT_TIMESTAMP] = pd.to_datetime(frame[EVENT_TIMESTAMP], utc=True)
    return frame


def extract(
    start: datetime,
    end: datetime,
    *,
    settings: DataSettings | None = None,
    source_file: str | None = None,
    dsn: str | None = None,
) -> str:
    """Fetch the interval's raw rows into the raw folder; return the file's path.

    The source is the sample generator (local), the cloud source of platform.yaml, or `source_file`
    (a Parquet/CSV file given explicitly, e.g. a backfill or a test's planted file; copied as is).
    """
    current = settings or load_settings()
    start, end = as_utc(start), as_utc(end)
    key = interval_key(start)
    current.raw_dir.mkdir(parents=True, exist_ok=True)
    if source_file:
        suffix = Path(source_file).suffix or ".parquet"
        target = current.raw_dir / f"{key}{suffix}"
        shutil.copyfile(source_file, target)
        return str(target)
    return str(write_parquet(_read_source(current, start, end, dsn), current.raw_dir / f"{key}.parquet"))


def _report(current: DataSettings, key: str, body: dict[str, Any]) -> Path:
    target = current.quarantine_dir / f"{key}.report.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
    return target


def validate_file(raw_path: str, start: datetime, end: datetime, *, settings: DataSettings | None = None) -> str:
    """Validate the raw file; quarantine bad rows; write the valid rows to staging; return that path.

    Raises ValidationError (and writes the report) when the data is unusable.
    """
    current = settings or load_settings()
    start, end = as_utc(start), as_utc(end)
    key = interval_key(start)
    quarantine = current.quarantine_dir / f"{key}.parquet"
    quarantine.unlink(missing_ok=True)
    try:
        result: ValidationResult = validate(
            read_table(raw_path),
            current.family,
            start,
            end,
            threshold=current.anomaly_threshold,
            max_clock_skew=timedelta(minutes=current.max_clock_skew_minutes),
        )
    except (ValidationError, pa.ArrowInvalid) as error:
        _report(current, key, {"interval": [start, end], "status": "failed", "error": str(error)})
        raise ValidationError(f"{key}: {error}") from error
    if len(result.quarantined):
        write_parquet(result.quarantined.astype({REASON: "string"}), quarantine)
    _report(current, key, {"interval": [start, end], "status": "passed", **result.summary()})
    return str(write_parquet(result.valid, current.staging_dir / f"{key}.valid.parquet"))


def user_transform(frame: pd.DataFrame) -> pd.DataFrame:
    """custom.transform_rows on the rows; unchanged where your custom/__init__.py predates the hook."""
    hook = getattr(custom, "transform_rows", None)
    if hook is None:
        return frame
    result = hook(frame)
    if not isinstance(result, pd.DataFrame):
        raise TypeError(f"custom.transform_rows returned {type(result).__name__}; return the rows as a DataFrame")
    return result


def transform(valid_path: str, start: datetime, end: datetime, *, settings: DataSettings | None = None) -> str:
    """Shape validated rows for the feature store: your custom.transform_rows first, then the
    contract's columns, types, order and created time."""
    current = settings or load_settings()
    family = current.family
    frame = user_transform(pd.read_parquet(valid_path))
    missing = [column for column in family.columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"custom.transform_rows dropped contract column(s) {missing}; keep them in the rows it returns"
        )
    frame = frame.loc[:, list(family.columns)].sort_values([EVENT_TIMESTAMP, family.entity], kind="stable")
    frame[CREATED_TIMESTAMP] = pd.Timestamp(as_utc(end))
    key = interval_key(as_utc(start))
    return str(write_parquet(frame.reset_index(drop=True), current.staging_dir / f"{key}.features.parquet"))


def load_offline(features_path: str, start: datetime, *, settings: DataSettings | None = None) -> int:
    """Replace the interval's partition in the offline store; return its row count."""
    current = settings or load_settings()
    frame = pd.read_parquet(features_path)
    target = partition_uri(start, current)
    if "://" in target:
        filesystem, path = pafs.FileSystem.from_uri(target)
        with filesystem.open_output_stream(path) as stream:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), stream)
    else:
        write_parquet(frame, Path(target))
    return len(frame)
