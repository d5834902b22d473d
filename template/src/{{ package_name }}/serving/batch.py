"""Batch/async pattern: requests queue on Redis, a worker sends them to Triton in batches and writes
the results to a Redis result store.

    queue = BatchQueue.from_settings()               # serving.batch in platform.yaml ($REDIS_URL wins)
    job = queue.submit(frame)                        # any number of rows; returns a job id at once
    scores = queue.result(job, timeout=30)           # [rows, n_outputs], or raises the job's error

    BatchWorker(queue, TritonClient.from_settings()).run()   # `make batch-worker`

A job is one JSON message on the request list (LPUSH, the worker pops from the other end, so jobs
run in arrival order). The worker takes the first job (blocking), then more until it holds
max_batch_size rows or max_wait_ms passed, sends them as one Triton batch (or several, for large
jobs) and stores each job's result under `<result_prefix><job id>` with a TTL. A job that cannot
be read or is rejected by the model gets an error result; when Triton is unreachable the jobs go
back on the queue and the worker raises.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import redis

from .client import TritonClient
from .errors import BadInputError, ServerUnavailableError, ServingError
from .inputs import InputData, to_batch
from .settings import BatchSettings, ServingSettings

LOGGER = logging.getLogger(__name__)


class JobFailedError(ServingError):
    """The worker could not score this job; the message is the worker's reason."""


class BatchQueue:
    """The client side: submit rows, fetch results."""

    def __init__(self, connection: redis.Redis, settings: BatchSettings, features: Sequence[str]) -> None:
        self.redis = connection
        self.settings = settings
        self.features = tuple(features)

    @classmethod
    def from_settings(cls, settings: ServingSettings | None = None, *, redis_url: str | None = None) -> BatchQueue:
        current = settings or ServingSettings.from_platform()
        connection = redis.Redis.from_url(redis_url or current.batch.redis_url)
        return cls(connection, current.batch, current.contract.features)

    def submit(self, data: InputData, job_id: str | None = None) -> str:
        batch = to_batch(data, self.features)
        job = job_id or uuid.uuid4().hex
        message = {"id": job, "rows": batch.tolist(), "submitted": time.time()}
        self.redis.lpush(self.settings.request_queue, json.dumps(message))
        return job

    def pending(self) -> int:
        return int(self.redis.llen(self.settings.request_queue))

    def result(self, job_id: str, timeout: float = 0.0, poll: float = 0.05) -> np.ndarray[Any, Any] | None:
        """The job's scores; None while it is pending (after `timeout` seconds of waiting)."""
        deadline = time.monotonic() + timeout
        key = self.settings.result_prefix + job_id
        while True:
            raw = self.redis.get(key)
            if raw is not None:
                stored = json.loads(raw)
                if stored.get("error"):
                    raise JobFailedError(f"job {job_id}: {stored['error']}")
                return np.asarray(stored["scores"], dtype=np.float32)
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)


class BatchWorker:
    """Consumes the request queue and scores jobs on Triton in batches."""

    def __init__(self, queue: BatchQueue, client: TritonClient, *, max_rows: int | None = None) -> None:
        self.queue = queue
        self.client = client
        self.max_rows = max_rows or client.max_batch_size
        self.processed_jobs = 0
        self.batches = 0

    def _collect(self, wait_seconds: float) -> list[Any]:
        settings = self.queue.settings
        first = self.queue.redis.brpop([settings.request_queue], timeout=max(wait_seconds, 0.01))
        if first is None:
            return []
        messages: list[Any] = [first[1]]
        rows = _row_count(first[1])
        deadline = time.monotonic() + settings.max_wait_ms / 1000.0
        while rows < self.max_rows:
            raw = self.queue.redis.rpop(settings.request_queue)
            if raw is None:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.001)
                continue
            messages.append(raw)
            rows += _row_count(raw)
        return messages

    def run_once(self, wait_seconds: float = 1.0) -> int:
        """Score one batch of jobs; returns how many jobs it finished (0 when the queue stayed empty)."""
        messages = self._collect(wait_seconds)
        if not messages:
            return 0
        jobs: list[tuple[str, np.ndarray[Any, Any]]] = []
        results: dict[str, dict[str, Any]] = {}
        for raw in messages:
            try:
                message = json.loads(raw)
                jobs.append((str(message["id"]), to_batch(message["rows"], self.queue.features)))
            except (ValueError, KeyError, TypeError) as error:
                job_id = _job_id(raw)
                LOGGER.warning("job %s rejected: %s", job_id, error)
                if job_id:
                    results[job_id] = {"error": f"unreadable job: {error}"}
        if jobs:
            try:
                scores = self.client.predict_many(np.concatenate([rows for _, rows in jobs]))
                self.batches += 1
            except ServerUnavailableError:
                self.queue.redis.rpush(self.queue.settings.request_queue, *reversed(messages))
                raise
            except (BadInputError, ServingError) as error:
                scores = None
                for job_id, _ in jobs:
                    results[job_id] = {"error": str(error)}
            if scores is not None:
                version = self.client.model_version()
                start = 0
                for job_id, rows in jobs:
                    stop = start + len(rows)
                    results[job_id] = {"scores": scores[start:stop].tolist(), "model_version": version}
                    start = stop
        pipeline = self.queue.redis.pipeline()
        for job_id, payload in results.items():
            pipeline.set(
                self.queue.settings.result_prefix + job_id,
                json.dumps(payload),
                ex=self.queue.settings.result_ttl_seconds,
            )
        pipeline.execute()
        self.processed_jobs += len(results)
        return len(results)

    def run(self, stop: threading.Event | None = None, *, wait_seconds: float = 1.0) -> None:
        """Work until `stop` is set (forever without one)."""
        while stop is None or not stop.is_set():
            self.run_once(wait_seconds)


def _row_count(raw: Any) -> int:
    try:
        return max(1, len(json.loads(raw)["rows"]))
    except (ValueError, KeyError, TypeError):
        return 1


def _job_id(raw: Any) -> str:
    try:
        return str(json.loads(raw)["id"])
    except (ValueError, KeyError, TypeError):
        return ""
