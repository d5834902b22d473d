"""Where the stream pipeline's events go: a Parquet folder (local) or a Redis stream (cloud).

One event per tracked object per sampled frame. `make_sink` picks the sink from vision.stream.sink:
a folder gets one Parquet file per run (written in row groups of PARQUET_ROW_GROUP_ROWS events, so a
long stream never sits in memory whole); `redis://` / `rediss://` URLs get XADD to vision.stream.stream_key,
capped at about REDIS_MAXLEN entries so an unread stream cannot fill Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from redis.typing import EncodableT, FieldT

REDIS_MAXLEN = 100_000  # approximate cap of the Redis stream (XADD MAXLEN ~)
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
PARQUET_ROW_GROUP_ROWS = 65_536  # events buffered per Parquet row group (few large groups read fast)


@dataclass(frozen=True)
class Event:
    frame: int  # index of the frame in the source (decoded order, sampled or not)
    pts: float  # the frame's presentation time in seconds
    track_id: int
    class_name: str
    score: float
    x1: float  # box in the source frame's pixels
    y1: float
    x2: float
    y2: float


_EVENT_FIELDS: list[pa.Field[Any]] = [
    pa.field("frame", pa.int64()),
    pa.field("pts", pa.float64()),
    pa.field("track_id", pa.int64()),
    pa.field("class_name", pa.string()),
    pa.field("score", pa.float32()),
    pa.field("x1", pa.float32()),
    pa.field("y1", pa.float32()),
    pa.field("x2", pa.float32()),
    pa.field("y2", pa.float32()),
]
EVENT_SCHEMA = pa.schema(_EVENT_FIELDS)


class Sink(Protocol):
    def write(self, events: Sequence[Event]) -> None: ...

    def close(self) -> None: ...

    @property
    def target(self) -> str: ...


class _Closing:
    """Context-manager support shared by the sinks."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class ParquetSink(_Closing):
    """Events of one run in `<folder>/events-<run_id>.parquet`, in row groups of up to `row_group_rows`.
    The file is readable once closed (Parquet writes its footer last)."""

    def __init__(self, folder: Path, run_id: str, *, row_group_rows: int = PARQUET_ROW_GROUP_ROWS) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"events-{run_id}.parquet"
        self.row_group_rows = row_group_rows
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self.path, EVENT_SCHEMA)
        self._pending: list[Event] = []
        self.rows = 0

    @property
    def target(self) -> str:
        return str(self.path)

    def write(self, events: Sequence[Event]) -> None:
        if self._writer is None:
            raise RuntimeError(f"{self.path} is closed")
        self._pending.extend(events)
        self.rows += len(events)
        if len(self._pending) >= self.row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None or not self._pending:
            return
        columns = {item.name: [getattr(event, item.name) for event in self._pending] for item in fields(Event)}
        self._writer.write_table(pa.Table.from_pydict(columns, schema=EVENT_SCHEMA))
        self._pending.clear()

    def close(self) -> None:
        if self._writer is not None:
            self._flush()
            self._writer.close()  # a run without events still leaves a valid, empty file
            self._writer = None


class RedisStreamSink(_Closing):
    """XADD each event (fields as strings, as Redis stores them) to `key`; one round trip per write()."""

    def __init__(self, url: str, key: str, run_id: str, *, maxlen: int = REDIS_MAXLEN) -> None:
        import redis

        self.url, self.key, self.run_id, self.maxlen = url, key, run_id, maxlen
        self._client = redis.Redis.from_url(url)
        try:
            self._client.ping()
        except redis.RedisError as error:
            raise ConnectionError(
                f"vision.stream.sink: cannot reach Redis at {url} ({error}); start Redis or set the sink to a folder"
            ) from error
        self.rows = 0

    @property
    def target(self) -> str:
        return f"{self.url} stream {self.key}"

    def write(self, events: Sequence[Event]) -> None:
        if not events:
            return
        pipe = self._client.pipeline(transaction=False)
        for event in events:
            entry: dict[FieldT, EncodableT] = {"run": self.run_id}
            entry.update({key: str(value) for key, value in asdict(event).items()})
            pipe.xadd(self.key, entry, maxlen=self.maxlen, approximate=True)
        pipe.execute()
        self.rows += len(events)

    def close(self) -> None:
        self._client.close()


def make_sink(sink: str, *, root: Path, key: str, run_id: str) -> ParquetSink | RedisStreamSink:
    """The sink vision.stream.sink names: a Redis URL or a folder (relative to the project folder)."""
    if sink.startswith(REDIS_SCHEMES):
        return RedisStreamSink(sink, key, run_id)
    if "://" in sink:
        raise ValueError(f"vision.stream.sink must be a folder or a redis:// URL, got {sink!r}")
    folder = Path(sink)
    return ParquetSink(folder if folder.is_absolute() else root / folder, run_id)
