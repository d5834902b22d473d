"""Serving pattern, precision and Triton batching."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .answers import Answers
from .model_choice import catalog_entry, model_option, model_params_b
from .records import Decision, GpuSizing
from .sizing import gpus_per_replica, model_memory_gb
from .tables import table

TREE_FAMILIES = ("tabular", "time_series", "recommendations")
LARGEST_NODE_MEMORY_GB = 8 * 80


def recommended_pattern(answers: Answers) -> str:
    rule = table("patterns")
    return "batch" if answers.latency_p95_ms >= rule["batch_when_latency_at_least_ms"] else "realtime"


def decide_pattern(answers: Answers) -> Decision:
    patterns = table("patterns")["patterns"]
    recommended = recommended_pattern(answers)
    chosen = answers.serving_pattern or recommended
    if chosen == recommended:
        if chosen == "batch":
            reason = f"because a p95 target of {answers.latency_p95_ms} ms lets callers wait for a queue"
        else:
            reason = f"because a p95 target of {answers.latency_p95_ms} ms needs a synchronous path"
    else:
        reason = f"because you chose it (the engine suggests {patterns[recommended]['label'].lower()})"
    return Decision(
        key="serving_pattern",
        title="Serving pattern",
        choice=chosen,
        reason=reason,
        alternatives=tuple(p for p in patterns if p != chosen),
        numbers={
            "recommended": recommended,
            "path": patterns[chosen]["path"],
            "label": patterns[chosen]["label"],
            **({"gateway": gateway(answers.latency_p95_ms)} if chosen == "realtime" else {}),
        },
    )


def gateway(latency_p95_ms: float) -> dict[str, Any]:
    """The real-time gateway: the endpoints it routes per model and its timeouts (patterns.yaml)."""
    rule = table("patterns")["gateway"]
    wait_ms = queue_delay_ms(latency_p95_ms)
    budget_ms = latency_p95_ms + wait_ms
    timeout_s = max(int(rule["min_timeout_s"]), math.ceil(budget_ms * float(rule["tail_factor"]) / 1000))
    floor = " (the floor)" if timeout_s == int(rule["min_timeout_s"]) else ""
    return {
        "endpoints": [str(item) for item in rule["endpoints"]],
        "health_endpoints": [str(item) for item in rule["health_endpoints"]],
        "connect_timeout_s": int(rule["connect_timeout_s"]),
        "send_timeout_s": timeout_s,
        "read_timeout_s": timeout_s,
        "reason": (
            f"because a request may take its {latency_p95_ms:g} ms p95 target plus the {wait_ms:g} ms "
            f"batching wait, and the gateway waits {rule['tail_factor']}x that for the tail, at least "
            f"{rule['min_timeout_s']} s{floor}: {timeout_s} s"
        ),
    }


def edge_device_budget(answers: Answers, precision: str) -> dict[str, Any]:
    """The device an edge bundle targets, its budget (memory, the p95 target) and the engine's
    estimate for this model at `precision`; the project measures its exported artifact against the
    same budget (platform.yaml serving.edge.device_budget)."""
    device = table("patterns")["edge_device"]
    option = model_option(answers)
    return {
        "label": device["label"],
        "model_memory_budget_mb": round(float(device["model_memory_gb"]) * 1024),
        "latency_budget_ms": answers.latency_p95_ms,
        "estimated_memory_mb": round(model_memory_gb(model_params_b(answers), precision) * 1024, 1),
        "estimated_latency_ms": round(float(option["latency_ms"]) / float(device["relative_speed"]), 1),
        "source": device["source"],
    }


def with_edge_device(pattern: Decision, answers: Answers, precision: str) -> Decision:
    """The pattern decision with the edge device budget recorded (every project can export a bundle)."""
    return dataclasses.replace(
        pattern, numbers={**pattern.numbers, "edge_device": edge_device_budget(answers, precision)}
    )


def recommended_precision(answers: Answers, pattern: str) -> str:
    family = catalog_entry(answers.use_case)["family"]
    if pattern == "edge":
        return "int8"
    if family in TREE_FAMILIES:
        return "fp32"
    for precision in ("fp16", "int8", "int4"):
        if model_memory_gb(model_params_b(answers), precision) <= LARGEST_NODE_MEMORY_GB:
            return precision
    return "int4"


def decide_precision(answers: Answers, pattern: str) -> Decision:
    recommended = recommended_precision(answers, pattern)
    chosen = answers.precision or recommended
    family = catalog_entry(answers.use_case)["family"]
    if chosen != recommended:
        reason = f"because you chose it (the engine suggests {recommended.upper()})"
    elif pattern == "edge":
        reason = "because edge devices need the 75% memory cut of INT8 quantization"
    elif family in TREE_FAMILIES:
        reason = "because tree models gain nothing from half precision"
    else:
        reason = f"because {recommended.upper()} halves memory or better at neutral speed on Tensor Cores"
    memory = model_memory_gb(model_params_b(answers), chosen)
    return Decision(
        key="precision",
        title="Precision",
        choice=chosen,
        reason=reason,
        alternatives=tuple(p for p in ("fp32", "fp16", "int8", "int4") if p != chosen),
        numbers={
            "recommended": recommended,
            "model_memory_gb": round(memory, 3),
            "tensorrt_precision_mode": {"fp16": "FP16", "int8": "INT8"}.get(chosen),
        },
    )


def queue_delay_ms(latency_p95_ms: float) -> float:
    """The batcher's wait for company: a thousandth of the latency budget, 0.1 ms to 50 ms."""
    rule = table("batching")
    share = latency_p95_ms * rule["queue_delay_share_of_target"]
    return float(max(rule["min_queue_delay_ms"], min(rule["defaults"]["max_queue_delay_ms"], share)))


def hpa_queue_target_us(latency_p95_ms: float) -> int:
    """The HPA scales out once the average queue time per request takes this share of the budget."""
    return round(latency_p95_ms * 1000 * float(table("batching")["hpa_queue_share_of_target"]))


def max_batch_size(latency_p95_ms: float, pattern: str, generation: bool) -> int:
    rule = table("batching")
    if generation:
        return int(rule["generation_max_batch_size"])
    if pattern == "batch":
        return int(rule["batch_pattern_max_batch_size"])
    for band in rule["latency_bands"]:
        if latency_p95_ms <= band["max_latency_ms"]:
            return int(band["max_batch_size"])
    return int(rule["defaults"]["max_batch_size"])


def instances_per_gpu(model_memory: float, gpu_memory: float) -> int:
    rule = table("batching")
    if model_memory > gpu_memory * rule["single_instance_memory_share"]:
        return 1
    return int(rule["instances_per_gpu"])


def decide_batching(answers: Answers, pattern: str, pool: GpuSizing) -> Decision:
    batch = max_batch_size(answers.latency_p95_ms, pattern, answers.is_generation)
    delay_ms = queue_delay_ms(answers.latency_p95_ms)
    per_gpu = instances_per_gpu(pool.model_memory_gb, pool.gpu_memory_gb)
    spanning = gpus_per_replica(pool.model_memory_gb, pool.gpu_memory_gb) > 1
    instance_count = 1 if spanning else per_gpu
    reason = (
        f"because a p95 target of {answers.latency_p95_ms} ms allows batches up to {batch}, and a request "
        f"waits at most {delay_ms:g} ms for company (every request pays that wait when traffic is light)"
    )
    return Decision(
        key="batching",
        title="Triton dynamic batching",
        choice=f"max batch {batch}, max queue delay {delay_ms:g} ms, {instance_count} instance(s) per GPU",
        reason=reason,
        alternatives=("no batching (max_batch_size 0)", "reference defaults: 32 / 50 ms"),
        numbers={
            "max_batch_size": batch,
            "max_queue_delay_ms": delay_ms,
            "max_queue_delay_microseconds": round(delay_ms * 1000),
            "hpa_queue_target_us": hpa_queue_target_us(answers.latency_p95_ms),
            "instance_count": instance_count,
            "cpu_instance_count": 2,
            "client_concurrency_for_max_throughput": 2 * batch * instance_count,
        },
    )
