"""The use case's production contract (data/tasks.yaml): the task head a project serves, or None.

A use case with an entry serves its production contract through a task head around the family's
core model; the project renders only the head modules the entry lists and reads the contract from
platform.yaml (`decisions.task`). Other use cases serve the family's flat contract only.
"""

from __future__ import annotations

from typing import Any

from .answers import Answers
from .tables import table

DTYPES = ("FP32", "INT32", "UTF8")


def _plain(value: Any) -> Any:
    """A table value as plain, independent data (nested mappings and lists copied)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _tensors(entry: dict[str, Any], side: str, use_case: str) -> list[dict[str, Any]]:
    tensors = []
    for raw in entry[side]:
        dtype = str(raw["dtype"])
        if dtype not in DTYPES:
            raise ValueError(f"tasks.yaml: {use_case} {side} {raw['name']!r} has dtype {dtype}, expected {DTYPES}")
        tensors.append({"name": str(raw["name"]), "dtype": dtype, "dims": [int(size) for size in raw["dims"]]})
    return tensors


def task_contract(use_case: str) -> dict[str, Any] | None:
    """The production contract of `use_case` as plain data, or None (flat family contract only).

    Raises ValueError when the entry contradicts the catalog (another family) or names no module
    for its own head (a project would render without the head's code)."""
    entry = table("tasks")["tasks"].get(use_case)
    if entry is None:
        return None
    family = str(entry["family"])
    catalog_family = str(table("catalog")["use_cases"][use_case]["family"])
    if family != catalog_family:
        raise ValueError(f"tasks.yaml: {use_case} wraps the {family} family, catalog.yaml says {catalog_family}")
    head = str(entry["head"])
    modules = [str(name) for name in entry["modules"]]
    if not modules or modules[-1] != head:
        raise ValueError(f"tasks.yaml: {use_case} modules {modules} must end with the head's own module {head!r}")
    return {
        "use_case": use_case,
        "family": family,
        "head": head,
        "modules": modules,
        "options": _plain(entry.get("options") or {}),
        "inputs": _tensors(entry, "inputs", use_case),
        "outputs": _tensors(entry, "outputs", use_case),
        "smoke": " ".join(str(entry["smoke"]).split()),
        "production": " ".join(str(entry["production"]).split()),
    }


def decide_task(answers: Answers) -> dict[str, Any] | None:
    """The project's production contract (`decisions.task`), None for a flat-contract use case."""
    return task_contract(answers.use_case)


def task_use_cases() -> list[str]:
    """The use cases with a task head (tasks.yaml order)."""
    return list(table("tasks")["tasks"])
