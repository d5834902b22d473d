"""`python -m <package>.infra.chart [--output PATH]` (`make cost-chart`): the cost curve as a PNG.

docs/cost.md shows the same numbers as Mermaid charts, rendered from platform.yaml when the project
is generated and at every `copier update`. This draws them as an image, with matplotlib (dependency
group `infra`), for slides or a wiki: the hosted API's and the self-hosted monthly cost against
monthly requests (decisions.cost.curve, computed by the decision engine), log scales both ways, your
volume and the break-even marked.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ConfigError, Platform, load
from .cost import short_count

DEFAULT_OUTPUT = Path("docs") / "cost.png"
SIZE_INCHES = (9.0, 5.4)
DPI = 100
if TYPE_CHECKING:
    from matplotlib.figure import Figure

SERIES = (("self_hosted_usd", "self-hosted", "tab:orange"), ("api_usd", "hosted API", "tab:blue"))


def curve_points(cost: dict[str, Any]) -> list[dict[str, Any]]:
    points = [dict(point) for point in cost.get("curve") or []]
    if len(points) < 2:
        raise ConfigError("platform.yaml has no decisions.cost.curve (needs at least two points); run `copier update`")
    return points


def figure(platform: Platform) -> Figure:
    """The chart as a matplotlib Figure (no pyplot: no global state, no display needed)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    cost = platform.decision("cost")
    points = curve_points(cost)
    chart = Figure(figsize=SIZE_INCHES, dpi=DPI)
    axes = chart.add_subplot()
    for key, label, color in SERIES:
        shown = [(float(p["requests"]), float(p[key])) for p in points if p.get(key) is not None]
        if shown:
            axes.plot(*zip(*shown, strict=True), label=label, color=color, linewidth=2.5, marker="o", markersize=3)
    axes.set_xscale("log")
    axes.set_yscale("log")
    volume = float(platform.answers["monthly_requests"])
    axes.axvline(volume, color="grey", linestyle="--", label=f"your volume: {short_count(volume)}/month")
    break_even = cost.get("break_even_requests_per_month")
    if break_even:
        label = f"break-even: {short_count(float(break_even))}"
        axes.axvline(float(break_even), color="tab:green", linestyle=":", label=label)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: short_count(value)))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: "$" + short_count(value)))
    axes.set_xlabel("requests / month")
    axes.set_ylabel(f"monthly cost ({cost.get('currency', 'USD')})")
    axes.set_title(f"{platform.project['slug']}: monthly cost against requests (prices of {cost['price_table_as_of']})")
    axes.grid(True, which="major", color="0.9")
    axes.legend(loc="upper left")
    chart.tight_layout()
    return chart


def write(platform: Platform, output: Path) -> Path:
    """Write the PNG (no timestamp or version in its metadata, so the same numbers give the same file)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    figure(platform).savefig(output, format="png", metadata={"Software": None})
    return output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, help=f"where to write the PNG (default: {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    try:
        platform = load()
        target = write(platform, args.output or platform.path.parent / DEFAULT_OUTPUT)
    except ConfigError as error:
        print(f"error: {error}")
        return 2
    except ImportError as error:
        print(f"error: {error}; install the infra dependency group (make setup)")
        return 2
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
