"""The language model as a Triton model with the vLLM backend's contract: `stage_model` writes it into
a model repository, and the request rules live here (pure functions the Triton model and the tests share).

    stage_model(repository, Path(".local/llm/model"), "my_package")

The cloud serves the production checkpoint with Triton's vLLM backend; locally, triton_model.py (a
decoupled python model over llm/streaming.py) answers the same requests:

    input  text_input               the prompt
    input  stream                   optional; true: one response per new piece of text, then an
                                    empty response flagged final
    input  sampling_parameters      optional; a JSON object merged over the platform's defaults
                                    (llm.sampling): max_tokens, temperature, top_p, and seed
    input  exclude_input_in_output  optional; as the vLLM backend: a whole (non-streamed) answer
                                    starts with the prompt unless this is true; a stream never does,
                                    and asking for the prompt in a stream is an error
    output text_output              the text

The names are the vLLM backend's; the text's datatype is not. Locally text travels as UTF-8 bytes in
UINT8 [-1] tensors (the prompt, the JSON and each piece), not BYTES (TYPE_STRING) as in the cloud:
the python-backend stub bundled with the local Triton (nvidia-pytriton) was built against NumPy 1
and, under NumPy 2, corrupts BYTES tensors both ways, while UINT8 crosses through DLPack (as the RAG
model's text does). The flags are BOOL [1] in both profiles (they cross DLPack as one byte each).
Clients learn each input's datatype from the model's metadata (client.LlmClient), so one client
speaks to both.

sampling_parameters: keys the local model applies are validated as llm.sampling validates them
(a wrong value fails the request with `sampling_parameters.<key>: <why>`); values may be strings, as
the vLLM backend converts them; null means the default. Keys of vLLM's SamplingParams that the local
model does not implement (IGNORED: top_k, stop, penalties ...) are accepted and ignored, so a
request written for the cloud runs locally; any other key fails the request naming it, as vLLM
fails on a parameter SamplingParams does not take.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf import text_format
from pydantic import ValidationError
from tritonclient.grpc import model_config_pb2 as pb  # type: ignore[import-untyped]

from ..config import Platform, platform
from .settings import Sampling

MODEL_NAME = "llm"  # llm.model_name's default; stage_project_model uses the setting
TEXT_INPUT, STREAM, SAMPLING_PARAMETERS, EXCLUDE_INPUT = (
    "text_input",
    "stream",
    "sampling_parameters",
    "exclude_input_in_output",
)
TEXT_OUTPUT = "text_output"
CHECKPOINT_DIR = "checkpoint"  # <repository>/<model>/1/checkpoint: the save_pretrained folder
MANIFEST = "serving.json"
# Requests generating at once in the one model instance (threads sharing the loaded weights);
# more wait in line. Sampled requests (temperature > 0) take turns: they share torch's seed.
MAX_CONCURRENT_REQUESTS = 4
# vLLM SamplingParams keys the local model accepts without applying them.
IGNORED = frozenset(
    {
        "n",
        "best_of",
        "top_k",
        "min_p",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
        "stop",
        "stop_token_ids",
        "bad_words",
        "ignore_eos",
        "min_tokens",
        "logprobs",
        "prompt_logprobs",
        "skip_special_tokens",
        "spaces_between_special_tokens",
        "include_stop_str_in_output",
        "truncate_prompt_tokens",
        "logit_bias",
        "allowed_token_ids",
        "detokenize",
        "output_kind",
        "structured_outputs",
        "guided_decoding",
        "lora_name",
    }
)


class StagingError(RuntimeError):
    """The model folder cannot be served; the message says what to run."""


class RequestError(ValueError):
    """A request breaks the contract; the message names the input or the sampling parameter."""


class _Requested(Sampling):
    """A request's sampling: the platform's defaults with the request's values, and its seed."""

    seed: int | None = None


@dataclass(frozen=True)
class Request:
    prompt: str
    stream: bool
    include_prompt: bool  # the prompt starts the (non-streamed) text_output
    sampling: Sampling
    seed: int | None


def encode_text(text: str) -> npt.NDArray[np.uint8]:
    """A text as a UINT8 tensor [n] of its UTF-8 bytes."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def decode_text(array: npt.NDArray[Any]) -> str:
    """The text of a UINT8 tensor of UTF-8 bytes (any shape, read in C order)."""
    return np.ascontiguousarray(array, dtype=np.uint8).tobytes().decode("utf-8")


def parse_sampling(text: str | None, defaults: Sampling) -> tuple[Sampling, int | None]:
    """The request's sampling (over `defaults`) and seed from sampling_parameters' JSON; RequestError
    names the parameter that is wrong."""
    if text is None or not text.strip():
        return defaults, None
    try:
        requested = json.loads(text)
    except json.JSONDecodeError as error:
        raise RequestError(f"{SAMPLING_PARAMETERS} is not valid JSON ({error}): {text[:200]!r}") from None
    if not isinstance(requested, dict):
        raise RequestError(f"{SAMPLING_PARAMETERS} must be a JSON object, got {type(requested).__name__}")
    applied = set(_Requested.model_fields)
    unknown = sorted(key for key in requested if key not in applied and key not in IGNORED)
    if unknown:
        raise RequestError(
            f"{SAMPLING_PARAMETERS}.{unknown[0]}: not a sampling parameter (the model applies "
            f"{', '.join(sorted(applied))}; it ignores vLLM's other SamplingParams)"
        )
    given = {key: value for key, value in requested.items() if key in applied and value is not None}
    try:
        merged = _Requested.model_validate({**defaults.model_dump(), **given})
    except ValidationError as error:
        problems = "; ".join(
            f"{SAMPLING_PARAMETERS}.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise RequestError(problems) from None
    return Sampling.model_validate(merged.model_dump(exclude={"seed"})), merged.seed


def parse_request(
    prompt: str, stream: bool | None, sampling_parameters: str | None, exclude_input: bool | None, defaults: Sampling
) -> Request:
    """A request as the vLLM backend reads it: no stream unless asked; the prompt in a whole answer
    unless excluded, never in a stream (asking for it there is an error)."""
    streaming = bool(stream)
    include_prompt = not streaming if exclude_input is None else not exclude_input
    if streaming and include_prompt:
        raise RequestError(f"{EXCLUDE_INPUT}: false is not allowed when streaming (the vLLM backend's rule)")
    sampling, seed = parse_sampling(sampling_parameters, defaults)
    return Request(prompt, streaming, include_prompt, sampling, seed)


def model_config(
    package: str,
    defaults: Sampling,
    model_name: str = MODEL_NAME,
    max_concurrent_requests: int = MAX_CONCURRENT_REQUESTS,
    monitoring_dir: Path | None = None,
) -> pb.ModelConfig:
    """config.pbtxt's message: a decoupled python model (no Triton batching, like the vLLM backend's
    auto-completed config) on one CPU instance."""
    config = pb.ModelConfig(name=model_name, backend="python", max_batch_size=0)
    config.model_transaction_policy.decoupled = True
    config.input.add(name=TEXT_INPUT, data_type=pb.TYPE_UINT8, dims=[-1])
    config.input.add(name=STREAM, data_type=pb.TYPE_BOOL, dims=[1], optional=True)
    config.input.add(name=SAMPLING_PARAMETERS, data_type=pb.TYPE_UINT8, dims=[-1], optional=True)
    config.input.add(name=EXCLUDE_INPUT, data_type=pb.TYPE_BOOL, dims=[1], optional=True)
    config.output.add(name=TEXT_OUTPUT, data_type=pb.TYPE_UINT8, dims=[-1])
    config.instance_group.add(count=1, kind=pb.ModelInstanceGroup.KIND_CPU)
    parameters = {
        "package": package,
        "checkpoint": CHECKPOINT_DIR,
        "sampling": defaults.model_dump_json(),
        "max_concurrent_requests": str(max_concurrent_requests),
        # where the model logs each prompt against the reference (llm/monitoring.py); empty: no log
        "monitoring_dir": str(monitoring_dir or ""),
    }
    for key, value in sorted(parameters.items()):
        config.parameters[key].string_value = value
    return config


def stage_model(
    repository: Path,
    model_folder: Path,
    package: str,
    *,
    model_name: str = MODEL_NAME,
    defaults: Sampling | None = None,
    max_concurrent_requests: int = MAX_CONCURRENT_REQUESTS,
    source: str | None = None,
    monitoring_dir: Path | None = None,
) -> Path:
    """Write `<repository>/<model_name>/` (config.pbtxt, 1/model.py, 1/checkpoint/ copied from
    `model_folder`, serving.json) and return that folder. `source` (e.g. the registry URI) goes in
    serving.json."""
    model_folder = model_folder.resolve()
    if not (model_folder / "config.json").is_file():
        raise StagingError(
            f"{model_folder} has no config.json: it is not a save_pretrained folder of the language model; "
            "train one (make llm-train) and stage the folder model.save wrote"
        )
    if max_concurrent_requests < 1:
        raise StagingError(f"max_concurrent_requests is {max_concurrent_requests}; it must be at least 1")
    defaults = defaults or Sampling()
    folder = repository / model_name
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "1").mkdir(parents=True)
    shutil.copytree(model_folder, folder / "1" / CHECKPOINT_DIR, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(Path(__file__).with_name("triton_model.py"), folder / "1" / "model.py")
    config = model_config(package, defaults, model_name, max_concurrent_requests, monitoring_dir)
    (folder / "config.pbtxt").write_text(str(text_format.MessageToString(config)), encoding="utf-8")
    manifest = {
        "model_name": model_name,
        "contract": "vllm",
        "backend": "python",
        "source": source or str(model_folder),
        "sampling_defaults": defaults.model_dump(),
        "max_concurrent_requests": max_concurrent_requests,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder


def stage_project_model(repository: Path, platform_: Platform | None = None) -> Path | None:
    """Stage the registry's champion language model into `repository` (`make build-serving` does it
    after the champion's models); None when no model is registered as champion yet."""
    import tempfile

    from ..lm.model import load as load_model
    from .data import load_pairs
    from .monitoring import write_reference
    from .settings import load, resolve
    from .steps import champion_folder, training_settings

    current = platform_ or platform()
    llm = load(current)
    repository.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".llm-champion-", dir=repository.parent) as scratch:
        folder = champion_folder(Path(scratch), platform_=current)
        if folder is None:
            return None
        # the champion's own reference prompts, beside the prompt log it will be judged against
        watched = resolve(llm.monitoring_dir, current).resolve()
        pairs = load_pairs(resolve(llm.questions, current))
        write_reference(watched, load_model(folder), [pair.prompt(llm.prompt) for pair in pairs])
        alias = training_settings(llm, current).champion_alias
        return stage_model(
            repository,
            folder,
            str(current.project["package"]),
            model_name=llm.model_name,
            defaults=llm.sampling,
            source=f"models:/{llm.registered_model}@{alias}",
            monitoring_dir=watched,
        )
