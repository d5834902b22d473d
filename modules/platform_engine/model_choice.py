"""Model recommendation per use case, from the catalog."""

from __future__ import annotations

from typing import Any

from .answers import Answers
from .records import Decision
from .tables import table


def catalog_entry(use_case: str) -> dict[str, Any]:
    entry: dict[str, Any] = table("catalog")["use_cases"][use_case]
    return entry


def offers_choice(use_case: str) -> bool:
    """Whether the decision tree lists both a fast and an accurate model for this use case."""
    return len(catalog_entry(use_case)["options"]) > 1


def model_option(answers: Answers) -> dict[str, Any]:
    options = catalog_entry(answers.use_case)["options"]
    option: dict[str, Any] = options.get(answers.accuracy_preference, options["speed"])
    return option


def model_params_b(answers: Answers) -> float:
    """Parameters of the served model: the answer for generation, the catalog otherwise."""
    if answers.is_generation:
        return float(answers.model_size_b)
    return float(model_option(answers)["params_b"])


def recommend_model(answers: Answers) -> Decision:
    entry = catalog_entry(answers.use_case)
    option = model_option(answers)
    others = [o["model"] for key, o in entry["options"].items() if o is not option]
    if entry.get("api"):
        others.append(f"{entry['api']['name']} (hosted API)")
    name = option["model"]
    if answers.is_generation:
        name = f"{name}, {answers.model_size_b:g}B parameters"
    preference = answers.accuracy_preference if offers_choice(answers.use_case) else "the only listed option"
    reason = (
        f"because the decision tree maps {entry['label'].lower()} to {option['model']} "
        f"({preference}; ~{option['latency_ms']} ms, {option['cost_tier']} cost)"
    )
    return Decision(
        key="model",
        title="Model family",
        choice=name,
        reason=reason,
        alternatives=tuple(others),
        numbers={
            "latency_ms": option["latency_ms"],
            "cost_tier": option["cost_tier"],
            "params_b": model_params_b(answers),
            "latency_is_estimate": bool(option.get("estimate", False)),
            "family": entry["family"],
            "modality": entry["modality"],
            "smoke_model": entry["smoke_model"],
        },
    )
