"""docs/cost.md draws the cost decisions as Mermaid `xychart-beta` charts (GitHub and GitLab render
them): the bars and the line must be the numbers of decisions.cost, and every chart line must be
one of the statements of Mermaid's XY chart grammar (https://mermaid.js.org/syntax/xyChart)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import RenderFn, project_record

NUMBER = r"-?\d+(?:\.\d+)?"
LABELS = r'\[(?:"[^"]*")(?:, "[^"]*")*\]'
STATEMENTS = {
    "title": re.compile(r'title "[^"]+"'),
    "x-axis": re.compile(rf'x-axis (?:"[^"]+" )?(?P<labels>{LABELS})'),
    "y-axis": re.compile(rf'y-axis "[^"]+" (?P<low>{NUMBER}) --> (?P<high>{NUMBER})'),
    "bar": re.compile(rf"bar \[(?P<values>{NUMBER}(?:, {NUMBER})*)\]"),
    "line": re.compile(rf"line \[(?P<values>{NUMBER}(?:, {NUMBER})*)\]"),
}


def xy_charts(markdown: str) -> list[dict[str, Any]]:
    """Each ```mermaid block: its title, x labels, y range and series; fails on any other statement."""
    charts = []
    for block in re.findall(r"```mermaid\n(.*?)```", markdown, flags=re.S):
        lines = [line.strip() for line in block.strip().splitlines()]
        assert lines[0] == "xychart-beta", block
        chart: dict[str, Any] = {"bar": [], "line": []}
        for line in lines[1:]:
            keyword = line.split(" ", 1)[0]
            match = STATEMENTS[keyword].fullmatch(line) if keyword in STATEMENTS else None
            assert match, f"not an XY chart statement: {line!r}"
            if keyword == "title":
                chart["title"] = line
            elif keyword == "x-axis":
                chart["x"] = re.findall(r'"([^"]*)"', match["labels"])
            elif keyword == "y-axis":
                chart["y"] = (float(match["low"]), float(match["high"]))
            else:
                chart[keyword].append([float(value) for value in match["values"].split(", ")])
        for series in chart["bar"] + chart["line"]:
            assert len(series) == len(chart["x"]), f"one value per x label: {block}"
            assert chart["y"][0] <= min(series) and max(series) <= chart["y"][1], f"inside the y range: {block}"
        charts.append(chart)
    return charts


def dollars(values: list[float]) -> list[float]:
    return [float(f"{value:.0f}") for value in values]


@pytest.mark.parametrize(
    "answers",
    [
        {},  # tabular: no hosted API, bars only
        {"use_case": "text_generation", "monthly_requests": 200_000},  # an API, a break-even below the volume
        {"use_case": "text_generation", "monthly_requests": 5_000},  # the break-even above the volume
    ],
    ids=["tabular", "generation-above-break-even", "generation-below-break-even"],
)
def test_cost_charts_draw_the_cost_decisions(render: RenderFn, answers: dict[str, Any]) -> None:
    project = render(**answers)
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    cost = platform["decisions"]["cost"]
    environments, curve = xy_charts((project / "docs" / "cost.md").read_text(encoding="utf-8"))

    assert environments["x"] == list(cost["environments"])
    assert environments["bar"] == [dollars([numbers["total"] for numbers in cost["environments"].values()])]
    assert environments["line"] == []

    volume = int(platform["answers"]["monthly_requests"])
    break_even = cost["break_even_requests_per_month"] or 0
    shown = [point for point in cost["curve"] if point["requests"] <= 2 * max(volume, break_even)]
    assert len(shown) >= 2 and len(curve["x"]) == len(shown)
    assert curve["bar"] == [dollars([point["self_hosted_usd"] for point in shown])]
    if cost["api_available"]:
        assert curve["line"] == [dollars([point["api_usd"] for point in shown])]
        if break_even:  # the line crosses the bars inside the chart
            assert shown[0]["api_usd"] < shown[0]["self_hosted_usd"]
            assert shown[-1]["api_usd"] > shown[-1]["self_hosted_usd"]
    else:
        assert curve["line"] == []


def test_no_chart_image_or_encoder_is_generated(render: RenderFn) -> None:
    """The chart is Markdown now: copy writes no PNG and ships no PNG encoder (`make cost-chart`
    draws an image with matplotlib on request)."""
    project = render()
    assert not (project / "docs" / "cost.png").exists()
    package = project_record(project)["package"]
    infra = Path(project / "src" / package / "infra")
    assert (infra / "chart.py").is_file() and not (infra / "png.py").exists()
    assert "matplotlib" in (infra / "chart.py").read_text(encoding="utf-8")
