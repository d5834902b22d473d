"""Tier 1: self-hosted generation as decisions (platform_engine/generation.py).

A text-generation project gets `decisions.model.llm`: the local model it trains, the production
checkpoint for the answered size, and the vLLM engine arguments of the cloud profile, which follow
the precision, the GPU's compute capability and the GPUs per replica already decided.
"""

from __future__ import annotations

import pytest
from platform_engine import Answers, decide
from platform_engine.generation import max_model_len, production_checkpoints, weight_format
from platform_engine.tables import table, use_cases

pytestmark = pytest.mark.engine


def _llm(**answers: object) -> dict[str, object]:
    llm = decide(Answers(**{"use_case": "text_generation", "hosting": "self_hosted", **answers})).model.numbers["llm"]
    assert llm is not None
    return llm


def test_only_use_cases_with_a_generation_entry_get_a_language_model() -> None:
    with_llm = {case for case in use_cases() if decide(Answers(use_case=case)).model.numbers["llm"]}
    assert with_llm == {"text_generation"}


@pytest.mark.parametrize(("size", "served"), [(1, 8), (7, 8), (8, 8), (13, 70), (70, 70), (180, 405), (1000, 405)])
def test_the_smallest_checkpoint_that_holds_the_answered_size(size: float, served: int) -> None:
    assert production_checkpoints(Answers(use_case="text_generation", model_size_b=size))["params_b"] == served


@pytest.mark.parametrize(
    ("precision", "capability", "expected"),
    [
        ("fp16", 7.5, ("float16", None)),  # T4: no bfloat16
        ("fp16", 8.0, ("bfloat16", None)),
        ("int8", 8.9, ("bfloat16", "fp8")),  # L4: FP8 Tensor Cores
        ("int8", 8.6, ("bfloat16", "compressed-tensors")),  # A10G: INT8 W8A8
        ("int8", 7.5, ("float16", "compressed-tensors")),
        ("int4", 8.0, ("float16", "awq_marlin")),
        ("int4", 7.5, ("float16", "awq")),
        ("fp32", 8.0, ("float32", None)),
    ],
)
def test_the_weight_format_follows_precision_and_compute_capability(
    precision: str, capability: float, expected: tuple[str, str | None]
) -> None:
    chosen = weight_format(precision, capability)
    assert (chosen["dtype"], chosen["quantization"]) == expected


def test_the_engine_arguments_follow_the_decided_pool_and_precision() -> None:
    decisions = decide(Answers(use_case="text_generation", hosting="self_hosted", model_size_b=70, precision="int4"))
    engine = decisions.model.numbers["llm"]["engine"]
    pool = decisions.gpu.numbers["environments"]["prod"]
    assert engine["model"] == "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4"
    assert engine["quantization"] in {"awq", "awq_marlin"}
    assert engine["tensor_parallel_size"] == pool["gpus_per_replica"] == 4  # 42 GB over 16 GB T4s
    assert engine["gpu_memory_utilization"] == table("generation")["gpu_memory_utilization"]


def test_gcp_l4_serves_int8_as_fp8_and_aws_a10g_as_w8a8() -> None:
    gcp = _llm(cloud="gcp", precision="int8", monthly_requests=2_000_000)
    aws = _llm(cloud="aws", precision="int8", monthly_requests=2_000_000)
    by_capability = {gcp["compute_capability"]: gcp["engine"], aws["compute_capability"]: aws["engine"]}
    for capability, engine in by_capability.items():
        expected = "fp8" if capability >= 8.9 else "compressed-tensors"
        assert engine["quantization"] == expected  # type: ignore[index]


def test_max_model_len_holds_the_request_with_headroom() -> None:
    length = max_model_len(Answers(use_case="text_generation"))
    rule = table("generation")
    assert length & (length - 1) == 0  # a power of two
    assert rule["min_model_len"] <= length <= rule["max_model_len"]
    assert length >= (500 + 200) * rule["context_headroom"]


def test_api_hosting_still_trains_locally_but_serves_nothing_in_the_cloud() -> None:
    llm = decide(Answers(use_case="text_generation", hosting="api")).model.numbers["llm"]
    assert llm["served_in_cloud"] is False and llm["local"]["layers"] >= 1
    assert _llm()["served_in_cloud"] is True


def test_the_decision_is_plain_data_for_templates() -> None:
    llm = decide(Answers(use_case="text_generation")).to_dict()["model"]["llm"]
    assert set(llm) >= {"library", "architecture", "local", "production", "backend", "engine", "sampling", "streaming"}
    assert llm["backend"]["name"] == "vllm" and llm["backend"]["image"].endswith("-vllm-python-py3")
