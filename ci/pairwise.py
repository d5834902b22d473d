"""Build the `matrix` answer sets of ci/matrix.yaml: every use case once, then pairwise coverage.

Run `uv run python ci/pairwise.py` after changing the questions; it rewrites the `matrix` key of
ci/matrix.yaml in place (the `representative` key is hand-written and left alone). Deterministic:
the same questions give the same matrix.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "modules"))

from platform_engine.hosting import api_available  # noqa: E402
from platform_engine.tables import use_cases  # noqa: E402

# Dimensions crossed pairwise; use_case is covered once each (15 values would dominate the pairs).
DIMENSIONS: dict[str, list[Any]] = {
    "hosting": ["self_hosted", "api"],
    "serving_pattern": ["realtime", "batch", "edge"],
    "cloud": ["aws", "gcp", "azure"],
    "ci_provider": ["github", "gitlab"],
    "data_sensitivity": ["public", "internal", "pii", "hipaa", "financial"],
}
NAMES = list(DIMENSIONS)


def _pairs(row: dict[str, Any]) -> set[tuple[tuple[str, Any], tuple[str, Any]]]:
    return {((a, row[a]), (b, row[b])) for a, b in itertools.combinations(NAMES, 2)}


def _allowed(use_case: str, row: dict[str, Any]) -> bool:
    if row["hosting"] == "api" and not api_available(use_case):
        return False
    return not (row["hosting"] == "api" and row["serving_pattern"] == "edge")


def _all_pairs() -> set[tuple[tuple[str, Any], tuple[str, Any]]]:
    needed = set()
    for a, b in itertools.combinations(NAMES, 2):
        for va in DIMENSIONS[a]:
            for vb in DIMENSIONS[b]:
                needed.add(((a, va), (b, vb)))
    # edge with a hosted API is a contradiction the review warns about; not a supported pair
    return {p for p in needed if not ({("hosting", "api"), ("serving_pattern", "edge")} <= set(p))}


def build() -> list[dict[str, Any]]:
    candidates = [dict(zip(NAMES, values, strict=True)) for values in itertools.product(*DIMENSIONS.values())]
    uncovered = _all_pairs()
    rows: list[dict[str, Any]] = []
    cases = use_cases()
    index = 0
    while index < len(cases) or uncovered:
        use_case = cases[index % len(cases)]
        options = [c for c in candidates if _allowed(use_case, c)]
        best = max(options, key=lambda c: (len(_pairs(c) & uncovered), -options.index(c)))
        uncovered -= _pairs(best)
        rows.append({"use_case": use_case, **best})
        index += 1
    return rows


def answers_for(row: dict[str, Any]) -> dict[str, Any]:
    """Copier --data for one matrix row (advanced answers need tune=true)."""
    answers = {"tune": True, **row}
    if row["serving_pattern"] == "batch":
        answers["latency_p95_ms"] = 2000
    return answers


def main() -> None:
    path = REPO / "ci" / "matrix.yaml"
    text = path.read_text(encoding="utf-8")
    head = text.split("\nmatrix:")[0]
    matrix = {f"m{n:02d}_{row['use_case']}_{row['cloud']}": answers_for(row) for n, row in enumerate(build())}
    body = yaml.safe_dump({"matrix": matrix}, sort_keys=False, default_flow_style=None, width=120)
    path.write_text(head.rstrip("\n") + "\n" + body, encoding="utf-8")
    print(f"{len(matrix)} matrix sets written to {path}")


if __name__ == "__main__":
    main()
