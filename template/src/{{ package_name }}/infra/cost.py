"""The cost summary printed before `apply`: the engine's estimate, the budget and the GPU pool."""

from __future__ import annotations

from typing import Any

from ..config import Platform


def money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def short_count(value: float) -> str:
    """1500 -> 1.5K, 2000000 -> 2M."""
    for factor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            text = f"{value / factor:.1f}".removesuffix(".0")
            return f"{text}{suffix}"
    return f"{value:g}"


def environment_cost(platform: Platform, env: str) -> dict[str, Any]:
    environments: dict[str, Any] = platform.decision("cost")["environments"]
    if env not in environments:
        known = ", ".join(environments)
        raise KeyError(f"no cost estimate for environment {env!r} (this project has: {known})")
    return dict(environments[env])


def summary(platform: Platform, env: str) -> str:
    """Plain text: what this environment costs a month, where the budget alerts fire, the GPU pool."""
    cost = platform.decision("cost")
    numbers = environment_cost(platform, env)
    pool = platform.decision("gpu")["environments"][env]
    thresholds = platform.settings.infra.budget_alert_thresholds_percent
    total = float(numbers["total"])
    alerts = ", ".join(f"{money(total * t / 100)} ({t}%)" for t in thresholds)
    lines = [
        f"Cost summary: {platform.project['slug']} / {env} on {platform.project['cloud'].upper()} "
        f"(prices as of {cost['price_table_as_of']}, {cost['currency']})",
        f"  platform baseline   {money(numbers['platform'])}/month",
        f"  GPU node pool       {money(numbers['gpu'])}/month: {pool['instance_type']} ({pool['gpu_label']}), "
        f"{pool['min_nodes']}-{pool['max_nodes']} nodes at ${pool['hourly_per_node']:g}/node-hour",
        f"  estimate            {money(total)}/month = the budget; alerts at {alerts}",
    ]
    if cost.get("api_monthly_usd") is not None:
        lines.append(
            f"  for comparison      API {money(cost['api_monthly_usd'])}/month, self-hosted "
            f"{money(cost['self_hosted_monthly_usd'])}/month incl. people"
        )
    return "\n".join(lines)
