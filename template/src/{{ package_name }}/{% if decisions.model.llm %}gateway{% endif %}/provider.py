"""A LiteLLM custom provider over this project's Triton (llm/client.py's LlmClient, gRPC streams).

LiteLLM's own `triton` provider sends the text as a BYTES JSON request, which the local model cannot
take (its text is UINT8: llm/serving.py says why); LlmClient reads each model's datatypes and speaks
to the local model and the cloud's vLLM backend alike. Deployments name it as
`gateway-triton/<deployment name>`; the provider keeps each deployment's target (address, prompt
format, tokenizer).

The provider turns chat messages into the model's prompt, counts tokens with the model's own
tokenizer when the deployment names one (LiteLLM's estimate otherwise), and maps failures to
LiteLLM's exceptions so the Router retries and falls back: no answer in time -> Timeout, a server
that does not answer -> ServiceUnavailableError, a request the model refuses -> BadRequestError.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import litellm
from litellm.exceptions import BadRequestError, ServiceUnavailableError, Timeout
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import Choices, GenericStreamingChunk, ModelResponse, Usage
from litellm.utils import token_counter

from ..llm.client import Generation, LlmClient
from .routing import message_text

PROVIDER = "gateway-triton"
log = logging.getLogger(__name__)
# LlmClient blocks a thread per request for the whole generation (its gRPC stream); asyncio's default
# pool has cpu+4 threads, so the gateway keeps its own, sized for concurrent streams.
POOL = ThreadPoolExecutor(max_workers=64, thread_name_prefix="gateway-triton")
REQUEST_ERRORS = ("sampling_parameters", "exclude_input_in_output", "text_input", "takes no input")
SAMPLING_KEYS = ("max_tokens", "temperature", "top_p", "seed", "stop")
# LlmClient gives up after its own timeout (and on a stream that will not close, after its close grace);
# past that plus this grace the gateway stops waiting for the thread, so a request never hangs: it
# fails as a timeout, which the Router retries or falls back from.
GRACE_SECONDS = 5.0


@dataclass
class Target:
    url: str
    model_name: str
    prompt_format: str  # question | llama3
    question_template: str  # llm.prompt
    defaults: Mapping[str, Any]  # llm.sampling
    timeout: float
    tokenizer: Path | None = None
    client: LlmClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = LlmClient(self.url, self.model_name, defaults=self.defaults, timeout=self.timeout)

    @cached_property
    def count(self) -> Callable[[str, bool], int]:
        """Tokens of a text (with the model's special tokens or not): the deployment's tokenizer.json,
        else LiteLLM's default counter (an estimate for this model)."""
        if self.tokenizer is not None and self.tokenizer.is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.tokenizer))
            bos = _bos_token(self.tokenizer.with_name("tokenizer_config.json"))

            def count(text: str, special: bool) -> int:
                tokens = len(tokenizer.encode(text, add_special_tokens=False).ids)
                # the model puts its begin-of-sequence token before a prompt (as transformers does)
                return tokens + 1 if special and bos and not text.startswith(bos) else tokens

            return count
        if self.tokenizer is not None:
            log.warning("tokenizer %s not found: counting tokens with LiteLLM's estimate", self.tokenizer)
        return lambda text, special: int(token_counter(text=text)) if text else 0


def _bos_token(config: Path) -> str | None:
    """The tokenizer's begin-of-sequence token (tokenizer_config.json beside tokenizer.json)."""
    if not config.is_file():
        return None
    token = json.loads(config.read_text(encoding="utf-8")).get("bos_token")
    return token.get("content") if isinstance(token, dict) else token


def question_prompt(messages: Sequence[Mapping[str, Any]], template: str) -> str:
    """llm.prompt around the last user message; what came before (system, earlier turns) leads it."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last is None:
        raise ValueError("the conversation has no user message")
    context = [message_text(m.get("content")) for m in messages[:last] if message_text(m.get("content"))]
    prompt = template.format(question=message_text(messages[last].get("content")))
    return "\n".join([*context, prompt])


def llama3_prompt(messages: Sequence[Mapping[str, Any]]) -> str:
    """Llama 3's chat format (the vLLM backend takes text, so the gateway applies the template)."""
    turns = "".join(
        f"<|start_header_id|>{m.get('role', 'user')}<|end_header_id|>\n\n{message_text(m.get('content'))}<|eot_id|>"
        for m in messages
    )
    return f"<|begin_of_text|>{turns}<|start_header_id|>assistant<|end_header_id|>\n\n"


def to_prompt(messages: Sequence[Mapping[str, Any]], target: Target) -> str:
    if target.prompt_format == "llama3":
        return llama3_prompt(messages)
    return question_prompt(messages, target.question_template)


def sampling(optional_params: Mapping[str, Any]) -> dict[str, Any]:
    """The request's sampling parameters in the vLLM backend's names (the defaults fill the rest)."""
    chosen = {key: optional_params[key] for key in SAMPLING_KEYS if optional_params.get(key) is not None}
    if optional_params.get("max_completion_tokens") is not None:
        chosen["max_tokens"] = optional_params["max_completion_tokens"]
    return chosen


def as_litellm_error(error: Exception, model: str) -> Exception:
    message = str(error)
    if "no final response within" in message:
        return Timeout(message=message, model=model, llm_provider=PROVIDER)
    if isinstance(error, ValueError) or any(marker in message for marker in REQUEST_ERRORS):
        return BadRequestError(message=message, model=model, llm_provider=PROVIDER)
    return ServiceUnavailableError(message=message, llm_provider=PROVIDER, model=model)


def stalled(target: Target, model: str) -> Timeout:
    message = f"{target.url}: no answer within {target.timeout + GRACE_SECONDS:.0f} s (the gateway stopped waiting)"
    return Timeout(message=message, model=model, llm_provider=PROVIDER)


class TritonProvider(CustomLLM):
    def __init__(self, targets: Mapping[str, Target]) -> None:
        super().__init__()
        self.targets = dict(targets)

    def _target(self, model: str) -> Target:
        name = model.split("/", 1)[-1]
        if name not in self.targets:
            raise BadRequestError(message=f"no triton deployment {name!r}", model=model, llm_provider=PROVIDER)
        return self.targets[name]

    def _usage(self, target: Target, prompt: str, text: str) -> dict[str, int]:
        prompt_tokens, completion_tokens = target.count(prompt, True), target.count(text, False)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _finish_reason(
        self, target: Target, asked: Mapping[str, Any], completion_tokens: int
    ) -> Literal["length", "stop"]:
        limit = asked.get("max_tokens", target.defaults.get("max_tokens"))
        return "length" if limit is not None and completion_tokens >= int(limit) else "stop"

    async def acompletion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        model, messages = str(kwargs["model"]), kwargs["messages"]
        target, asked = self._target(model), sampling(kwargs.get("optional_params") or {})
        try:
            prompt = to_prompt(messages, target)
            loop = asyncio.get_running_loop()
            call = loop.run_in_executor(POOL, lambda: target.client.complete(prompt, asked))
            result: Generation = await asyncio.wait_for(call, target.timeout + GRACE_SECONDS)
        except TimeoutError:
            raise stalled(target, model) from None
        except Exception as error:
            raise as_litellm_error(error, model) from error
        usage = self._usage(target, prompt, result.text)
        response: ModelResponse = kwargs["model_response"]
        choice = response.choices[0]
        assert isinstance(choice, Choices)  # a chat response (not a stream's delta)
        choice.message.content = result.text
        choice.finish_reason = self._finish_reason(target, asked, usage["completion_tokens"])
        response.model = model  # the deployment, as in the stream's chunks
        response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            total_tokens=usage["total_tokens"],
        )
        return response

    async def astreaming(self, *args: Any, **kwargs: Any) -> AsyncIterator[GenericStreamingChunk]:  # type: ignore[override]
        model, messages = str(kwargs["model"]), kwargs["messages"]
        target, asked = self._target(model), sampling(kwargs.get("optional_params") or {})
        try:
            prompt = to_prompt(messages, target)
        except ValueError as error:
            raise as_litellm_error(error, model) from error
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(events.put_nowait, (kind, value))

        def generate() -> None:
            try:
                put("done", target.client.stream(prompt, asked, on_piece=lambda piece: put("piece", piece)))
            except Exception as error:
                put("error", error)

        pending = loop.run_in_executor(POOL, generate)
        pieces: list[str] = []
        while True:
            try:
                kind, value = await asyncio.wait_for(events.get(), target.timeout + GRACE_SECONDS)
            except TimeoutError:
                raise stalled(target, model) from None
            if kind == "error":
                raise as_litellm_error(value, model) from value
            if kind == "done":
                break
            pieces.append(value)
            yield GenericStreamingChunk(text=value, is_finished=False, finish_reason="", usage=None, index=0)
        await pending
        usage = self._usage(target, prompt, "".join(pieces))
        yield GenericStreamingChunk(
            text="",
            is_finished=True,
            finish_reason=self._finish_reason(target, asked, usage["completion_tokens"]),
            usage=usage,  # type: ignore[typeddict-item]
            index=0,
        )


def register(provider: TritonProvider) -> None:
    """Make `gateway-triton/...` a LiteLLM provider (this process; the latest registration wins)."""
    from litellm.utils import custom_llm_setup

    litellm.custom_provider_map = [item for item in litellm.custom_provider_map if item.get("provider") != PROVIDER] + [
        {"provider": PROVIDER, "custom_handler": provider}
    ]
    custom_llm_setup()  # type: ignore[no-untyped-call]
