"""Typed client for the Triton server, over tritonclient HTTP or gRPC.

    client = TritonClient.from_settings()            # platform.yaml: host, ports, model, timeouts
    client.wait_until_ready()
    scores = client.predict(frame)                   # DataFrame (by column name) or [rows, n] array

`predict()` checks the input against the feature contract before sending it (missing columns,
non-numeric values, wrong width, empty or oversized batch -> `BadInputError`), retries connection
errors and timeouts with exponential backoff, maps server errors to `BadInputError` /
`ModelNotReadyError` / `ServerUnavailableError`, and writes the served rows to the inference log
(never failing the request when logging fails).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc as grpcclient  # type: ignore[import-untyped]
import tritonclient.http as httpclient  # type: ignore[import-untyped]
from tritonclient.utils import InferenceServerException, np_to_triton_dtype  # type: ignore[import-untyped]

from .errors import BadInputError, ModelNotReadyError, ServerUnavailableError, ServingError
from .inputs import InputData, to_batch, to_frame
from .model_config import INPUT_NAME, OUTPUT_NAME
from .settings import ServingSettings

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
PROTOCOLS = ("http", "grpc")
_NOT_READY = ("unknown model", "is not found", "not ready", "unavailable model", "failed to load", "is not loaded")
_BAD_INPUT = (
    "unexpected shape",
    "unexpected datatype",
    "expected",
    "batch size",
    "batch-size",
    "max-batch",
    "exceeds",
    "input",
    "invalid argument",
    "dimension",
    "byte size",
    "datatype",
)
_RETRYABLE_STATUS = ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "503", "504")


def connect(protocol: str, url: str, timeout_seconds: float) -> Any:
    """A tritonclient connection to `url` over `protocol` (http | grpc); not thread-safe: one per thread."""
    if protocol == "http":
        return httpclient.InferenceServerClient(
            url, connection_timeout=timeout_seconds, network_timeout=timeout_seconds
        )
    return grpcclient.InferenceServerClient(url)


def classify(error: Exception, model_name: str) -> ServingError:
    """Map a tritonclient/transport error to this layer's errors, keeping the server's message."""
    if isinstance(error, ServingError):
        return error
    message = str(error.message() if isinstance(error, InferenceServerException) else error)
    status = str(error.status() if isinstance(error, InferenceServerException) else "")
    lowered = message.lower()
    if isinstance(error, InferenceServerException) and not any(code in status for code in _RETRYABLE_STATUS):
        if any(marker in lowered for marker in _NOT_READY):
            return ModelNotReadyError(f"model {model_name!r} is not ready on the server: {message}")
        if any(marker in lowered for marker in _BAD_INPUT):
            return BadInputError(f"the server rejected the input for {model_name!r}: {message}")
        return ServingError(f"the server failed the request for {model_name!r} ({status}): {message}")
    return ServerUnavailableError(f"Triton did not answer for {model_name!r}: {type(error).__name__}: {message}")


def _retryable(error: ServingError) -> bool:
    return isinstance(error, ServerUnavailableError)


def served_model_version(config: Mapping[str, Any]) -> str:
    """The MLflow model version in a served model's config (its `mlflow_model_version` parameter, which
    the repository builders write); "unknown" for a repository built without a registered source."""
    parameters = config.get("parameters") or {}
    return str((parameters.get("mlflow_model_version") or {}).get("string_value") or "unknown")


class TritonClient:
    """One model on one Triton server; safe to share between threads (one connection per thread)."""

    def __init__(
        self,
        url: str,
        *,
        model_name: str,
        features: Sequence[str],
        max_batch_size: int,
        protocol: str = "http",
        timeout_seconds: float = 10.0,
        retries: int = 3,
        backoff_seconds: float = 0.2,
        log_inferences: bool = False,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r} is not one of {PROTOCOLS}")
        self.url = url
        self.model_name = model_name
        self.features = tuple(features)
        self.max_batch_size = max_batch_size
        self.protocol = protocol
        self.timeout_seconds = timeout_seconds
        self.retries = max(0, retries)
        self.backoff_seconds = backoff_seconds
        self.log_inferences = log_inferences
        self._local = threading.local()
        self._logger: Any = None
        self._logger_ready = False
        self._logger_lock = threading.Lock()
        self._version: str | None = None

    @classmethod
    def from_settings(
        cls,
        settings: ServingSettings | None = None,
        *,
        protocol: str | None = None,
        url: str | None = None,
        **overrides: Any,
    ) -> TritonClient:
        current = settings or ServingSettings.from_platform()
        return cls(**cls.options_from(current, protocol=protocol, url=url, **overrides))

    @staticmethod
    def options_from(
        settings: ServingSettings, *, protocol: str | None = None, url: str | None = None, **overrides: Any
    ) -> dict[str, Any]:
        """The constructor's arguments from the settings (url included), `overrides` last."""
        kind = protocol or settings.client.protocol
        options: dict[str, Any] = {
            "url": url or settings.url(kind),
            "model_name": settings.model_name,
            "features": settings.contract.features,
            "max_batch_size": settings.max_batch_size,
            "protocol": kind,
            "timeout_seconds": settings.client.timeout_seconds,
            "retries": settings.client.retries,
            "backoff_seconds": settings.client.backoff_seconds,
            "log_inferences": settings.client.log_inferences,
        }
        return {**options, **overrides}

    # -- connection -------------------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = connect(self.protocol, self.url, self.timeout_seconds)
        return client

    def _call(self, what: str, action: Callable[[], T], *, retry: bool = True) -> T:
        attempts = self.retries + 1 if retry else 1
        delay = self.backoff_seconds
        for attempt in range(1, attempts + 1):
            try:
                return action()
            except Exception as raw:
                error = classify(raw, self.model_name)
                if not _retryable(error) or attempt == attempts:
                    if isinstance(error, ServerUnavailableError):
                        raise ServerUnavailableError(
                            f"{what} at {self.protocol}://{self.url} failed after {attempt} attempt(s): {error}"
                        ) from raw
                    raise error from raw
                LOGGER.warning(
                    "%s failed (attempt %d/%d), retrying in %.2fs: %s", what, attempt, attempts, delay, error
                )
                self._local.client = None  # reconnect
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()
            self._local.client = None

    # -- health and metadata ----------------------------------------------------------------------

    def is_live(self) -> bool:
        try:
            return bool(self._call("liveness check", lambda: self._client.is_server_live(), retry=False))
        except ServingError:
            return False

    def is_ready(self) -> bool:
        """The server is ready and this model is loaded."""
        try:
            return bool(
                self._call("readiness check", lambda: self._client.is_server_ready(), retry=False)
                and self._call(
                    "model readiness check", lambda: self._client.is_model_ready(self.model_name), retry=False
                )
            )
        except ServingError:
            return False

    def wait_until_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise ModelNotReadyError(
                    f"model {self.model_name!r} not ready at {self.protocol}://{self.url} after {timeout:.0f} s"
                )
            time.sleep(0.2)

    def _json(self, what: str, method: str, *args: str) -> dict[str, Any]:
        """A metadata call as a plain dict (gRPC answers protobuf unless asked for JSON)."""
        kwargs = {"as_json": True} if self.protocol == "grpc" else {}
        value = self._call(what, lambda: getattr(self._client, method)(*args, **kwargs))
        return dict(value)

    def server_metadata(self) -> dict[str, Any]:
        return self._json("server metadata", "get_server_metadata")

    def model_metadata(self) -> dict[str, Any]:
        return self._json("model metadata", "get_model_metadata", self.model_name)

    def model_config(self) -> dict[str, Any]:
        config = self._json("model config", "get_model_config", self.model_name)
        inner = config.get("config")
        return dict(inner) if isinstance(inner, dict) else config

    def model_version(self) -> str:
        """The MLflow model version the server runs (config parameter written by the repository builder)."""
        if self._version is None:
            try:
                self._version = served_model_version(self.model_config())
            except ServingError:
                return "unknown"
        return self._version

    # -- inference --------------------------------------------------------------------------------

    def infer_array(
        self, batch: np.ndarray[Any, Any], *, input_name: str = INPUT_NAME, model_name: str | None = None
    ) -> np.ndarray[Any, Any]:
        """Send `batch` as is (no contract checks): for tests and callers that validated already."""
        module = httpclient if self.protocol == "http" else grpcclient
        target = model_name or self.model_name

        def action() -> np.ndarray[Any, Any]:
            tensor = module.InferInput(input_name, list(batch.shape), np_to_triton_dtype(batch.dtype))
            if self.protocol == "http":
                tensor.set_data_from_numpy(batch, binary_data=True)
                outputs = [module.InferRequestedOutput(OUTPUT_NAME, binary_data=True)]
                result = self._client.infer(target, [tensor], outputs=outputs)
            else:
                tensor.set_data_from_numpy(batch)
                outputs = [module.InferRequestedOutput(OUTPUT_NAME)]
                result = self._client.infer(target, [tensor], outputs=outputs, client_timeout=self.timeout_seconds)
            scores = result.as_numpy(OUTPUT_NAME)
            if scores is None:
                raise ServingError(f"the response of {target!r} has no output {OUTPUT_NAME!r}")
            return np.asarray(scores)

        return self._call(f"inference on {target!r}", action)

    def predict(self, data: InputData) -> np.ndarray[Any, Any]:
        """Scores [rows, n_outputs] for up to max_batch_size rows (DataFrame columns matched by name)."""
        batch = to_batch(data, self.features, self.max_batch_size)
        started = time.perf_counter()
        scores = self.infer_array(batch)
        self._log(batch, scores, (time.perf_counter() - started) * 1000.0)
        return scores

    def predict_many(self, data: InputData) -> np.ndarray[Any, Any]:
        """Like `predict()` for any number of rows: sent in chunks of max_batch_size."""
        batch = to_batch(data, self.features)
        parts = [
            self.predict(batch[start : start + self.max_batch_size])
            for start in range(0, len(batch), self.max_batch_size)
        ]
        return np.concatenate(parts)

    # -- inference log ----------------------------------------------------------------------------

    def _inference_logger(self) -> Any:
        # Requests arrive on many threads: create the logger once, and let no thread see "ready"
        # before it exists (that silently dropped the first rows of a burst).
        with self._logger_lock:
            if not self._logger_ready:
                package = __name__.rsplit(".", 2)[0]
                try:
                    module = importlib.import_module(f"{package}.monitoring.inference_log")
                    self._logger = module.InferenceLogger()
                except Exception as error:  # the monitoring layer is optional for serving
                    LOGGER.warning("inference log disabled: %s", error)
                    self._logger = None
                self._logger_ready = True
        return self._logger

    def flush_inference_log(self) -> None:
        """Write the rows logged so far (before reading the log back, e.g. for a drift check)."""
        logger = self._inference_logger() if self.log_inferences else None
        if logger is not None:
            logger.flush()

    def _log(self, batch: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], latency_ms: float) -> None:
        if not self.log_inferences:
            return
        try:
            logger = self._inference_logger()
            if logger is not None:
                frame = to_frame(batch, self.features)
                logger.log(frame, scores, self.model_version(), latency_ms, model=self.model_name)
        except Exception as error:  # logging must never fail a request
            LOGGER.warning("inference log failed: %s", error)
