"""The wire to a Triton server that every client of this project shares: tritonclient connections
over HTTP or gRPC, and one mapping of tritonclient's errors to the serving layer's.

    client = connect("http", "127.0.0.1:8000", timeout_seconds=10.0)   # one per thread
    error = classify(raw, model_name)       # BadInputError | ModelNotReadyError | ServerUnavailableError | ...
    retryable(error)                        # the server did not answer: reconnect and try again
    served_model_version(config)            # the MLflow version a served model's config names

The model's own client builds on these: the feature-row `TritonClient` (client.py; the task model's
`TaskClient` extends it) or the vision ensemble's `VisionClient` (vision/client.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tritonclient.grpc as grpcclient  # type: ignore[import-untyped]
import tritonclient.http as httpclient  # type: ignore[import-untyped]
from tritonclient.utils import InferenceServerException  # type: ignore[import-untyped]

from .errors import BadInputError, ModelNotReadyError, ServerUnavailableError, ServingError

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


def retryable(error: ServingError) -> bool:
    """Worth another attempt on a fresh connection: the server did not answer (not a refusal)."""
    return isinstance(error, ServerUnavailableError)


def served_model_version(config: Mapping[str, Any]) -> str:
    """The MLflow model version in a served model's config (its `mlflow_model_version` parameter, which
    the repository builders write); "unknown" for a repository built without a registered source."""
    parameters = config.get("parameters") or {}
    return str((parameters.get("mlflow_model_version") or {}).get("string_value") or "unknown")
