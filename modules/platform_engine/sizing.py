"""GPU sizing: the cheapest fleet (GPU, shape, replicas, nodes) that holds the model and serves the peak."""

from __future__ import annotations

import math
from typing import Any

from .answers import SECONDS_PER_MONTH, Answers
from .model_choice import model_option, model_params_b
from .records import Decision, GpuSizing
from .tables import prices, table
from .workload import TIER_THROUGHPUT, replica_rps, request_of, throughput_basis, throughput_spec, unit_of_work


def model_memory_gb(params_b: float, precision: str) -> float:
    """Serving memory: weights at the precision's bytes per parameter, plus the overhead factor."""
    sizing = table("sizing")
    return float(params_b * sizing["bytes_per_param"][precision] * sizing["memory_overhead"])


def _tiers() -> list[dict[str, Any]]:
    tiers: list[dict[str, Any]] = table("sizing")["tiers"]
    return tiers


def tier_index(tier_id: str) -> int:
    return [t["id"] for t in _tiers()].index(tier_id)


def gpus_per_replica(memory_gb: float, gpu_memory_gb: float) -> int:
    """GPUs one model replica spans: enough memory, rounded up to a power of two (tensor parallel)."""
    needed = max(1, math.ceil(memory_gb / gpu_memory_gb))
    return 1 << (needed - 1).bit_length()


def _shapes(price_table: dict[str, Any], cloud: str, tier_id: str, gpus: int) -> list[tuple[str, int, float]]:
    """(instance type, GPUs per node, hourly) of every shape of the tier with at least `gpus` GPUs,
    smallest first; the base shape alone when none has enough (the model does not fit)."""
    base = price_table["gpu"][cloud][tier_id]
    per_gpu = base["hourly"] / base["gpus"]
    found = [(str(base["instance"]), int(base["gpus"]), float(base["hourly"]))]
    for count, name in sorted((int(c), n) for c, n in price_table["multi_gpu_shapes"][cloud].get(tier_id, {}).items()):
        if count > base["gpus"]:
            found.append((str(name), count, round(per_gpu * count, 4)))
    fitting = [shape for shape in found if shape[1] >= gpus]
    return fitting or found[:1]


def pool_on_tier(
    *,
    tier: dict[str, Any],
    cloud: str,
    params_b: float,
    precision: str,
    peak_rps: float,
    throughput: dict[str, Any],
    environment: str,
    price_table: dict[str, Any],
    shape: int = 0,
) -> GpuSizing:
    """The fleet on one tier: replicas of the model, packed onto one of the tier's shapes (the
    `shape`-th that holds a replica, smallest first; larger nodes hold more replicas under the cap).

    One fleet, used everywhere (HPA, Terraform node pool, cost): the HPA runs `min_replicas` to
    `max_replicas`, which sit on `min_nodes` to `max_nodes` nodes of `replicas_per_node` each.
    `replicas_needed` is what the peak asks for; above the environment's node cap it is more than
    `max_replicas` (the design review warns).
    """
    sizing = table("sizing")
    memory = model_memory_gb(params_b, precision)
    cloud_gpu = price_table["gpu"][cloud][tier["id"]]
    gpu_memory = float(cloud_gpu["gpu_memory_gb"])
    per_replica = gpus_per_replica(memory, gpu_memory)
    shapes = _shapes(price_table, cloud, tier["id"], per_replica)
    instance, gpus_per_node, hourly = shapes[min(shape, len(shapes) - 1)]
    fits = per_replica <= gpus_per_node and memory <= per_replica * gpu_memory
    capacity = replica_rps(throughput, tier, params_b)
    replicas_per_node = max(1, gpus_per_node // per_replica)
    env_rule = sizing["environments"][environment]
    needed = max(1, math.ceil(peak_rps * sizing["headroom"] / capacity)) if environment == "prod" else 1
    max_replicas = max(1, min(needed, int(env_rule["max_nodes_cap"]) * replicas_per_node))
    min_replicas = min(max_replicas, int(env_rule["min_replicas"]))
    return GpuSizing(
        tier=tier["id"],
        gpu_label=tier["label"],
        instance_type=instance,
        accelerator=str(cloud_gpu.get("accelerator", "")),
        gpus_per_node=gpus_per_node,
        gpu_memory_gb=gpu_memory,
        gpus_per_replica=per_replica,
        replicas=max_replicas,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        replicas_needed=needed,
        replicas_per_node=replicas_per_node,
        min_nodes=int(env_rule["min_nodes"]),
        max_nodes=math.ceil(max_replicas / replicas_per_node),
        hourly_per_node=hourly,
        capacity_rps_per_replica=round(capacity, 3),
        model_memory_gb=round(memory, 3),
        fits=fits,
    )


def expected_nodes(pool: GpuSizing, monthly_requests: int, headroom: float) -> int:
    """Nodes running on average: the average load with headroom, never below the pool's minimum."""
    average_rps = monthly_requests / SECONDS_PER_MONTH
    replicas = math.ceil(average_rps * headroom / pool.capacity_rps_per_replica)
    return min(pool.max_nodes, max(pool.min_nodes, math.ceil(replicas / pool.replicas_per_node)))


def expected_monthly(pool: GpuSizing, monthly_requests: int) -> float:
    """What the fleet costs in a month of `monthly_requests`: the nodes the average load keeps up."""
    nodes = expected_nodes(pool, monthly_requests, float(table("sizing")["headroom"]))
    return float(nodes * pool.hourly_per_node * table("prices")["hours_per_month"])


def peak_monthly(pool: GpuSizing) -> float:
    """What the fleet costs per month when it runs at its maximum (the comparison between shapes)."""
    return float(pool.max_nodes * pool.hourly_per_node * table("prices")["hours_per_month"])


def pool_candidates(
    *,
    cloud: str,
    params_b: float,
    precision: str,
    peak_rps: float,
    throughput: dict[str, Any],
    environment: str,
    price_overrides: dict[str, Any] | None = None,
) -> list[GpuSizing]:
    """The fleet on every tier and shape of the catalog, smallest tier and shape first."""
    price_table = prices(price_overrides)
    memory = model_memory_gb(params_b, precision)
    pools = []
    for tier in _tiers():
        per_replica = gpus_per_replica(memory, float(price_table["gpu"][cloud][tier["id"]]["gpu_memory_gb"]))
        for shape in range(len(_shapes(price_table, cloud, tier["id"], per_replica))):
            pools.append(
                pool_on_tier(
                    tier=tier,
                    cloud=cloud,
                    params_b=params_b,
                    precision=precision,
                    peak_rps=peak_rps,
                    throughput=throughput,
                    environment=environment,
                    price_table=price_table,
                    shape=shape,
                )
            )
    return pools


def cheapest_fitting(candidates: list[GpuSizing], monthly_requests: int = 0) -> GpuSizing:
    """Scale out, not up: the fleet that holds the model and serves the peak for the least money in
    a month of `monthly_requests` (then the cheaper peak, then the smaller GPU); the largest tier when
    none holds the model (the review warns)."""
    fitting = [pool for pool in candidates if pool.fits]
    if not fitting:
        return candidates[-1]
    serving = [pool for pool in fitting if pool.max_replicas >= pool.replicas_needed]
    if not serving:  # no shape serves the peak under the node cap: the most capacity (the review warns)
        return max(fitting, key=lambda pool: (pool.max_replicas * pool.capacity_rps_per_replica, -peak_monthly(pool)))
    return min(
        serving,
        key=lambda pool: (
            round(expected_monthly(pool, monthly_requests), 2),
            round(peak_monthly(pool), 2),
            tier_index(pool.tier),
        ),
    )


def choose_pool(candidates: list[GpuSizing], gpu_type: str, monthly_requests: int) -> GpuSizing:
    """The prod fleet among `candidates`: on the chosen GPU, or the cheapest on any (`auto`)."""
    if gpu_type != "auto":
        candidates = [pool for pool in candidates if pool.tier == gpu_type]
    return cheapest_fitting(candidates, monthly_requests)


def size_node_pool(
    *,
    cloud: str,
    params_b: float,
    precision: str,
    peak_rps: float,
    throughput: dict[str, Any],
    environment: str,
    gpu_type: str = "auto",
    monthly_requests: int = 0,
    price_overrides: dict[str, Any] | None = None,
) -> GpuSizing:
    """The GPU node pool for one environment. Pure: same inputs, same pool.

    `auto` takes the cheapest GPU that holds the model and adds replicas for throughput; a chosen
    `gpu_type` takes that GPU. In dev the pool follows the prod choice (one replica, scale to zero).
    """
    candidates = pool_candidates(
        cloud=cloud,
        params_b=params_b,
        precision=precision,
        peak_rps=peak_rps,
        throughput=throughput,
        environment="prod",
        price_overrides=price_overrides,
    )
    chosen = choose_pool(candidates, gpu_type, monthly_requests)
    if environment == "prod":
        return chosen
    # other environments run one replica: the chosen GPU's smallest shape that holds it
    return pool_on_tier(
        tier=_tiers()[tier_index(chosen.tier)],
        cloud=cloud,
        params_b=params_b,
        precision=precision,
        peak_rps=peak_rps,
        throughput=throughput,
        environment=environment,
        price_table=prices(price_overrides),
    )


# With a hosted API, or on edge devices, no cloud GPU serves the model: the pool only runs the small
# smoke model and evaluation jobs (smallest tier, scale to zero).
SMOKE_MODEL_PARAMS_B = 0.001


def serves_in_cloud(hosting: str, pattern: str) -> bool:
    """Whether a cloud GPU fleet serves the model (not a hosted API, not edge devices)."""
    return hosting == "self_hosted" and pattern != "edge"


def answer_throughput(answers: Answers) -> dict[str, Any]:
    """How a GPU serves one of this use case's requests (workload.py), from the catalog."""
    return throughput_spec(request_of(answers.use_case), model_option(answers), answers.is_generation)


def sizing_inputs(
    answers: Answers, precision: str, environment: str, hosting: str = "self_hosted", pattern: str = "realtime"
) -> dict[str, Any]:
    """The inputs `size_node_pool` gets for one environment (recorded in platform.yaml as `decisions.gpu.inputs`)."""
    if not serves_in_cloud(hosting, pattern):
        return {
            "cloud": answers.cloud,
            "params_b": SMOKE_MODEL_PARAMS_B,
            "precision": precision,
            "peak_rps": 0.0,
            "throughput": dict(TIER_THROUGHPUT),
            "environment": "jobs_only",
            "gpu_type": "t4",
            "monthly_requests": 0,
        }
    return {
        "cloud": answers.cloud,
        "params_b": model_params_b(answers),
        "precision": precision,
        "peak_rps": float(answers.peak_rps),
        "throughput": answer_throughput(answers),
        "environment": environment,
        "gpu_type": answers.gpu_type,
        "monthly_requests": int(answers.monthly_requests),
    }


def node_pool_for(
    answers: Answers, precision: str, environment: str, hosting: str = "self_hosted", pattern: str = "realtime"
) -> GpuSizing:
    return size_node_pool(
        **sizing_inputs(answers, precision, environment, hosting, pattern), price_overrides=answers.price_overrides
    )


def decide_gpu(answers: Answers, precision: str, hosting: str, pattern: str = "realtime") -> Decision:
    pools = {env: node_pool_for(answers, precision, env, hosting, pattern) for env in answers.environments}
    main = pools.get("prod") or next(iter(pools.values()))
    taint = table("sizing")["node_pool"][answers.cloud]
    others: list[str] = []
    # the prod fleet as if self-hosted in the cloud: what serves the peak, and at which rate
    inputs = sizing_inputs(answers, precision, "prod")
    candidates = pool_candidates(**_candidate_inputs(inputs), price_overrides=answers.price_overrides)
    prod = choose_pool(candidates, answers.gpu_type, answers.monthly_requests)
    request = request_of(answers.use_case)
    tier = _tiers()[tier_index(prod.tier)]
    basis = throughput_basis(inputs["throughput"], request, tier, prod.capacity_rps_per_replica)
    if hosting == "api":
        reason = (
            "because the model is a hosted API: one scale-to-zero node of the smallest GPU serves the "
            "local smoke model and evaluation jobs"
        )
    elif pattern == "edge":
        reason = (
            "because the edge pattern runs the model on the devices: no cloud GPU serves it; one "
            "scale-to-zero node of the smallest GPU runs the smoke model, evaluation and export jobs"
        )
    else:
        best_per_tier = {
            tier: cheapest_fitting([p for p in candidates if p.tier == tier], answers.monthly_requests)
            for tier in dict.fromkeys(p.tier for p in candidates)
        }
        others = [
            f"{pool.instance_type} ({pool.gpu_label}): {pool.max_nodes} node(s) at peak, "
            f"${peak_monthly(pool):,.0f}/month"
            for pool in best_per_tier.values()
            if pool.fits and pool.instance_type != prod.instance_type
        ]
        reason = (
            f"because the model needs {main.model_memory_gb:g} GB at {precision.upper()} and the peak of "
            f"{answers.peak_rps:g} req/s ({basis}) needs {prod.replicas_needed} replica(s) of "
            f"{main.gpus_per_replica} x {main.gpu_label}: scaling out on {prod.instance_type} "
            f"({prod.min_nodes}-{prod.max_nodes} nodes) is the cheapest fleet that holds it, "
            f"~${expected_monthly(prod, answers.monthly_requests):,.0f}/month at "
            f"{answers.monthly_requests:,} requests (${peak_monthly(prod):,.0f} if it ran at peak all month)"
        )
    if answers.gpu_type != "auto":
        reason = f"because you chose {main.gpu_label}; " + reason.removeprefix("because ")
    return Decision(
        key="gpu",
        title="GPU node pool",
        choice=f"{main.instance_type} ({main.gpu_label}), {main.min_nodes}-{main.max_nodes} nodes",
        reason=reason,
        alternatives=tuple(others),
        numbers={
            "environments": {env: pool.to_dict() for env, pool in pools.items()},
            "taint": dict(taint["taint"]),
            "labels": dict(taint["labels"]),
            "headroom": table("sizing")["headroom"],
            "inputs": {env: sizing_inputs(answers, precision, env, hosting, pattern) for env in answers.environments},
            "serves_in_cloud": serves_in_cloud(hosting, pattern),
            "unit_of_work": unit_of_work(answers.use_case),
            "throughput_basis": basis,
            **_throughput_source(answers, inputs["throughput"]["kind"]),
        },
    )


def _throughput_source(answers: Answers, kind: str) -> dict[str, Any]:
    """Where the throughput figure comes from: the model's own figure (metered) or the reference tables."""
    if kind == "metered":
        metered = model_option(answers)["throughput"]
        return {"throughput_source": str(metered["source"]), "throughput_is_estimate": bool(metered["estimate"])}
    return {
        "throughput_source": "reference/ml-cv-specialist.md: scale table (req/s per GPU), Llama 70B worked example",
        "throughput_is_estimate": False,
    }


def _candidate_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """`sizing_inputs` less what only the choice among candidates reads (GPU type, monthly volume)."""
    return {key: value for key, value in inputs.items() if key not in ("gpu_type", "monthly_requests")}
