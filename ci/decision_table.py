"""Print the engine's sizing and cost decisions over every use case and cloud, as a table.

    uv run python ci/decision_table.py                       # this checkout's engine
    uv run python ci/decision_table.py --engine OLD/modules  # another checkout's, for a before/after
    uv run python ci/decision_table.py --peak 1000 --monthly 100000000
    uv run python ci/decision_table.py --set hosting=self_hosted --set serving_pattern=edge

Each row: the default answers with that use case and cloud (and the traffic given), decided by the
engine: the prod GPU pool, its replica range, the monthly cost of the chosen hosting and the warnings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rows(engine_dir: Path, peak: float, monthly: int, extra: dict[str, str]) -> list[list[str]]:
    sys.path.insert(0, str(engine_dir))
    from platform_engine import Answers, decide
    from platform_engine.hosting import api_available
    from platform_engine.tables import use_cases

    table = []
    for use_case in use_cases():
        for cloud in ("aws", "gcp", "azure"):
            answers = {"use_case": use_case, "cloud": cloud, "peak_rps": peak, "monthly_requests": monthly, **extra}
            if "api" in extra.values() and not api_available(use_case):
                continue
            decided = decide(Answers(**answers))  # type: ignore[arg-type]
            numbers = decided.cost.numbers
            api = numbers["api_cost_per_request_usd"]
            prod = decided.gpu.numbers["environments"]["prod"]
            low = prod.get("min_replicas", prod["replicas"])
            table.append(
                [
                    use_case,
                    cloud,
                    decided.hosting.choice,
                    f"{prod['instance_type']} x {prod['min_nodes']}-{prod['max_nodes']}",
                    f"{low}-{prod['replicas']}",
                    f"${numbers['monthly_total_usd']:,.0f}",
                    "-" if api is None else f"${api:.5f}",
                    f"${numbers['self_hosted_cost_per_request_usd']:.6f}",
                    ", ".join(w.code for w in decided.warnings) or "-",
                ]
            )
    return table


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", type=Path, default=REPO / "modules", help="folder holding platform_engine/")
    parser.add_argument("--peak", type=float, default=10.0, help="peak_rps (default: the question's default)")
    parser.add_argument("--monthly", type=int, default=100_000, help="monthly_requests")
    parser.add_argument("--set", action="append", default=[], help="another answer, NAME=VALUE (repeatable)")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    header = ["use case", "cloud", "hosting", "prod pool (nodes)", "replicas", "monthly", "API/req", "GPU/req"]
    header.append("warnings")
    body = rows(args.engine, args.peak, args.monthly, extra)
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    given = extra or "default answers"
    print(f"peak {args.peak:g} req/s, {args.monthly:,} requests/month, {given}, engine {args.engine}")
    for row in [header, ["-" * w for w in widths], *body]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
