"""Client of the vision model's Triton ensemble: encoded image bytes in, the task's Predictions out.

    client = VisionClient("127.0.0.1:8000", protocol="http", model="<serving.model_name>")
    found = client.infer(jpeg_bytes)                       # the task's Prediction, in original pixels
    many = client.predict([jpeg, png, ...])                # concurrent requests, results in order

The served outputs and the Prediction they make are the task module's (task.SERVED,
task.from_served; vision/task.py), so the same client serves detection, classification and
segmentation; the task is vision.task of platform.yaml unless `settings` says otherwise.

Each image is its own request (the ensemble takes one encoded image); `predict()` keeps up to
`concurrency` of them in flight from a thread pool (one tritonclient connection per thread), so the
model step's dynamic batcher can join them. Server errors map to the serving layer's errors
(an undecodable image -> BadInputError naming the image); connection errors are retried
(serving/transport.py's Connection, as for every client of the project).
`TritonDetector` is the stream's Detector (RGB frames -> JPEG bytes -> the ensemble -> Predictions).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

from ..serving.errors import BadInputError, ServerUnavailableError, ServingError
from ..serving.settings import ServingSettings
from ..serving.transport import Connection
from .settings import VisionSettings
from .task import AnyPrediction, VisionTask, task_module

INPUT = "image"
JPEG_QUALITY = 95  # frames are re-encoded for the wire; high quality keeps the detections of the raw frame


class VisionClient:
    """The vision ensemble on one Triton server; safe to share between threads."""

    def __init__(
        self,
        url: str,
        protocol: str = "http",
        model: str = "detector",
        *,
        timeout_seconds: float = 30.0,
        concurrency: int = 8,
        retries: int = 2,
        backoff_seconds: float = 0.2,
        settings: VisionSettings | None = None,
    ) -> None:
        self.connection = Connection(
            url, protocol, model, timeout_seconds=timeout_seconds, retries=retries, backoff_seconds=backoff_seconds
        )
        self.model = model
        self.concurrency = max(1, concurrency)
        self.settings = settings
        self._task: VisionTask | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._pool_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, serving: ServingSettings, *, protocol: str | None = None, url: str | None = None, **options: Any
    ) -> VisionClient:
        """The server and model platform.yaml's serving section names."""
        kind = protocol or serving.client.protocol
        return cls(url or serving.url(kind), kind, serving.model_name, **options)

    @property
    def task(self) -> VisionTask:
        """The task module whose outputs the ensemble serves (platform.yaml's vision.task by default; read
        on first use, so a client that only checks readiness needs no platform.yaml)."""
        if self._task is None:
            self._task = task_module(self.settings or VisionSettings.from_platform())
        return self._task

    def is_ready(self) -> bool:
        try:
            call = self.connection.call
            return bool(call("model readiness check", lambda client: client.is_model_ready(self.model), retry=False))
        except ServingError:
            return False

    def wait_until_ready(self, timeout_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise ServerUnavailableError(
                    f"model {self.model!r} not ready on {self.connection.url} after {timeout_seconds:.0f} s; "
                    "is the server up (make serve) and the repository built (make build-serving)?"
                )
            time.sleep(0.5)

    def model_config(self) -> dict[str, Any]:
        """The ensemble's config as a plain dict."""
        return self.connection.model_config()

    def model_version(self) -> str:
        """The MLflow model version the ensemble serves (triton.build_repository writes it into the
        ensemble's config), read once; "unknown" when the server cannot say."""
        return self.connection.model_version()

    def infer(self, image: bytes) -> AnyPrediction:
        """The Prediction of one encoded image (JPEG or PNG bytes): the task's Prediction class."""
        if not isinstance(image, bytes | bytearray | memoryview) or len(image) == 0:
            raise BadInputError(f"an image must be non-empty encoded bytes (JPEG or PNG), got {type(image).__name__}")
        task = self.task
        data = np.frombuffer(bytes(image), dtype=np.uint8)
        wire = self.connection
        module = wire.module
        request = module.InferInput(INPUT, [int(data.size)], "UINT8")
        request.set_data_from_numpy(data)
        outputs = [module.InferRequestedOutput(name) for name in task.SERVED]

        def send(client: Any) -> Any:
            if wire.protocol == "http":
                return client.infer(self.model, [request], outputs=outputs)
            return client.infer(self.model, [request], outputs=outputs, client_timeout=wire.timeout_seconds)

        result = wire.call(f"inference on {self.model!r}", send)
        return task.from_served({name: np.asarray(result.as_numpy(name)) for name in task.SERVED})

    detect = infer  # the stream's name (a detection project's Prediction is Detections)

    def predict(self, images: Sequence[bytes], *, concurrency: int | None = None) -> list[AnyPrediction]:
        """The Predictions of many images, in order, with up to `concurrency` requests in flight."""
        if len(images) <= 1:
            return [self.infer(image) for image in images]
        wanted = max(1, concurrency or self.concurrency)
        if wanted == 1:
            return [self.infer(image) for image in images]
        with self._pool_lock:
            if self._pool is None or self._pool_size != wanted:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)
                self._pool = ThreadPoolExecutor(max_workers=wanted, thread_name_prefix="vision-client")
                self._pool_size = wanted
            pool = self._pool
        return list(pool.map(self.infer, images))

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        self.connection.close()

    def __enter__(self) -> VisionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def encode_frame(frame: np.ndarray[Any, Any], quality: int = JPEG_QUALITY) -> bytes:
    """An HxWx3 uint8 RGB frame as JPEG bytes."""
    array = np.asarray(frame)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise BadInputError(f"a frame must be an HxWx3 uint8 RGB array, got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class TritonDetector:
    """The stream's Detector over Triton: frames (HxWx3 uint8 RGB) -> JPEG -> the ensemble -> Predictions
    (Detections in a detection project, the only kind with a stream)."""

    def __init__(self, client: VisionClient, *, quality: int = JPEG_QUALITY) -> None:
        self.client = client
        self.quality = quality

    def predict(self, frames: list[np.ndarray[Any, Any]]) -> list[AnyPrediction]:
        return self.client.predict([encode_frame(frame, self.quality) for frame in frames])
