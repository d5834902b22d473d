"""Cost model: API per-request pricing, self-hosted GPU hours plus people, and the break-even."""

from __future__ import annotations

import math
from typing import Any

from .answers import Answers
from .model_choice import catalog_entry
from .records import Decision, GpuSizing
from .sizing import expected_nodes, serves_in_cloud
from .tables import prices, table
from .workload import api_cost_per_request, request_of, unit_of_work


def self_hosted_cost_per_request(hourly: float, requests_per_hour: float) -> float:
    """GPU cost of one request when the GPU is kept busy."""
    return hourly / requests_per_hour


def break_even_requests(api_per_request: float, self_per_request: float, fixed_monthly: float) -> float | None:
    """Monthly volume above which self-hosting is cheaper; None when the API is cheaper at any volume."""
    margin = api_per_request - self_per_request
    if margin <= 0:
        return None
    return fixed_monthly / margin


def curve_volumes(monthly_requests: int, break_even: float | None) -> list[int]:
    """Monthly volumes for a cost chart: 1-2-5 steps from 1/100 of the project's volume (at least 1,000)
    to 100x it or 2x the break-even, whichever is larger."""
    low = max(1_000, monthly_requests // 100)
    high = max(monthly_requests * 100, int(2 * break_even) if break_even else 0)
    volumes: list[int] = []
    decade = 10 ** math.floor(math.log10(low))
    while True:
        for step in (1, 2, 5):
            volume = step * decade
            if volume >= low // 2:
                volumes.append(volume)
            if volume >= high:
                return volumes
        decade *= 10


def cost_curve(
    volumes: list[int], api_per_request: float | None, self_per_request: float, fixed_monthly: float
) -> list[dict[str, float | int | None]]:
    """Monthly cost of each option at each volume, on the break-even model: the API pays per request;
    self-hosting pays its fixed monthly cost plus the GPU cost of each request (the lines cross at
    the break-even)."""
    return [
        {
            "requests": volume,
            "api_usd": round(api_per_request * volume, 2) if api_per_request is not None else None,
            "self_hosted_usd": round(fixed_monthly + self_per_request * volume, 2),
        }
        for volume in volumes
    ]


def environment_monthly(
    pool: GpuSizing, environment: str, answers: Answers, table_: dict[str, Any], cloud_serving: bool
) -> dict[str, Any]:
    """Cloud spend of one environment: the platform baseline plus GPU node hours, with the node
    counts it assumes (the same fleet the HPA and Terraform get). Without `cloud_serving` (a hosted
    API, or edge devices) the pool only runs smoke and evaluation jobs, scaled to zero."""
    hours = table_["hours_per_month"]
    baseline = float(table_["platform_baseline_monthly"][answers.cloud])
    if environment == "dev":
        baseline *= table_["dev_share_of_baseline"]
    if not cloud_serving:
        nodes = 0.0
    elif environment == "dev":
        nodes = round(table_["dev_gpu_hours_per_month"] / hours, 4)  # on while someone works on it
    else:
        nodes = float(expected_nodes(pool, answers.monthly_requests, table("sizing")["headroom"]))
    gpu = pool.hourly_per_node * hours * nodes
    return {
        "platform": round(baseline, 2),
        "gpu": round(gpu, 2),
        "total": round(baseline + gpu, 2),
        "instance_type": pool.instance_type,
        "min_nodes": pool.min_nodes,
        "max_nodes": pool.max_nodes,
        "expected_nodes": nodes,
    }


def decide_cost(
    answers: Answers, hosting: str, pools: dict[str, GpuSizing], self_hosted_prod: GpuSizing, pattern: str = "realtime"
) -> Decision:
    """Cost of the chosen option, and of the other one for comparison.

    `self_hosted_prod` is the prod pool as if self-hosted in the cloud, so the API/self-hosted
    comparison and the break-even hold whichever option was chosen. On the edge pattern no cloud GPU
    serves the model: the cloud cost is the platform and the people (the devices are not counted).
    """
    table_ = prices(answers.price_overrides)
    entry = catalog_entry(answers.use_case)
    hours = table_["hours_per_month"]
    prod = self_hosted_prod
    fixed_people = sum(table_["self_hosted_fixed"].values())

    capacity_per_node = prod.capacity_rps_per_replica * max(1, prod.gpus_per_node // prod.gpus_per_replica)
    self_per_request = self_hosted_cost_per_request(prod.hourly_per_node, capacity_per_node * 3600)
    cloud_serving = serves_in_cloud(hosting, pattern)
    per_env = {env: environment_monthly(pool, env, answers, table_, cloud_serving) for env, pool in pools.items()}
    self_hosted_infra = environment_monthly(prod, "prod", answers, table_, True)["total"]
    self_hosted_monthly = self_hosted_infra + fixed_people

    api_pricing = table_["api"][entry["api"]["pricing"]] if entry.get("api") else None
    request = request_of(answers.use_case)
    api_per_request = api_cost_per_request(api_pricing, request) if api_pricing else None
    api_monthly = api_per_request * answers.monthly_requests if api_per_request is not None else None
    always_on = prod.hourly_per_node * hours * prod.min_nodes
    fixed_monthly = float(table_["platform_baseline_monthly"][answers.cloud]) + always_on + fixed_people
    break_even = (
        break_even_requests(api_per_request, self_per_request, fixed_monthly) if api_per_request is not None else None
    )

    if hosting == "api" and api_monthly is not None:
        chosen_monthly = api_monthly + per_env.get("prod", next(iter(per_env.values())))["total"]
        reason = (
            f"because {answers.monthly_requests:,} requests at ${api_per_request:.4f} each cost "
            f"${api_monthly:,.0f}/month on the API, plus the platform's own cloud spend"
        )
    elif pattern == "edge":
        chosen_monthly = per_env.get("prod", next(iter(per_env.values())))["total"] + fixed_people
        reason = (
            f"because the model runs on edge devices: no cloud GPU fleet serves it, so the cloud cost is the "
            f"platform baseline plus ${fixed_people:,.0f}/month of engineering and operations (device "
            f"hardware is not counted; a cloud fleet for the same peak would cost ~${self_hosted_monthly:,.0f}/month)"
        )
    else:
        chosen_monthly = self_hosted_monthly
        average_nodes = expected_nodes(prod, answers.monthly_requests, table("sizing")["headroom"])
        reason = (
            f"because {prod.instance_type} at ${prod.hourly_per_node:g}/h, {average_nodes} node(s) on average, "
            f"plus the platform baseline and ${fixed_people:,.0f}/month of engineering and operations"
        )
    cloud_budget = sum(env["total"] for env in per_env.values())
    return Decision(
        key="cost",
        title="Monthly cost",
        choice=f"${chosen_monthly:,.0f}/month ({'edge' if pattern == 'edge' else hosting.replace('_', '-')})",
        reason=reason,
        alternatives=("api", "self_hosted"),
        numbers={
            "monthly_total_usd": round(chosen_monthly, 2),
            "cloud_budget_usd": round(cloud_budget, 2),
            "environments": per_env,
            "api_available": api_pricing is not None,
            "api_cost_per_request_usd": round(api_per_request, 6) if api_per_request is not None else None,
            "api_monthly_usd": round(api_monthly, 2) if api_monthly is not None else None,
            "self_hosted_cost_per_request_usd": round(self_per_request, 8),
            "self_hosted_monthly_usd": round(self_hosted_monthly, 2),
            # a capped fleet cannot carry the peak: its cost is no basis for a "self-host" nudge
            "self_hosted_serves_peak": prod.replicas_needed <= prod.max_replicas,
            "self_hosted_people_monthly_usd": fixed_people,
            "break_even_requests_per_month": round(break_even) if break_even is not None else None,
            "self_hosted_fixed_monthly_usd": round(fixed_monthly, 2),
            "curve": cost_curve(
                curve_volumes(answers.monthly_requests, break_even), api_per_request, self_per_request, fixed_monthly
            ),
            "price_table_as_of": table_["as_of"],
            "price_source": table_["source"].strip(),
            "api_price_source": api_pricing["source"] if api_pricing else None,
            "gpu_price_note": table_["gpu"][answers.cloud][prod.tier].get("note", ""),
            "currency": table_["currency"],
            "unit_of_work": unit_of_work(answers.use_case),
            "serves_in_cloud": cloud_serving,
        },
    )
