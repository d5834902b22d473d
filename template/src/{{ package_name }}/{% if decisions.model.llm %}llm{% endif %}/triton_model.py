"""Triton python-backend model generating text with the project's language model, with the vLLM
backend's contract (llm/serving.py lists it).

llm/serving.py `stage_model` copies this file to `<repository>/<model>/1/model.py` beside the
`checkpoint/` folder (model.save's), which is loaded once. The model imports the project's package
(config.pbtxt parameter `package`), so Triton must run where the project is installed with its `llm`
group (the local profile's environment, serving.server.LocalTriton).

Decoupled: `execute` reads each request's inputs, answers a broken one at once with an error, and
hands the others to a pool of `max_concurrent_requests` threads sharing the weights; it returns
before any text is generated. A thread streams llm/streaming.py's pieces: with `stream` one response per
piece and then an empty response flagged final; without it one final response with the whole text
(the same pieces joined, which equals model.generate's text). Whatever goes wrong ends the request
with an error response flagged final, so no stream is left open; a cancelled request stops sending.

Metrics (Triton's metrics endpoint), labelled {model, version}; the token and time series are named
as the vLLM backend's, so one Prometheus rule reads both profiles (its histograms' _sum/_count are
counters here: this Triton's python backend has counters and gauges only):
    vllm:prompt_tokens_total                   prompt tokens read
    vllm:generation_tokens_total               tokens generated (the completion re-tokenized)
    vllm:time_to_first_token_seconds_sum/_count  seconds from arrival to the first piece, requests
    vllm:e2e_request_latency_seconds_sum/_count  seconds from arrival to the final response, requests
    vllm:num_requests_running                  requests generating now (gauge)
    llm_requests_total                         requests received (the vLLM backend has no such series)
    llm_request_failures_total                 requests answered with an error

Tensors cross the stub through DLPack (serving.py says why), with the project's helpers in
serving/triton_model.py.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]


class Metrics:
    """The model's counters (see the module docstring); a no-op where the server has metrics off."""

    COUNTERS: ClassVar[dict[str, tuple[str, str]]] = {
        "prompt_tokens": ("vllm:prompt_tokens_total", "Number of prefill tokens processed."),
        "generation_tokens": ("vllm:generation_tokens_total", "Number of generation tokens processed."),
        "ttft_sum": ("vllm:time_to_first_token_seconds_sum", "Seconds from arrival to the first token, summed."),
        "ttft_count": ("vllm:time_to_first_token_seconds_count", "Requests that produced a first token."),
        "e2e_sum": ("vllm:e2e_request_latency_seconds_sum", "Seconds from arrival to the final response, summed."),
        "e2e_count": ("vllm:e2e_request_latency_seconds_count", "Requests answered in full."),
        "requests": ("llm_requests_total", "Generation requests received."),
        "failures": ("llm_request_failures_total", "Generation requests answered with an error."),
    }
    RUNNING: ClassVar[tuple[str, str]] = ("vllm:num_requests_running", "Number of requests generating now.")

    def __init__(self, labels: dict[str, str]) -> None:
        self.lock = threading.Lock()
        self.families: list[Any] = []
        self.metrics: dict[str, Any] = {}
        self.running = 0
        try:
            for key, (name, description) in self.COUNTERS.items():
                family = pb_utils.MetricFamily(name=name, description=description, kind=pb_utils.MetricFamily.COUNTER)
                self.families.append(family)
                self.metrics[key] = family.Metric(labels=labels)
            name, description = self.RUNNING
            family = pb_utils.MetricFamily(name=name, description=description, kind=pb_utils.MetricFamily.GAUGE)
            self.families.append(family)
            self.metrics["running"] = family.Metric(labels=labels)
        except Exception as error:  # metrics disabled on the server: serve without them
            pb_utils.Logger.log_warn(f"llm model: no custom metrics ({error})")
            self.close()

    def add(self, **values: float) -> None:
        with self.lock:
            for key, value in values.items():
                metric = self.metrics.get(key)
                if metric is not None and value:
                    metric.increment(float(value))

    def start(self) -> None:
        self._running(+1)

    def stop(self) -> None:
        self._running(-1)

    def _running(self, step: int) -> None:
        with self.lock:
            self.running += step
            metric = self.metrics.get("running")
            if metric is not None:
                metric.set(float(self.running))

    def close(self) -> None:
        """Metrics go before their families (the stub insists)."""
        with self.lock:
            self.metrics.clear()
            self.families.clear()


class TritonPythonModel:
    """The class name is what the python backend looks for."""

    def initialize(self, args: dict[str, str]) -> None:
        config: dict[str, Any] = json.loads(args["model_config"])
        if not pb_utils.using_decoupled_model_transaction_policy(config):
            raise pb_utils.TritonModelException("the llm model needs model_transaction_policy { decoupled: true }")
        parameters = {key: value.get("string_value", "") for key, value in (config.get("parameters") or {}).items()}
        package = parameters["package"]
        self.serving = importlib.import_module(f"{package}.llm.serving")
        self.model = importlib.import_module(f"{package}.lm.model")
        self.streaming = importlib.import_module(f"{package}.llm.streaming")
        self.dlpack = importlib.import_module(f"{package}.serving.triton_model")  # as_array, output_tensor
        settings = importlib.import_module(f"{package}.llm.settings")
        self.defaults = settings.Sampling.model_validate_json(parameters["sampling"])
        folder = Path(args["model_repository"]) / args["model_version"] / parameters["checkpoint"]
        self.lm = self.model.load(folder)
        self.context = int(self.model.context_tokens(self.lm))
        self.pool = ThreadPoolExecutor(
            max_workers=int(parameters.get("max_concurrent_requests") or 1), thread_name_prefix="llm-request"
        )
        self.sampling_lock = threading.Lock()  # sampled requests take turns: torch's seed is global
        self.metrics = Metrics({"model": args["model_name"], "version": args["model_version"]})
        self.prompts = self._prompt_log(importlib.import_module(f"{package}.llm.monitoring"), parameters)
        importlib.import_module(f"{package}.serving.heap").freeze_startup_heap()  # no full-GC stalls

    def _prompt_log(self, monitoring: Any, parameters: dict[str, str]) -> Any:
        """(monitoring module, projection, log) when the staging wrote a reference; None otherwise."""
        folder = Path(parameters.get("monitoring_dir") or "")
        if not parameters.get("monitoring_dir") or not (folder / monitoring.PROJECTION).is_file():
            return None
        log = monitoring.TextLog(folder / monitoring.PROMPT_LOG).open_writer()
        return monitoring, monitoring.Projection.load(folder / monitoring.PROJECTION), log

    def log_prompt(self, prompt: str) -> None:
        """One row in the prompt log, after the answer went out (a failure here never fails a request)."""
        if self.prompts is None:
            return
        monitoring, projection, log = self.prompts
        try:
            log.append(monitoring.features(self.lm, [prompt], projection))
        except Exception:
            pb_utils.Logger.log_warn(f"llm model: the prompt was not logged: {traceback.format_exc()}")

    # ---------------------------------------------------------------------------------------- inputs

    def _optional(self, request: Any, name: str) -> Any:
        tensor = pb_utils.get_input_tensor_by_name(request, name)
        return None if tensor is None else self.dlpack.as_array(tensor)

    def read(self, request: Any) -> Any:
        """The request's inputs as serving.Request (copied out: the request is gone after execute)."""
        serving = self.serving
        prompt = pb_utils.get_input_tensor_by_name(request, serving.TEXT_INPUT)
        if prompt is None:
            raise serving.RequestError(f"{serving.TEXT_INPUT} is missing")
        stream = self._optional(request, serving.STREAM)
        parameters = self._optional(request, serving.SAMPLING_PARAMETERS)
        exclude = self._optional(request, serving.EXCLUDE_INPUT)
        try:
            text = serving.decode_text(self.dlpack.as_array(prompt))
            sampling_json = None if parameters is None else serving.decode_text(parameters)
        except UnicodeDecodeError as error:
            raise serving.RequestError(f"the text is not UTF-8: {error}") from None
        return serving.parse_request(
            text,
            None if stream is None else bool(stream.reshape(-1)[0]),
            sampling_json,
            None if exclude is None else bool(exclude.reshape(-1)[0]),
            self.defaults,
        )

    # --------------------------------------------------------------------------------------- execute

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            arrived = time.perf_counter()
            sender = request.get_response_sender()
            self.metrics.add(requests=1)
            try:
                parsed = self.read(request)
            except Exception as error:
                self.fail(sender, f"bad request: {error}")
                continue
            try:
                self.pool.submit(self.generate, parsed, sender, arrived)
            except RuntimeError as error:  # the pool is shut down: the model is unloading
                self.fail(sender, f"the model is unloading: {error}")
        return None

    def pieces(self, parsed: Any) -> Iterator[str]:
        return self.streaming.stream(self.lm, parsed.prompt, parsed.sampling, parsed.seed)  # type: ignore[no-any-return]

    def generate(self, parsed: Any, sender: Any, arrived: float) -> None:
        """One request from start to final flag (a pool thread)."""
        done = False
        self.metrics.start()
        try:
            turn = self.sampling_lock if parsed.sampling.temperature > 0 else contextlib.nullcontext()
            first: float | None = None
            text: list[str] = []
            cancelled = False
            with turn:
                for piece in self.pieces(parsed):
                    if first is None:
                        first = time.perf_counter() - arrived
                    text.append(piece)
                    if parsed.stream:
                        if sender.is_cancelled():
                            cancelled = True
                            break
                        sender.send(self.response(piece))
            completion = "".join(text)
            if cancelled:
                sender.send(
                    pb_utils.InferenceResponse(
                        error=pb_utils.TritonError("request cancelled", pb_utils.TritonError.CANCELLED)
                    ),
                    flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL,
                )
                done = True
                return
            # counted before the final response, so a client that has its answer sees them
            self.metrics.add(
                prompt_tokens=self.prompt_tokens(parsed.prompt),
                generation_tokens=self.tokens(completion),
                ttft_sum=first or 0.0,
                ttft_count=1 if first is not None else 0,
                e2e_sum=time.perf_counter() - arrived,
                e2e_count=1,
            )
            if parsed.stream:
                sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
            else:
                whole = parsed.prompt + completion if parsed.include_prompt else completion
                sender.send(self.response(whole), flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
            done = True
            self.log_prompt(parsed.prompt)
        except Exception as error:
            pb_utils.Logger.log_error(f"llm model: generation failed: {traceback.format_exc()}")
            if not done:  # a final response may have gone out already; fail() then only logs
                self.fail(sender, f"generation failed: {error}")
        finally:
            self.metrics.stop()

    def response(self, text: str) -> Any:
        tensor = self.dlpack.output_tensor(self.serving.TEXT_OUTPUT, self.serving.encode_text(text))
        return pb_utils.InferenceResponse(output_tensors=[tensor])

    def fail(self, sender: Any, message: str) -> None:
        """End the request with an error response flagged final (the client's stream closes)."""
        self.metrics.add(failures=1)
        try:
            sender.send(
                pb_utils.InferenceResponse(error=pb_utils.TritonError(message)),
                flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL,
            )
        except Exception:  # the final flag was already sent or the client left
            pb_utils.Logger.log_warn(f"llm model: could not send the error ({message}): {traceback.format_exc()}")

    # ---------------------------------------------------------------------------------------- tokens

    def prompt_tokens(self, prompt: str) -> int:
        """Tokens the model read: <s> and the prompt, cut to the context as streaming.stream cuts it."""
        count = 1 + len(self.lm.tokenizer.encode(prompt, add_special_tokens=False))
        return min(count, max(1, self.context - 1))

    def tokens(self, text: str) -> int:
        return len(self.lm.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def finalize(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.shutdown(wait=True)  # requests in flight finish (each ends with its final flag)
        prompts = getattr(self, "prompts", None)
        if prompts is not None:
            prompts[2].close()  # writes the prompts it still holds
        metrics = getattr(self, "metrics", None)
        if metrics is not None:
            metrics.close()
