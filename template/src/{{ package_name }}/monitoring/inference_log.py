"""The inference log: served rows (features, predictions, model version, time, latency) as Parquet.

Layout (local directory or object storage, Hive-style partitions by hour, UTC):

    <root>/date=2026-01-31/hour=14/part-<epoch-ms>-<id>.parquet

Columns: the feature columns as served, `prediction` (or `prediction_0..k-1` for 2-D outputs such
as class probabilities), `model` (the Triton model that served the row; empty from callers that
do not say, e.g. edge devices), `model_version`, `timestamp` (UTC), `latency_ms` (of the request
the row came in) and `request_id` (one per `log()` call).

Requests of another model than the core one (a use case's production contract, the
`<model>_<head>` Triton model) are logged by `log_items()` into the same log, one row per item of
summary columns under that model's name, since a text or a spectrogram is not a row of the core
model's features. `split_task_rows()` separates them again for the drift job.

`InferenceLogger.log()` never raises and never blocks on I/O: it samples the rows, copies them
into an in-memory buffer and returns; a background thread writes the buffer. Sink errors, full
buffers and bad input are counted (`failures`, `dropped_rows`, `last_error`) instead of reaching
the request path.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ..config import Platform, local_path, platform

LOGGER = logging.getLogger(__name__)
URI_ENV = "INFERENCE_LOG_URI"
PROFILE_ENV = "PLATFORM_PROFILE"  # `cloud` logs to monitoring.inference_log.cloud_uri


@dataclass(frozen=True)
class LogSettings:
    """monitoring.inference_log from platform.yaml, with the sink resolved."""

    uri: str
    sample_rate: float
    flush_rows: int
    flush_seconds: float
    max_buffered_rows: int

    @classmethod
    def from_platform(cls, platform_: Platform | None = None) -> LogSettings:
        current = platform_ or platform()
        log = current.settings.monitoring.inference_log  # ranges checked at load (platform_schema.py)
        uri = os.environ.get(URI_ENV) or log.uri
        if not uri and os.environ.get(PROFILE_ENV, "local").strip() == "cloud":
            uri = log.cloud_uri
        uri = uri or str(local_path("inference_log", current))
        return cls(
            uri=uri,
            sample_rate=log.sample_rate,
            flush_rows=log.flush_rows,
            flush_seconds=log.flush_seconds,
            max_buffered_rows=log.max_buffered_rows,
        )


def open_sink(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and root path for a local path or a URL (s3://, gs://, abfs://, file://)."""
    if "://" in uri:
        filesystem, root = pafs.FileSystem.from_uri(uri)
        return filesystem, root.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(uri).resolve())


def partition_dir(root: str, hour: datetime) -> str:
    return f"{root}/date={hour:%Y-%m-%d}/hour={hour:%H}"


def prediction_columns(predictions: np.ndarray[Any, Any], rows: int) -> dict[str, np.ndarray[Any, Any]]:
    """`prediction` for one output per row, `prediction_<i>` for several (e.g. class probabilities)."""
    values = np.asarray(predictions)
    if values.ndim == 0:
        values = values.reshape(1)
    if values.shape[0] != rows:
        raise ValueError(f"{values.shape[0]} predictions for {rows} feature rows")
    if values.size == 0:  # another model's items: their outputs are summary columns already (log_items)
        return {}
    flat = values.reshape(rows, -1)
    if flat.shape[1] == 1:
        return {"prediction": flat[:, 0]}
    return {f"prediction_{i}": flat[:, i] for i in range(flat.shape[1])}


def split_task_rows(frame: pd.DataFrame, core_model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows of the core model's features, rows of other models such as the task model).

    A row without a `model` (older logs, edge devices) is the core model's; so is every row when
    `core_model` is empty (settings built by hand, e.g. the benchmark's).
    """
    if frame.empty or "model" not in frame.columns or not core_model:
        return frame, frame.iloc[0:0]
    named = frame["model"].fillna("").astype(str)
    core = named.isin(["", core_model])
    return frame.loc[core].reset_index(drop=True), frame.loc[~core].reset_index(drop=True)


@dataclass(frozen=True)
class _Entry:
    """One `log()` call, kept as cheap copies until the writer turns it into rows."""

    features: pd.DataFrame
    predictions: np.ndarray[Any, Any]
    model_version: str
    logged_at: float
    latency_ms: float
    request_id: str
    model: str = ""

    def frame(self) -> pd.DataFrame:
        rows = len(self.features)
        frame = self.features.reset_index(drop=True)
        for name, values in prediction_columns(self.predictions, rows).items():
            frame[name] = values
        frame["model"] = self.model
        frame["model_version"] = self.model_version
        frame["timestamp"] = pd.Timestamp(self.logged_at, unit="s", tz="UTC")
        frame["latency_ms"] = self.latency_ms
        frame["request_id"] = self.request_id
        return frame


class InferenceLogger:
    """Append served rows to the inference log; cheap, thread-safe, and never raises from `log()`.

    >>> logger = InferenceLogger()                     # settings from platform.yaml
    >>> logger.log(features_df, predictions, "3", 4.2)  # in the predict path
    >>> logger.flush()                                  # optional: tests, shutdown (also at exit)
    """

    def __init__(
        self,
        platform_: Platform | None = None,
        *,
        uri: str | None = None,
        sample_rate: float | None = None,
        background: bool = True,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        settings: LogSettings | None = None,
    ) -> None:
        self.failures = 0  # sink or input errors (rows lost)
        self.dropped_rows = 0  # rows lost to a full buffer or a failed write
        self.logged_rows = 0  # rows written to the sink
        self.sampled_out_rows = 0  # rows skipped by the sampling rate
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: deque[_Entry] = deque()
        self._pending_rows = 0
        self._writing = 0
        self._closed = False
        self._rng = np.random.default_rng(seed)
        self._clock = clock  # seconds since the epoch; tests pass a fake one
        if settings is None:  # given settings need no platform.yaml (edge devices)
            try:
                settings = LogSettings.from_platform(platform_)
            except Exception as error:  # configuration problems must not break serving either
                self._record_failure(f"inference log disabled: {error}")
                settings = LogSettings("", 0.0, 1, 0.0, 1)
        if uri is not None:
            settings = LogSettings(
                uri, settings.sample_rate, settings.flush_rows, settings.flush_seconds, settings.max_buffered_rows
            )
        if sample_rate is not None:
            settings = LogSettings(
                settings.uri,
                min(1.0, max(0.0, sample_rate)),
                settings.flush_rows,
                settings.flush_seconds,
                settings.max_buffered_rows,
            )
        self.settings = settings
        self._filesystem: pafs.FileSystem | None = None
        self._root = ""
        if settings.uri:
            try:
                self._filesystem, self._root = open_sink(settings.uri)
            except Exception as error:
                self._record_failure(f"inference log sink {settings.uri!r} unavailable: {error}")
        self._last_flush = time.monotonic()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="inference-log-writer", daemon=True)
            self._thread.start()
        _open_loggers.add(self)

    # -- request path ---------------------------------------------------------------------------

    def log(
        self,
        features: pd.DataFrame,
        predictions: np.ndarray[Any, Any],
        model_version: str,
        latency_ms: float,
        *,
        model: str = "",
    ) -> None:
        """Queue the sampled rows of one request for writing; returns at once, never raises."""
        try:
            self._log(features, predictions, model_version, latency_ms, model)
        except Exception as error:
            self._record_failure(f"inference log input rejected: {error}")

    def log_items(self, summary: pd.DataFrame, model_version: str, latency_ms: float, *, model: str) -> None:
        """Queue one request of another model than the core one (`model`) as one row per item of
        summary columns, without predictions; returns at once, never raises."""
        try:
            self._log(summary, np.zeros((len(summary), 0)), model_version, latency_ms, model)
        except Exception as error:
            self._record_failure(f"inference log input rejected: {error}")

    def _log(
        self,
        features: pd.DataFrame,
        predictions: np.ndarray[Any, Any],
        model_version: str,
        latency_ms: float,
        model: str = "",
    ) -> None:
        if self._closed or self._filesystem is None:
            self.dropped_rows += len(features)
            return
        rows = len(features)
        if rows == 0:
            return
        values = np.asarray(predictions)
        if values.ndim == 0 or values.shape[0] != rows:
            raise ValueError(f"{values.reshape(-1).shape[0]} predictions for {rows} feature rows")
        if self.settings.sample_rate < 1.0:
            keep = self._rng.random(rows) < self.settings.sample_rate
            kept = int(keep.sum())
            self.sampled_out_rows += rows - kept
            if kept == 0:
                return
            batch = features.iloc[np.flatnonzero(keep)]
            values = values[keep]
        else:
            kept = rows
            batch = features.copy(deep=True)
            values = values.copy()
        entry = _Entry(
            batch, values, str(model_version), self._clock(), float(latency_ms), uuid.uuid4().hex, str(model)
        )
        with self._lock:
            if self._pending_rows + kept > self.settings.max_buffered_rows:
                self.dropped_rows += kept
                self.last_error = f"buffer full ({self.settings.max_buffered_rows} rows); rows dropped"
                return
            self._pending.append(entry)
            self._pending_rows += kept
            due = self._pending_rows >= self.settings.flush_rows
            if due and self._thread is not None:
                self._wake.notify()
        if self._thread is None and (due or self._flush_due()):
            self._write_pending()

    # -- writing --------------------------------------------------------------------------------

    def _flush_due(self) -> bool:
        return time.monotonic() - self._last_flush >= self.settings.flush_seconds

    def _run(self) -> None:
        while True:
            with self._lock:
                waited = time.monotonic() - self._last_flush
                self._wake.wait(timeout=max(0.05, self.settings.flush_seconds - waited))
                closed = self._closed
                due = closed or self._pending_rows >= self.settings.flush_rows or self._flush_due()
            if due:
                self._write_pending()
            if closed:
                return

    def _write_pending(self) -> None:
        with self._lock:
            if not self._pending:
                self._last_flush = time.monotonic()
                return
            entries = list(self._pending)
            self._pending.clear()
            rows = self._pending_rows
            self._pending_rows = 0
            self._writing += 1
        try:
            self._write(pd.concat([entry.frame() for entry in entries], ignore_index=True))
            self.logged_rows += rows
        except Exception as error:
            self.dropped_rows += rows
            self._record_failure(f"inference log write to {self.settings.uri!r} failed: {error}")
        finally:
            with self._lock:
                self._writing -= 1
                self._last_flush = time.monotonic()
                self._wake.notify_all()

    def _write(self, frame: pd.DataFrame) -> None:
        assert self._filesystem is not None
        hours = frame["timestamp"].dt.floor("h")
        for hour, part in frame.groupby(hours, sort=True):
            folder = partition_dir(self._root, pd.Timestamp(hour).to_pydatetime())
            self._filesystem.create_dir(folder, recursive=True)
            name = f"part-{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}.parquet"
            table = pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False)
            pq.write_table(table, f"{folder}/{name}", filesystem=self._filesystem)

    def _record_failure(self, message: str) -> None:
        self.failures += 1
        self.last_error = message
        LOGGER.warning(message)

    def flush(self, timeout: float = 30.0) -> bool:
        """Write everything buffered so far; True when the buffer is empty afterwards."""
        if self._thread is None:
            self._write_pending()
            return True
        deadline = time.monotonic() + timeout
        with self._lock:
            self._wake.notify_all()
        self._write_pending()
        with self._lock:
            while self._writing and time.monotonic() < deadline:
                self._wake.wait(timeout=0.05)
            return not self._pending and not self._writing

    def close(self) -> None:
        """Flush and stop the writer thread; later `log()` calls count their rows as dropped."""
        if self._closed:
            return
        self.flush()
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        _open_loggers.discard(self)

    def __enter__(self) -> InferenceLogger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_open_loggers: weakref.WeakSet[InferenceLogger] = weakref.WeakSet()


@atexit.register
def _flush_open_loggers() -> None:
    for logger in list(_open_loggers):
        try:
            logger.close()
        except Exception as error:  # at exit, say it and go on
            LOGGER.warning("inference log not flushed at exit: %s", error)


# -- reading --------------------------------------------------------------------------------------


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def log_roots(filesystem: pafs.FileSystem, root: str) -> list[str]:
    """The root itself, plus one level of sub-folders that hold their own hour partitions.

    Edge devices push their logs as <root>/<device>/date=.../hour=... (serving.edge.sync_to_cloud);
    the drift job reads every device together.
    """
    info = filesystem.get_file_info(root)
    if info.type != pafs.FileType.Directory:
        return []
    roots = [root]
    for entry in filesystem.get_file_info(pafs.FileSelector(root, recursive=False)):
        name = entry.path.rstrip("/").rsplit("/", 1)[-1]
        if entry.type == pafs.FileType.Directory and not name.startswith(("date=", ".")):
            roots.append(entry.path.rstrip("/"))
    return roots


def read_window(
    start: datetime,
    end: datetime,
    *,
    uri: str | None = None,
    platform_: Platform | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Rows logged in [start, end) (UTC; naive datetimes are taken as UTC), oldest first.

    Reads only the hour partitions that overlap the window; an empty or missing log gives an
    empty frame. Sink errors propagate here (the drift job reports them).
    """
    start, end = _as_utc(start), _as_utc(end)
    sink = uri or LogSettings.from_platform(platform_).uri
    if columns is not None and "timestamp" not in columns:
        columns = [*columns, "timestamp"]
    filesystem, root = open_sink(sink)
    files: list[str] = []
    for log_root in log_roots(filesystem, root):
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour < end:
            folder = partition_dir(log_root, hour)
            info = filesystem.get_file_info(folder)
            if info.type == pafs.FileType.Directory:
                selector = pafs.FileSelector(folder, recursive=False)
                files.extend(
                    sorted(
                        entry.path
                        for entry in filesystem.get_file_info(selector)
                        if entry.is_file and entry.path.endswith(".parquet")
                    )
                )
            hour += timedelta(hours=1)
    if not files:
        return pd.DataFrame()
    tables = [pq.read_table(path, filesystem=filesystem, columns=columns) for path in files]
    frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    if "timestamp" in frame.columns:
        stamps = pd.to_datetime(frame["timestamp"], utc=True)
        frame = frame.loc[(stamps >= start) & (stamps < end)]
        frame = frame.sort_values("timestamp", kind="stable")
    return frame.reset_index(drop=True)
