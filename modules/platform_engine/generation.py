"""Self-hosted generation: the causal language model a text-generation project trains and serves
(catalog `generation`), and the vLLM engine arguments the cloud profile's Triton runs it with
(generation.yaml), sized from the precision and the GPU pool already decided."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .answers import Answers
from .model_choice import catalog_entry
from .records import Decision, GpuSizing
from .tables import prices, table


def production_checkpoints(answers: Answers) -> dict[str, Any]:
    """The catalog's checkpoint row for the answer's model size: the smallest that holds it."""
    rows: list[dict[str, Any]] = sorted(catalog_entry(answers.use_case)["generation"]["checkpoints"],
                                        key=lambda row: row["params_b"])  # fmt: skip
    return next((row for row in rows if row["params_b"] >= answers.model_size_b), rows[-1])


def compute_capability(answers: Answers, pool: GpuSizing) -> float:
    """The CUDA compute capability of the pool's GPU on the answer's cloud (prices.yaml)."""
    row = prices(answers.price_overrides)["gpu"][answers.cloud][pool.tier]
    return float(row["compute_capability"])


def weight_format(precision: str, capability: float) -> dict[str, Any]:
    """The first format of the precision (generation.yaml `formats`) the GPU runs."""
    formats: list[dict[str, Any]] = table("generation")["formats"][precision]
    for candidate in formats:
        if capability >= float(candidate["min_compute_capability"]):
            return candidate
    return formats[-1]


def max_model_len(answers: Answers) -> int:
    """The request's tokens with headroom for longer prompts, a power of two within the bounds."""
    rule = table("generation")
    request = catalog_entry(answers.use_case)["request"]
    wanted = (int(request["input_tokens"]) + int(request["output_tokens"])) * float(rule["context_headroom"])
    length = 2 ** math.ceil(math.log2(max(wanted, 1.0)))
    return int(min(max(length, rule["min_model_len"]), rule["max_model_len"]))


def vllm_engine_args(answers: Answers, precision: str, pool: GpuSizing) -> dict[str, Any]:
    """vLLM's engine arguments (Triton vLLM backend `model.json`) from the decisions."""
    rule = table("generation")
    fmt = weight_format(precision, compute_capability(answers, pool))
    args: dict[str, Any] = {
        "model": production_checkpoints(answers)[fmt["checkpoint"]],
        "tensor_parallel_size": pool.gpus_per_replica,
        "dtype": fmt["dtype"],
        "max_model_len": max_model_len(answers),
        "gpu_memory_utilization": rule["gpu_memory_utilization"],
    }
    if fmt["quantization"]:
        args["quantization"] = fmt["quantization"]
    return args


def model_llm(answers: Answers, precision: str, pool: GpuSizing, hosting: str) -> dict[str, Any] | None:
    """The language model a generation project trains locally and serves in the cloud; None for use
    cases without one (catalog `generation`)."""
    spec = catalog_entry(answers.use_case).get("generation")
    if not spec:
        return None
    rule = table("generation")
    request = catalog_entry(answers.use_case)["request"]
    checkpoints = production_checkpoints(answers)
    engine = vllm_engine_args(answers, precision, pool)
    return {
        "library": spec["library"],
        "architecture": spec["architecture"],
        "licence": spec["licence"],
        "local": dict(spec["local"]),
        "production": {"checkpoint": checkpoints["fp16"], "params_b": checkpoints["params_b"]},
        "backend": dict(rule["backend"]),
        "engine": engine,
        "compute_capability": compute_capability(answers, pool),
        "sampling": {"max_tokens": int(request["output_tokens"]), **rule["sampling"]},
        "streaming": True,  # Triton's decoupled transaction policy: tokens as they are generated
        "alerts": {
            "ttft_ms": float(answers.latency_p95_ms),
            "min_stream_tokens_per_second": float(rule["alerts"]["min_stream_tokens_per_second"]),
        },
        "served_in_cloud": hosting == "self_hosted",
    }


def with_llm(model: Decision, answers: Answers, precision: str, pool: GpuSizing, hosting: str) -> Decision:
    """The model decision with `llm` filled in."""
    return dataclasses.replace(model, numbers={**model.numbers, "llm": model_llm(answers, precision, pool, hosting)})
