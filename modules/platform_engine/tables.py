"""Load the knowledge tables (YAML under data/) once; the rest of the engine reads them as data."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).parent / "data"
# libyaml's safe loader when PyYAML was built with it: the same data, parsed ~8x faster (the tables
# are read at every `copier copy`); the pure-Python one otherwise.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TABLE_NAMES = (
    "catalog", "prices", "sizing", "batching", "monitoring", "hosting", "patterns", "clouds", "naming", "tasks",
    "generation",
)  # fmt: skip


@cache
def table(name: str) -> dict[str, Any]:
    """One table by name (the file stem under data/)."""
    if name not in TABLE_NAMES:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLE_NAMES)}")
    with (DATA_DIR / f"{name}.yaml").open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=SAFE_LOADER)
    if not isinstance(loaded, dict):
        raise ValueError(f"table {name} must be a mapping")
    return loaded


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new mapping: `override` merged over `base`, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def use_cases() -> list[str]:
    return list(table("catalog")["use_cases"])


def sizing_tier_ids() -> list[str]:
    return [tier["id"] for tier in table("sizing")["tiers"]]


def prices(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The price table with the user's overrides (the `price_overrides` answer) merged in."""
    return deep_merge(table("prices"), overrides or {})
