"""GPU sizing: tier from model memory and peak load, instance per cloud, node counts per environment."""

from __future__ import annotations

import math
from typing import Any

from .answers import Answers
from .model_choice import model_params_b
from .records import Decision, GpuSizing
from .tables import prices, table


def model_memory_gb(params_b: float, precision: str) -> float:
    """Serving memory: weights at the precision's bytes per parameter, plus the overhead factor."""
    sizing = table("sizing")
    return float(params_b * sizing["bytes_per_param"][precision] * sizing["memory_overhead"])


def _tiers() -> list[dict[str, Any]]:
    tiers: list[dict[str, Any]] = table("sizing")["tiers"]
    return tiers


def tier_index(tier_id: str) -> int:
    return [t["id"] for t in _tiers()].index(tier_id)


def tier_for_memory(memory_gb: float) -> int:
    """Smallest tier whose single GPU holds the model; the largest tier (several GPUs) otherwise."""
    for index, tier in enumerate(_tiers()):
        if memory_gb <= tier["gpu_memory_gb"]:
            return index
    return len(_tiers()) - 1


def tier_for_throughput(peak_rps: float) -> int:
    """Smallest tier whose per-GPU capacity covers the peak with headroom."""
    needed = peak_rps * table("sizing")["headroom"]
    for index, tier in enumerate(_tiers()):
        if needed <= tier["capacity_rps"]:
            return index
    return len(_tiers()) - 1


def generation_rps_per_replica(params_b: float) -> float:
    """Requests/s one replica of a generation model serves (the reference's 70B example, scaled)."""
    rule = table("sizing")["generation"]
    reference_rps = rule["reference_requests_per_minute"] / 60.0
    return float(min(rule["max_rps_per_gpu"], reference_rps * rule["reference_params_b"] / params_b))


def gpus_per_replica(memory_gb: float, gpu_memory_gb: float) -> int:
    """GPUs one model replica spans: enough memory, rounded up to a power of two (tensor parallel)."""
    needed = max(1, math.ceil(memory_gb / gpu_memory_gb))
    return 1 << (needed - 1).bit_length()


def _shape(price_table: dict[str, Any], cloud: str, tier_id: str, gpus: int) -> tuple[str, int, float]:
    """(instance type, GPUs per node, hourly) of the smallest shape with at least `gpus` GPUs."""
    base = price_table["gpu"][cloud][tier_id]
    if gpus <= base["gpus"]:
        return base["instance"], int(base["gpus"]), float(base["hourly"])
    shapes = price_table["multi_gpu_shapes"][cloud].get(tier_id, {})
    for count in sorted(int(c) for c in shapes):
        if count >= gpus:
            per_gpu = base["hourly"] / base["gpus"]
            return shapes[count], count, round(per_gpu * count, 4)
    return base["instance"], int(base["gpus"]), float(base["hourly"])


def size_node_pool(
    *,
    cloud: str,
    params_b: float,
    precision: str,
    peak_rps: float,
    generation: bool,
    environment: str,
    gpu_type: str = "auto",
    price_overrides: dict[str, Any] | None = None,
) -> GpuSizing:
    """The GPU node pool for one environment. Pure: same inputs, same pool."""
    sizing = table("sizing")
    price_table = prices(price_overrides)
    memory = model_memory_gb(params_b, precision)
    if gpu_type != "auto":
        index = tier_index(gpu_type)
    elif generation:
        index = tier_for_memory(memory)
    else:
        index = max(tier_for_memory(memory), tier_for_throughput(peak_rps))
    tier = _tiers()[index]
    cloud_gpu = price_table["gpu"][cloud][tier["id"]]
    gpu_memory = float(cloud_gpu["gpu_memory_gb"])
    per_replica = gpus_per_replica(memory, gpu_memory)
    instance, gpus_per_node, hourly = _shape(price_table, cloud, tier["id"], per_replica)
    fits = per_replica <= gpus_per_node and memory <= per_replica * gpu_memory
    capacity = generation_rps_per_replica(params_b) if generation else float(tier["capacity_rps"])
    replicas = max(1, math.ceil(peak_rps * sizing["headroom"] / capacity))
    replicas_per_node = max(1, gpus_per_node // per_replica)
    nodes_needed = math.ceil(replicas / replicas_per_node)
    env_rule = sizing["environments"][environment]
    max_nodes = max(1, min(nodes_needed, env_rule["max_nodes_cap"]))
    return GpuSizing(
        tier=tier["id"],
        gpu_label=tier["label"],
        instance_type=instance,
        accelerator=str(cloud_gpu.get("accelerator", "")),
        gpus_per_node=gpus_per_node,
        gpu_memory_gb=gpu_memory,
        gpus_per_replica=per_replica,
        replicas=replicas if environment == "prod" else 1,
        min_nodes=int(env_rule["min_nodes"]),
        max_nodes=max_nodes,
        hourly_per_node=hourly,
        capacity_rps_per_replica=round(capacity, 3),
        model_memory_gb=round(memory, 3),
        fits=fits,
    )


# With a hosted API the GPU pool only ever runs the small smoke model: smallest tier, scale to zero.
SMOKE_MODEL_PARAMS_B = 0.001


def sizing_inputs(answers: Answers, precision: str, environment: str, hosting: str = "self_hosted") -> dict[str, Any]:
    """The inputs `size_node_pool` gets for one environment (also rendered for the Terraform sizing module)."""
    if hosting == "api":
        return {
            "cloud": answers.cloud,
            "params_b": SMOKE_MODEL_PARAMS_B,
            "precision": precision,
            "peak_rps": 0.0,
            "generation": False,
            "environment": "dev",
            "gpu_type": "t4",
        }
    return {
        "cloud": answers.cloud,
        "params_b": model_params_b(answers),
        "precision": precision,
        "peak_rps": float(answers.peak_rps),
        "generation": answers.is_generation,
        "environment": environment,
        "gpu_type": answers.gpu_type,
    }


def node_pool_for(answers: Answers, precision: str, environment: str, hosting: str = "self_hosted") -> GpuSizing:
    return size_node_pool(
        **sizing_inputs(answers, precision, environment, hosting), price_overrides=answers.price_overrides
    )


def decide_gpu(answers: Answers, precision: str, hosting: str) -> Decision:
    pools = {env: node_pool_for(answers, precision, env, hosting) for env in answers.environments}
    main = pools.get("prod") or next(iter(pools.values()))
    taint = table("sizing")["node_pool"][answers.cloud]
    if hosting == "api":
        reason = (
            "because the model is a hosted API: one scale-to-zero node of the smallest GPU serves the "
            "local smoke model and evaluation jobs"
        )
    else:
        by_memory = tier_for_memory(main.model_memory_gb) == tier_index(main.tier)
        limit = "memory sets the tier" if by_memory and tier_index(main.tier) > 0 else "load sets the tier"
        if tier_index(main.tier) == 0:
            limit = "the smallest tier holds both"
        reason = (
            f"because the model needs {main.model_memory_gb:g} GB at {precision.upper()} and the peak is "
            f"{answers.peak_rps:g} req/s ({limit}): {main.replicas} replica(s) of "
            f"{main.gpus_per_replica} x {main.gpu_label} on {main.instance_type}"
        )
    if answers.gpu_type != "auto":
        reason = f"because you chose {main.gpu_label}; " + reason.removeprefix("because ")
    return Decision(
        key="gpu",
        title="GPU node pool",
        choice=f"{main.instance_type} ({main.gpu_label}), {main.min_nodes}-{main.max_nodes} nodes",
        reason=reason,
        alternatives=tuple(t["label"] for t in _tiers() if t["id"] != main.tier),
        numbers={
            "environments": {env: pool.to_dict() for env, pool in pools.items()},
            "taint": dict(taint["taint"]),
            "labels": dict(taint["labels"]),
            "headroom": table("sizing")["headroom"],
            "inputs": {env: sizing_inputs(answers, precision, env, hosting) for env in answers.environments},
        },
    )
