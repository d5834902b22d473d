"""The decision engine: selection answers -> decisions with reasons, from data tables."""

from .answers import (
    AnswerError,
    Answers,
    default_drift_threshold,
    default_project_name,
    derived_description,
    field_error,
    package_from_slug,
    slugify,
    validate,
)
from .engine import ENGINE_VERSION, Decisions, decide, decide_from_mapping
from .hosting import recommended_hosting
from .records import Decision, GpuSizing, Warning_
from .serving import recommended_pattern, recommended_precision

__all__ = [
    "ENGINE_VERSION",
    "AnswerError",
    "Answers",
    "Decision",
    "Decisions",
    "GpuSizing",
    "Warning_",
    "decide",
    "decide_from_mapping",
    "default_drift_threshold",
    "default_project_name",
    "derived_description",
    "field_error",
    "package_from_slug",
    "recommended_hosting",
    "recommended_pattern",
    "recommended_precision",
    "slugify",
    "validate",
]
