"""`python -m <package>.plan`: print what was decided and why, the cost, and the warnings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from .config import ConfigError, Platform, load

ORDER = ("model", "hosting", "serving_pattern", "precision", "gpu", "batching", "monitoring", "cost")
TITLES = {
    "model": "Model",
    "hosting": "Hosting",
    "serving_pattern": "Serving pattern",
    "precision": "Precision",
    "gpu": "GPU node pool",
    "batching": "Triton batching",
    "monitoring": "Monitoring",
    "cost": "Monthly cost",
}


def _table(rows: Sequence[Sequence[str]], widths: Sequence[int]) -> list[str]:
    """A plain-text grid table (tabulate); cells wrap inside their column width."""
    header, *body = rows
    return str(tabulate(body, headers=header, tablefmt="grid", maxcolwidths=list(widths))).splitlines()


def decision_rows(platform: Platform) -> list[list[str]]:
    rows = [["Decision", "Choice", "Because"]]
    for key in ORDER:
        entry = platform.decision(key)
        rows.append([TITLES[key], str(entry["choice"]), str(entry["reason"]).removeprefix("because ")])
    return rows


def cost_rows(cost: dict[str, Any]) -> list[list[str]]:
    rows = [["Environment", "Platform $/month", "GPU $/month", "Total $/month"]]
    for env, numbers in cost["environments"].items():
        rows.append([env, f"{numbers['platform']:,.0f}", f"{numbers['gpu']:,.0f}", f"{numbers['total']:,.0f}"])
    return rows


def render(platform: Platform) -> str:
    project = platform.project
    cost = platform.decision("cost")
    lines = [
        f"{project['name']} ({project['slug']}) on {project['cloud'].upper()}: "
        f"{platform.answers['use_case']}, {platform.answers['monthly_requests']:,} requests/month, "
        f"peak {platform.answers['peak_rps']:g} req/s, p95 target {platform.answers['latency_p95_ms']} ms",
        "",
        *_table(decision_rows(platform), (16, 34, 60)),
        "",
        f"Cloud spend per environment (prices as of {cost['price_table_as_of']}, {cost['currency']}):",
        *_table(cost_rows(cost), (12, 17, 12, 14)),
    ]
    if cost.get("api_monthly_usd") is not None:
        break_even = cost.get("break_even_requests_per_month")
        lines += [
            "",
            f"API: ${cost['api_monthly_usd']:,.0f}/month (${cost['api_cost_per_request_usd']:.4f}/request); "
            f"self-hosted: ${cost['self_hosted_monthly_usd']:,.0f}/month incl. people; break-even: "
            + (f"~{break_even:,} requests/month" if break_even else "none (the API is cheaper at any volume)"),
        ]
    warnings = platform.warnings
    lines += ["", f"Warnings: {len(warnings)}"]
    for warning in warnings:
        lines.append(f"  ! [{warning['code']}] {warning['message']}")
        lines.append(f"    answers: {', '.join(warning['answers'])}; fix: {warning['fix']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 3 when the design review has warnings")
    args = parser.parse_args(argv)
    try:
        platform = load()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render(platform))
    return 3 if args.strict and platform.warnings else 0


if __name__ == "__main__":
    raise SystemExit(main())
