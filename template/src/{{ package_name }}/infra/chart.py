"""`python -m <package>.infra.chart`: draw docs/cost.png, monthly cost against monthly requests.

The points come from platform.yaml (decisions.cost.curve, computed by the decision engine): the
hosted API's cost and the self-hosted cost at each volume, on a log scale of requests. Run by
`make cost-chart` (after `copier update` too: new answers, new curve), and once when the project is
generated; `--check` says whether the PNG matches platform.yaml.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import ConfigError, Platform, load
from .cost import short_count
from .png import Canvas, Color, text_width

WIDTH, HEIGHT = 900, 540
LEFT, RIGHT, TOP, BOTTOM = 110, 40, 70, 90
API_COLOR: Color = (31, 119, 180)
SELF_COLOR: Color = (230, 110, 20)
GRID: Color = (225, 225, 225)
AXIS: Color = (60, 60, 60)
MARK: Color = (120, 120, 120)


class Axes:
    """Data -> pixel: log10 of requests across, log10 of dollars up (whole decades)."""

    def __init__(self, x_min: float, x_max: float, y_min: float, y_max: float) -> None:
        self.lx0, self.lx1 = math.log10(x_min), math.log10(x_max)
        self.ly0 = math.floor(math.log10(y_min))
        self.ly1 = max(self.ly0 + 1, math.ceil(math.log10(y_max)))

    def x(self, requests: float) -> int:
        share = (math.log10(requests) - self.lx0) / (self.lx1 - self.lx0)
        return round(LEFT + share * (WIDTH - LEFT - RIGHT))

    def y(self, dollars: float) -> int:
        share = (math.log10(max(dollars, 10.0**self.ly0)) - self.ly0) / (self.ly1 - self.ly0)
        return round(HEIGHT - BOTTOM - share * (HEIGHT - TOP - BOTTOM))

    def y_ticks(self) -> list[float]:
        """Every decade; with few decades also the 2s and 5s between them."""
        steps = (1, 2, 5) if self.ly1 - self.ly0 <= 2 else (1,)
        ticks = [step * 10.0**power for power in range(self.ly0, self.ly1) for step in steps]
        return [*ticks, 10.0**self.ly1]


def curve_points(cost: dict[str, Any]) -> list[dict[str, Any]]:
    points = [dict(point) for point in cost.get("curve") or []]
    if len(points) < 2:
        raise ConfigError("platform.yaml has no decisions.cost.curve (needs at least two points); run `copier update`")
    return points


def draw(platform: Platform) -> bytes:
    """The chart as PNG bytes."""
    cost = platform.decision("cost")
    points = curve_points(cost)
    volume = float(platform.answers["monthly_requests"])
    break_even = cost.get("break_even_requests_per_month")
    xs = [float(p["requests"]) for p in points]
    ys = [float(v) for p in points for v in (p["api_usd"], p["self_hosted_usd"]) if v is not None and v > 0]
    axes = Axes(min(xs), max(xs), min(ys), max(ys))
    canvas = Canvas(WIDTH, HEIGHT)

    # Grid and labels: every decade, both ways.
    decade = 10 ** math.ceil(math.log10(min(xs)))
    while decade <= max(xs):
        x = axes.x(decade)
        canvas.line(x, TOP, x, HEIGHT - BOTTOM, GRID)
        label = short_count(decade)
        canvas.text(x - text_width(label, 2) // 2, HEIGHT - BOTTOM + 12, label, AXIS, 2)
        decade *= 10
    for dollars in axes.y_ticks():
        y = axes.y(dollars)
        canvas.line(LEFT, y, WIDTH - RIGHT, y, GRID)
        label = "$" + short_count(dollars)
        canvas.text(LEFT - 12 - text_width(label, 2), y - 7, label, AXIS, 2)
    canvas.line(LEFT, TOP, LEFT, HEIGHT - BOTTOM, AXIS, 2)
    canvas.line(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM, AXIS, 2)

    # The project's volume, and the break-even where the two lines cross.
    if min(xs) <= volume <= max(xs):
        x = axes.x(volume)
        canvas.line(x, TOP, x, HEIGHT - BOTTOM, MARK, 2, dash=6)
        canvas.text(x + 6, TOP + 4, "YOU: " + short_count(volume), MARK, 2)
    if break_even and min(xs) <= float(break_even) <= max(xs):
        x = axes.x(float(break_even))
        canvas.line(x, TOP + 30, x, HEIGHT - BOTTOM, (40, 160, 60), 2, dash=3)
        canvas.text(x + 6, TOP + 34, "BREAK-EVEN " + short_count(float(break_even)), (40, 160, 60), 2)

    for key, color in (("self_hosted_usd", SELF_COLOR), ("api_usd", API_COLOR)):
        series = [(axes.x(float(p["requests"])), axes.y(float(p[key]))) for p in points if p[key]]
        for (x0, y0), (x1, y1) in itertools.pairwise(series):
            canvas.line(x0, y0, x1, y1, color, 3)

    canvas.text(LEFT, 24, "MONTHLY COST (USD) VS REQUESTS PER MONTH, LOG SCALES", AXIS, 2)
    canvas.text(
        LEFT + (WIDTH - LEFT - RIGHT) // 2 - text_width("REQUESTS / MONTH", 2) // 2,
        HEIGHT - 40,
        "REQUESTS / MONTH",
        AXIS,
        2,
    )
    legend_x = LEFT + 16
    for label, color, shown in (
        ("SELF-HOSTED", SELF_COLOR, True),
        ("API", API_COLOR, any(p["api_usd"] is not None for p in points)),
    ):
        if shown:
            canvas.rect(legend_x, TOP + 60, legend_x + 24, TOP + 66, color)
            legend_x = canvas.text(legend_x + 32, TOP + 56, label, color, 2) + 24
    return canvas.to_png()


def chart_path(platform: Platform) -> Path:
    relative = str(platform.section("infra").get("cost_chart", "docs/cost.png"))
    return platform.path.parent / relative


def write(platform: Platform, output: Path | None = None) -> Path:
    """Write the chart; leaves the file alone when its bytes would not change."""
    target = output or chart_path(platform)
    data = draw(platform)
    if not (target.is_file() and target.read_bytes() == data):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, help="where to write the PNG (default: infra.cost_chart)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the PNG is missing or stale")
    args = parser.parse_args(argv)
    try:
        platform = load()
        if args.check:
            target = args.output or chart_path(platform)
            if not (target.is_file() and target.read_bytes() == draw(platform)):
                print(f"{target} is missing or out of date: run `make cost-chart`")
                return 1
            print(f"{target} is up to date")
            return 0
        target = write(platform, args.output)
    except ConfigError as error:
        print(f"error: {error}")
        return 2
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
