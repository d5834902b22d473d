"""Generate with the served language model over Triton gRPC: the local model (llm/triton_model.py)
and the vLLM backend in the cloud alike.

    client = LlmClient.from_settings()                 # host and gRPC port from platform.yaml
    result = client.stream("Question: ...\\nAnswer:", {"max_tokens": 32}, on_piece=print)
    result.text, result.pieces, result.time_to_first_token, result.total_seconds

Both profiles take the vLLM backend's inputs; what differs is the text's datatype (BYTES in the
cloud, UINT8 locally: llm/serving.py says why). The client reads the model's metadata once and
encodes each input as the model declares it, so the same call works against both.

Both calls go over a gRPC stream (a decoupled model does not answer the unary Infer call):
`stream` asks for one response per piece of text, `complete` for one response with the whole text.
Each call opens its own connection and stream, so one LlmClient serves any number of threads at
once; the metadata is read under a lock, once. Sampling parameters are the platform's defaults
(llm.sampling, what `from_settings` passes) updated with the call's; the server applies them (and
the vLLM backend's own defaults where neither sets one).
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .serving import EXCLUDE_INPUT, MODEL_NAME, SAMPLING_PARAMETERS, STREAM, TEXT_INPUT, TEXT_OUTPUT

DEFAULT_TIMEOUT_SECONDS = 120.0
# How long a finished request's stream may take to close gracefully before it is cancelled. The local
# Triton (2.45) now and then never closes a half-closed stream (1 call in 300 here); but cancelling
# every stream instead left the model unable to unload after a dozen calls, so each stop of the
# server waited out its exit timeout (30 s by default).
CLOSE_GRACE_SECONDS = 2.0


class LlmError(RuntimeError):
    """The server answered with an error (its message names the input or parameter), or no answer came."""


@dataclass(frozen=True)
class Generation:
    """One answer: its text and the pieces it arrived in, with the client-side timings (seconds from
    sending the request to the first piece of text, and to the final response)."""

    prompt: str
    text: str
    pieces: tuple[str, ...]
    time_to_first_token: float | None  # None: no text came (an empty completion)
    total_seconds: float
    streamed: bool


class LlmClient:
    def __init__(
        self,
        url: str,
        model_name: str = MODEL_NAME,
        *,
        defaults: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.model_name = model_name
        self.defaults = dict(defaults or {})
        self.timeout = timeout
        self._datatypes: dict[str, str] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, url: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> LlmClient:
        """The client of this project's model: serving.host and serving.ports.grpc (unless `url`),
        llm.model_name, and llm.sampling as the defaults."""
        from ..serving.settings import ServingSettings
        from .settings import load

        llm = load()
        if url is None:
            serving = ServingSettings.from_platform()
            url = f"{serving.host}:{serving.ports['grpc']}"
        return cls(url, llm.model_name, defaults=llm.sampling.model_dump(), timeout=timeout)

    # -------------------------------------------------------------------------------------- calls

    def stream(
        self,
        prompt: str,
        sampling: Mapping[str, Any] | None = None,
        *,
        on_piece: Callable[[str], None] | None = None,
    ) -> Generation:
        """The completion of `prompt`, streamed: `on_piece` sees each piece as it arrives."""
        return self.request(prompt, sampling, stream=True, exclude_input_in_output=True, on_piece=on_piece)

    def complete(
        self, prompt: str, sampling: Mapping[str, Any] | None = None, *, include_prompt: bool = False
    ) -> Generation:
        """The completion of `prompt` in one response (starting with the prompt if `include_prompt`)."""
        return self.request(prompt, sampling, stream=False, exclude_input_in_output=not include_prompt)

    def request(
        self,
        prompt: str,
        sampling: Mapping[str, Any] | str | None = None,
        *,
        stream: bool | None = None,
        exclude_input_in_output: bool | None = None,
        on_piece: Callable[[str], None] | None = None,
    ) -> Generation:
        """One request with the contract's inputs as given (None: the input is not sent, the server's
        default applies). `sampling` as a str is sent as it is (e.g. to test the server's checks)."""
        import tritonclient.grpc as grpcclient  # type: ignore[import-untyped]

        datatypes = self.datatypes()
        if isinstance(sampling, str):
            parameters: str | None = sampling
        else:
            merged = {**self.defaults, **(sampling or {})}
            parameters = json.dumps(merged) if merged else None
        values: dict[str, str | bool | None] = {
            TEXT_INPUT: prompt,
            STREAM: stream,
            SAMPLING_PARAMETERS: parameters,
            EXCLUDE_INPUT: exclude_input_in_output,
        }
        inputs = []
        for name, value in values.items():
            if value is None:
                continue
            if name not in datatypes:
                raise LlmError(f"model {self.model_name!r} takes no input {name!r} (it takes {sorted(datatypes)})")
            inputs.append(_tensor(grpcclient, name, datatypes[name], value))
        outputs = [grpcclient.InferRequestedOutput(TEXT_OUTPUT)]
        answers: queue.Queue[tuple[Any, Any]] = queue.Queue()
        client = grpcclient.InferenceServerClient(self.url)
        pieces: list[str] = []
        first: float | None = None
        finished = False
        try:
            client.start_stream(callback=lambda result, error: answers.put((result, error)))
            started = time.perf_counter()
            deadline = started + self.timeout
            client.async_stream_infer(
                self.model_name,
                inputs,
                outputs=outputs,
                request_id=uuid.uuid4().hex,
                enable_empty_final_response=True,
            )
            while not finished:
                try:
                    result, error = answers.get(timeout=max(0.0, deadline - time.perf_counter()))
                except queue.Empty:
                    raise LlmError(
                        f"{self.model_name} at {self.url}: no final response within {self.timeout:.0f} s"
                    ) from None
                if error is not None:  # an error response ends the request (both backends flag it final)
                    finished = True
                    raise LlmError(_message(error))
                piece = _text(result)
                if piece:
                    if first is None:
                        first = time.perf_counter() - started
                    pieces.append(piece)
                    if on_piece is not None:
                        on_piece(piece)
                finished = _is_final(result)
            total = time.perf_counter() - started
        finally:
            close_stream(client, finished)
        return Generation(prompt, "".join(pieces), tuple(pieces), first, total, bool(stream))

    # ------------------------------------------------------------------------------------ metadata

    def datatypes(self) -> dict[str, str]:
        """Each input's datatype as the model declares it (BYTES, UINT8, BOOL ...), read once."""
        with self._lock:
            if self._datatypes is None:
                import tritonclient.grpc as grpcclient

                client = grpcclient.InferenceServerClient(self.url)
                try:
                    metadata = client.get_model_metadata(self.model_name, as_json=True)
                except Exception as error:
                    raise LlmError(f"model {self.model_name!r} at {self.url}: {_message(error)}") from None
                finally:
                    client.close()
                self._datatypes = {str(item["name"]): str(item["datatype"]) for item in metadata["inputs"]}
            return dict(self._datatypes)


def close_stream(client: Any, finished: bool) -> None:
    """Close `client` (a tritonclient gRPC client) and its stream: gracefully when the request got its
    final response, waiting at most CLOSE_GRACE_SECONDS; by cancelling otherwise (an error, a timeout)."""
    if finished:
        closing = threading.Thread(target=client.stop_stream, kwargs={"cancel_requests": False}, daemon=True)
        closing.start()
        closing.join(CLOSE_GRACE_SECONDS)
        if not closing.is_alive():
            client.close()
            return
    # Cancelling also ends a graceful close still waiting; should that close return meanwhile, it
    # drops the stream's handler under this call, which tritonclient then trips over.
    with contextlib.suppress(AttributeError):
        client.stop_stream(cancel_requests=True)
    client.close()


def _tensor(module: Any, name: str, datatype: str, value: str | bool) -> Any:
    """An input tensor of `value` in the model's datatype: text as BYTES [1] or UINT8 [n], flags as BOOL [1]."""
    if isinstance(value, bool):
        if datatype != "BOOL":
            raise LlmError(f"input {name!r} is {datatype}; this client sends flags as BOOL")
        array: np.ndarray[Any, Any] = np.array([value], dtype=np.bool_)
    elif datatype == "BYTES":
        array = np.array([value.encode("utf-8")], dtype=np.object_)
    elif datatype == "UINT8":
        array = np.frombuffer(value.encode("utf-8"), dtype=np.uint8)
    else:
        raise LlmError(f"input {name!r} is {datatype}; this client sends text as BYTES or UINT8")
    tensor = module.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _text(result: Any) -> str:
    """text_output of one response ("" for the empty final response): BYTES elements or UINT8 bytes."""
    array = result.as_numpy(TEXT_OUTPUT)
    if array is None or array.size == 0:
        return ""
    if array.dtype == np.object_:
        return "".join(item.decode("utf-8") if isinstance(item, bytes) else str(item) for item in array.reshape(-1))
    return bytes(np.ascontiguousarray(array, dtype=np.uint8)).decode("utf-8")


def _is_final(result: Any) -> bool:
    parameters = result.get_response().parameters
    return "triton_final_response" in parameters and bool(parameters["triton_final_response"].bool_param)


def _message(error: Any) -> str:
    message = getattr(error, "message", None)
    return str(message() if callable(message) else error)
