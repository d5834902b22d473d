"""The feature contract of the project's family (contract.yaml), as one typed object.

Data, features, training, serving and monitoring all read it: the entity, the features in model
input order, the label and its classes, the value ranges validation enforces, the Feast TTL, and
the timestamp column names. contract.yaml holds this project's family only (the one
platform.yaml's decisions.model.family names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CONTRACT_FILE = Path(__file__).with_name("contract.yaml")
EVENT_TIMESTAMP = "event_timestamp"
CREATED_TIMESTAMP = "created_timestamp"


@dataclass(frozen=True)
class Family:
    """contract.yaml: what the data holds and what the model learns."""

    name: str
    description: str
    entity: str
    features: tuple[str, ...]
    label: str
    task: str
    classes: tuple[str, ...]
    primary_metric: str
    higher_is_better: bool
    baseline: str
    ttl_days: int
    value_range: tuple[float, float]
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    label_range: tuple[float, float] | None = None
    # Per-row statistics of the predictions that the inference log carries beside the features and
    # the drift job compares too (the image detector's detections, confidence, class shares).
    prediction_stats: tuple[str, ...] = ()

    @property
    def monitored(self) -> tuple[str, ...]:
        """What the drift job compares: the features, then the prediction statistics."""
        return (*self.features, *self.prediction_stats)

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    @property
    def n_features(self) -> int:
        """Width of the model input: FP32 [batch, n_features]."""
        return len(self.features)

    @property
    def n_outputs(self) -> int:
        """Width of the served `scores`: one probability per class, or 1 for regression."""
        return len(self.classes) if self.is_classification else 1

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of a clean row: entity, event time, features, label."""
        return (self.entity, EVENT_TIMESTAMP, *self.features, self.label)

    def range_of(self, column: str) -> tuple[float, float]:
        """The allowed [low, high] of a feature (or of the label)."""
        if column == self.label:
            if self.is_classification:
                return (0.0, float(len(self.classes) - 1))
            return self.label_range or self.value_range
        return self.ranges.get(column, self.value_range)


def _pair(value: Any) -> tuple[float, float]:
    low, high = value
    return (float(low), float(high))


def parse_family(raw: dict[str, Any]) -> Family:
    """A Family from contract.yaml's mapping; KeyError names a missing field."""
    return Family(
        name=str(raw["family"]),
        description=str(raw["description"]),
        entity=str(raw["entity"]),
        features=tuple(str(column) for column in raw["features"]),
        label=str(raw["label"]),
        task=str(raw["task"]),
        classes=tuple(str(item) for item in raw.get("classes", [])),
        primary_metric=str(raw["primary_metric"]),
        higher_is_better=bool(raw["higher_is_better"]),
        baseline=str(raw["baseline"]),
        ttl_days=int(raw.get("ttl_days", 30)),
        value_range=_pair(raw.get("value_range", [float("-inf"), float("inf")])),
        ranges={str(key): _pair(value) for key, value in (raw.get("ranges") or {}).items()},
        label_range=_pair(raw["label_range"]) if "label_range" in raw else None,
        prediction_stats=tuple(str(column) for column in raw.get("prediction_stats", [])),
    )


@cache
def project_family() -> Family:
    """The project's feature contract (contract.yaml)."""
    raw = yaml.safe_load(CONTRACT_FILE.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{CONTRACT_FILE}: expected a mapping with the family's contract")
    return parse_family(raw)


def get_family(name: str) -> Family:
    """The contract of family `name`; KeyError when the project was rendered for another family."""
    family = project_family()
    if name != family.name:
        raise KeyError(
            f"no contract for family {name!r}: this project was rendered for family {family.name!r} "
            f"and {CONTRACT_FILE.name} holds that family only"
        )
    return family
