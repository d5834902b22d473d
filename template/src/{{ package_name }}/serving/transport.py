"""The wire to a Triton server that every client of this project shares: tritonclient connections
over HTTP or gRPC, one mapping of tritonclient's errors to the serving layer's, and one retry policy.

    wire = Connection("127.0.0.1:8000", "http", "churn", timeout_seconds=10.0, retries=3, backoff_seconds=0.2)
    ready = wire.call("model readiness check", lambda client: client.is_model_ready("churn"), retry=False)
    wire.model_version()                    # the MLflow version the served config names
    error = classify(raw, model_name)       # BadInputError | ModelNotReadyError | ServerUnavailableError | ...

The model's own client builds its requests on a `Connection`: the feature-row `TritonClient`
(client.py; the task model's `TaskClient` extends it), the vision ensemble's `VisionClient`
(vision/client.py) or the RAG model's `ask()` (rag/client.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import tritonclient.grpc as grpcclient  # type: ignore[import-untyped]
import tritonclient.http as httpclient  # type: ignore[import-untyped]
from tritonclient.utils import InferenceServerException  # type: ignore[import-untyped]

from .errors import BadInputError, ModelNotReadyError, ServerUnavailableError, ServingError

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


def served_model_version(config: Mapping[str, Any]) -> str:
    """The MLflow model version in a served model's config (its `mlflow_model_version` parameter, which
    the repository builders write); "unknown" for a repository built without a registered source."""
    parameters = config.get("parameters") or {}
    return str((parameters.get("mlflow_model_version") or {}).get("string_value") or "unknown")


class Connection:
    """One model on one Triton server, safe to share between threads: a tritonclient connection per
    thread, calls retried on a fresh connection with exponential backoff while the server does not
    answer (a refusal is never retried), and the model's config and MLflow version."""

    def __init__(
        self,
        url: str,
        protocol: str,
        model_name: str,
        *,
        timeout_seconds: float,
        retries: int,
        backoff_seconds: float,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
        self.url = url
        self.protocol = protocol
        self.model_name = model_name
        self.timeout_seconds = timeout_seconds
        self.retries = max(0, retries)
        self.backoff_seconds = backoff_seconds
        self._local = threading.local()
        self._version: str | None = None

    @property
    def module(self) -> Any:
        """tritonclient's module for this protocol, whose InferInput and InferRequestedOutput requests take."""
        return httpclient if self.protocol == "http" else grpcclient

    @property
    def client(self) -> Any:
        """This thread's tritonclient connection, opened on first use."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = connect(self.protocol, self.url, self.timeout_seconds)
        return client

    def call(self, what: str, action: Callable[[Any], T], *, retry: bool = True) -> T:
        """`action(client)`, its errors mapped by `classify`; while the server does not answer, retried
        up to `retries` times on a fresh connection, and the last failure says what failed where."""
        attempts = self.retries + 1 if retry else 1
        delay = self.backoff_seconds
        for attempt in range(1, attempts + 1):
            try:
                return action(self.client)
            except Exception as raw:
                error = classify(raw, self.model_name)
                if not isinstance(error, ServerUnavailableError) or attempt == attempts:  # a refusal stays one
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

    def metadata(self, what: str, method: str, *args: str) -> dict[str, Any]:
        """A metadata call (`get_model_config`, ...) as a plain dict: gRPC answers protobuf unless asked
        for JSON."""
        kwargs = {"as_json": True} if self.protocol == "grpc" else {}
        return dict(self.call(what, lambda client: getattr(client, method)(*args, **kwargs)))

    def model_config(self) -> dict[str, Any]:
        config = self.metadata("model config", "get_model_config", self.model_name)
        inner = config.get("config")  # gRPC's JSON wraps it
        return dict(inner) if isinstance(inner, dict) else config

    def model_version(self) -> str:
        """The MLflow model version the server runs (read once); "unknown" when the server cannot say."""
        if self._version is None:
            try:
                self._version = served_model_version(self.model_config())
            except ServingError:
                return "unknown"
        return self._version

    def close(self) -> None:
        """Close this thread's connection (the next call opens a new one)."""
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()
            self._local.client = None
