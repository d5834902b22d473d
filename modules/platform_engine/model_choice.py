"""Model recommendation per use case, from the catalog."""

from __future__ import annotations

import dataclasses
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


def recommend_model(answers: Answers, hosting: str = "self_hosted") -> Decision:
    """What is served: the open model of the decision tree when self-hosted, the hosted model when
    `hosting` is the API (priced as that API by the cost decision)."""
    entry = catalog_entry(answers.use_case)
    option = model_option(answers)
    open_model = option["model"]
    if answers.is_generation:
        open_model = f"{open_model}, {answers.model_size_b:g}B parameters"
    hosted = hosting == "api" and bool(entry.get("api"))
    others = [o["model"] for o in entry["options"].values() if o is not option]
    others += [_alternative(o) for o in entry.get("alternatives", [])]
    preference = answers.accuracy_preference if offers_choice(answers.use_case) else "the only listed option"
    if hosted:
        name = str(entry["api"]["name"])
        others.insert(0, f"{open_model} (self-hosted)")
        reason = (
            f"because hosting is the API: {entry['label'].lower()} requests go to {name}, priced per request "
            f"from the price table's {entry['api']['pricing']!r} row; the decision tree's open model is "
            f"{option['model']} ({preference})"
        )
    else:
        name = open_model
        if entry.get("api"):
            others.append(f"{entry['api']['name']} (hosted API)")
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
            "served_by": "api" if hosted else "self_hosted",
            "api_pricing": entry["api"]["pricing"] if hosted else None,
            "open_model": option["model"],
            "latency_ms": option["latency_ms"],
            "cost_tier": option["cost_tier"],
            "params_b": model_params_b(answers),
            "latency_is_estimate": bool(option.get("estimate", False)),
            "family": entry["family"],
            "modality": entry["modality"],
            "smoke_model": entry["smoke_model"],
            "licence": option.get("licence"),
            "framework": None,
            "rag": None,
            "llm": None,
        },
    )


def _alternative(option: dict[str, Any]) -> str:
    """A catalog alternative as people read it, with what its licence asks when it binds."""
    restrictive = restrictive_licence(option)
    licence = f"{restrictive[0]}: {restrictive[1]}" if restrictive else str(option["licence"])
    return f"{option['model']} ({licence}; {option['note']})"


def model_framework(answers: Answers) -> dict[str, Any] | None:
    """The PyTorch framework a project trains and serves for the chosen option (catalog
    `options[].framework`), with the use case's precision tolerance; None for use cases without one.
    Every serving pattern serves it: the edge pattern ships its quantized export in the bundle."""
    framework = model_option(answers).get("framework")
    if not framework:
        return None
    entry = catalog_entry(answers.use_case)
    return {
        **framework,
        "precision_tolerance": dict(entry.get("precision_tolerance", {})),
        "classes": list(entry["sample_classes"]),
    }


def model_rag(answers: Answers) -> dict[str, Any] | None:
    """The retrieval stack a search/RAG project trains and serves (catalog `retrieval`), with the
    vector store the cloud profile talks to (the `vector_db` answer; None where the generated code
    does not speak that store yet); None for use cases without retrieval."""
    retrieval = catalog_entry(answers.use_case).get("retrieval")
    if not retrieval:
        return None
    cloud_stores: dict[str, str] = retrieval["cloud_stores"]
    embedder, generator = retrieval["embedder"], retrieval["generator"]
    return {
        "embedder": {key: embedder[key] for key in ("library", "local", "production", "production_dims", "licence")},
        "generator": {
            **{key: generator[key] for key in ("library", "local", "production", "licence")},
            # hosting=api: what the cloud profile calls instead of the trained model (platform.yaml rag.generator.api)
            "api": [{key: row[key] for key in ("name", "model", "api_key_env")} for row in generator["api"]],
        },
        **{
            key: retrieval[key]
            for key in ("lexical_baseline", "retriever", "top_k", "chunk_words", "chunk_overlap_words")
        },
        "local_store": retrieval["local_store"],
        "vector_db": answers.vector_db,
        "cloud_store": cloud_stores.get(answers.vector_db),
    }


def with_framework(model: Decision, answers: Answers) -> Decision:
    """The model decision with `framework` (vision) and `rag` (retrieval) filled in."""
    numbers = {**model.numbers, "framework": model_framework(answers), "rag": model_rag(answers)}
    return dataclasses.replace(model, numbers=numbers)


def restrictive_licence(option: dict[str, Any]) -> tuple[str, str] | None:
    """(licence, what it asks) when a catalog option's licence is one the catalog warns on."""
    licence = option.get("licence")
    notes: dict[str, str] = table("catalog").get("licences", {})
    if licence in notes:
        return str(licence), notes[str(licence)]
    return None
