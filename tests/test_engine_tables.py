"""Tier 1: every value in the engine's tables is read by the engine (no orphans, one source).

The tables are loaded through a recording wrapper, the engine decides a sweep of answer sets that
reaches every branch of the tables (every use case, cloud, hosting, pattern, precision, GPU, model
size, sensitivity, budget style and schedule), and every leaf of every table must have been read.
A value nothing reads is an orphan: it looks like knowledge but changes nothing (the PSI default
once lived in monitoring.yaml, copier.yml and answers.py, and only the last two were used).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from platform_engine import Answers, decide, default_drift_threshold
from platform_engine import tables as tables_module
from platform_engine.answers import (
    BUDGET_STYLES,
    CLOUDS,
    CUSTOMIZATIONS,
    GPU_CHOICES,
    HOSTINGS,
    PATTERNS,
    PRECISIONS,
    PREFERENCES,
    SENSITIVITIES,
    VECTOR_DBS,
    AnswerError,
)

Path_ = tuple[str, ...]
_TABLE = tables_module.table  # the cached loader, kept before any test patches it


class _Recorded(dict[str, Any]):
    """A table mapping that records the path of every scalar (or scalar list) read through it."""

    def __init__(self, data: dict[str, Any], path: Path_, seen: set[Path_]):
        super().__init__(data)
        self._path, self._seen = path, seen

    def __getitem__(self, key: str) -> Any:
        return _record(super().__getitem__(key), (*self._path, str(key)), self._seen)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 (self.get would recurse)

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return [(key, self[key]) for key in self.keys()]

    def values(self) -> list[Any]:  # type: ignore[override]
        return [self[key] for key in self.keys()]

    def __iter__(self) -> Iterator[str]:  # iterating keys reads no value
        return iter(list(super().keys()))


class _RecordedList(list[Any]):
    def __init__(self, data: list[Any], path: Path_, seen: set[Path_]):
        super().__init__(data)
        self._path, self._seen = path, seen

    def __getitem__(self, index: Any) -> Any:
        value = super().__getitem__(index)
        if isinstance(index, slice):
            return [_record(item, (*self._path, "[]"), self._seen) for item in value]
        return _record(value, (*self._path, "[]"), self._seen)

    def __iter__(self) -> Iterator[Any]:
        for item in list.__iter__(self):
            yield _record(item, (*self._path, "[]"), self._seen)


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, dict | list) or (
        isinstance(value, list) and not any(isinstance(v, dict | list) for v in value)
    )


def _record(value: Any, path: Path_, seen: set[Path_]) -> Any:
    if _is_leaf(value):
        seen.add(path)
        return value
    if isinstance(value, dict):
        return value if isinstance(value, _Recorded) else _Recorded(value, path, seen)
    return value if isinstance(value, _RecordedList) else _RecordedList(value, path, seen)


def _leaves(value: Any, path: Path_) -> Iterator[Path_]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, str(key)))
    elif _is_leaf(value):
        yield path
    else:
        for item in value:
            yield from _leaves(item, (*path, "[]"))


def _sweep() -> Iterator[Answers]:
    use_cases = tables_module.use_cases()
    for vector_db, sensitivity in itertools.product(VECTOR_DBS, SENSITIVITIES):
        yield Answers(use_case="search_rag", vector_db=vector_db, data_sensitivity=sensitivity)
    for use_case, cloud, hosting, pattern, preference in itertools.product(
        use_cases, CLOUDS, HOSTINGS, PATTERNS, PREFERENCES
    ):
        yield Answers(use_case=use_case, cloud=cloud, hosting=hosting, serving_pattern=pattern,
                      accuracy_preference=preference)  # fmt: skip
    for cloud, gpu, size, precision in itertools.product(CLOUDS, GPU_CHOICES, (0.5, 7, 70, 405, 1500), PRECISIONS):
        yield Answers(use_case="text_generation", cloud=cloud, gpu_type=gpu, model_size_b=size, precision=precision,
                      hosting="self_hosted", peak_rps=500 if size > 100 else 10)  # fmt: skip
    for use_case, cloud, gpu in itertools.product(use_cases, CLOUDS, GPU_CHOICES):
        yield Answers(use_case=use_case, cloud=cloud, gpu_type=gpu, hosting="self_hosted", peak_rps=2000)
    for sensitivity, budget, customization, team, requests, latency, schedule in itertools.product(
        SENSITIVITIES, BUDGET_STYLES, CUSTOMIZATIONS, (True, False), (1_000, 100_000, 10**8), (50, 300, 5000),
        ("@hourly", "@daily", "@weekly", "@monthly"),
    ):  # fmt: skip
        yield Answers(data_sensitivity=sensitivity, budget_style=budget, customization=customization, ml_team=team,
                      monthly_requests=requests, latency_p95_ms=latency, drift_schedule=schedule,
                      drift_threshold=0.05)  # fmt: skip


@pytest.fixture
def recorded_tables(monkeypatch: pytest.MonkeyPatch) -> set[Path_]:
    """Point every engine module's `table` at recording copies of the tables; yields what was read."""
    seen: set[Path_] = set()
    recorded = {name: _Recorded(_load(name), (name,), seen) for name in tables_module.TABLE_NAMES}
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("platform_engine.") and hasattr(module, "table"):
            monkeypatch.setattr(module, "table", recorded.__getitem__)
    return seen


def _load(name: str) -> dict[str, Any]:
    """A table read from its file, bypassing the engine's cache (and any recording)."""
    loaded: dict[str, Any] = _TABLE.__wrapped__(name)  # type: ignore[attr-defined]
    return loaded


@pytest.mark.engine
def test_every_table_value_is_read_by_the_engine(recorded_tables: set[Path_]) -> None:
    decided = 0
    for answers in _sweep():
        try:
            decide(answers, with_fixes=False).to_dict()  # the fix search reads no table of its own
            decided += 1
        except AnswerError:
            continue  # a combination the answers forbid
    assert decided > 1000
    every_leaf = {leaf for name in tables_module.TABLE_NAMES for leaf in _leaves(_load(name), (name,))}
    orphans = sorted(".".join(path) for path in every_leaf - recorded_tables)
    assert orphans == [], f"{len(orphans)} table value(s) nothing reads (use them or remove them): {orphans}"


@pytest.mark.engine
def test_the_psi_default_has_one_source() -> None:
    from copier_extension import decisions_for

    assert (
        Answers().drift_threshold
        == default_drift_threshold()
        == tables_module.table("monitoring")["psi_default_threshold"]
    )
    answers = {"project_name": "x", "use_case": "tabular", "monthly_requests": 1, "peak_rps": 1.0}
    decided = decisions_for(answers | {"latency_p95_ms": 200, "cloud": "aws"})
    assert decided["monitoring"]["psi_threshold"] == default_drift_threshold()
