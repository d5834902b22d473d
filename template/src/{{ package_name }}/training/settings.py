"""The `training:` section of platform.yaml and the training view of the feature contract (contract.yaml)."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Platform, local_path, mlflow_tracking_uri, platform
from ..contract import CONTRACT_FILE, get_family
from .errors import TrainingError

TASKS = ("binary", "multiclass", "regression")
GATE_KEYS = ("min", "max", "min_lift_over_baseline", "max_ratio_to_baseline")


@dataclass(frozen=True)
class FamilyContract:
    """The training view of contract.yaml: what the model reads and predicts."""

    family: str
    entity: str
    features: tuple[str, ...]
    label: str
    task: str
    classes: tuple[str, ...]
    primary_metric: str
    higher_is_better: bool
    baseline: str

    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    @property
    def n_outputs(self) -> int:
        """Width of the served `scores` output: one probability per class, or 1 for regression."""
        return len(self.classes) if self.is_classifier else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "entity": self.entity,
            "features": list(self.features),
            "label": self.label,
            "task": self.task,
            "classes": list(self.classes),
            "primary_metric": self.primary_metric,
            "higher_is_better": self.higher_is_better,
            "baseline": self.baseline,
        }


def load_contract(family: str) -> FamilyContract:
    """The training view of `family` in contract.yaml; TrainingError when it is missing or invalid."""
    try:
        row = get_family(family)
    except KeyError as problem:
        raise TrainingError(f"{CONTRACT_FILE}: {problem.args[0]}") from problem
    contract = FamilyContract(
        family=row.name,
        entity=row.entity,
        features=row.features,
        label=row.label,
        task=row.task,
        classes=row.classes,
        primary_metric=row.primary_metric,
        higher_is_better=row.higher_is_better,
        baseline=row.baseline,
    )
    if contract.task not in TASKS:
        raise TrainingError(f"{CONTRACT_FILE}: family '{family}' has task '{contract.task}', expected one of {TASKS}")
    if contract.is_classifier and len(contract.classes) < 2:
        raise TrainingError(
            f"{CONTRACT_FILE}: family '{family}' is a {contract.task} task but lists fewer than 2 classes"
        )
    return contract


@dataclass(frozen=True)
class QualityGate:
    """What a new version must reach before it may become champion (on the primary metric)."""

    metric: str
    higher_is_better: bool
    min: float | None = None
    max: float | None = None
    min_lift_over_baseline: float | None = None
    max_ratio_to_baseline: float | None = None

    def check(self, score: float, baseline: float) -> tuple[bool, list[str]]:
        """(passed, one line per rule with its outcome)."""
        lines: list[str] = []
        passed = True

        def rule(ok: bool, text: str) -> None:
            nonlocal passed
            passed = passed and ok
            lines.append(f"{'pass' if ok else 'FAIL'}: {text}")

        name = self.metric
        if self.min is not None:
            rule(score >= self.min, f"{name} {score:.4f} >= {self.min}")
        if self.max is not None:
            rule(score <= self.max, f"{name} {score:.4f} <= {self.max}")
        if self.min_lift_over_baseline is not None:
            lift = score - baseline if self.higher_is_better else baseline - score
            rule(
                lift >= self.min_lift_over_baseline,
                f"{name} {score:.4f} beats the baseline {baseline:.4f} by {lift:.4f} >= {self.min_lift_over_baseline}",
            )
        if self.max_ratio_to_baseline is not None:
            limit = self.max_ratio_to_baseline * baseline
            rule(
                score <= limit,
                f"{name} {score:.4f} <= {self.max_ratio_to_baseline} x baseline {baseline:.4f} = {limit:.4f}",
            )
        if not lines:
            lines.append("pass: no rule set for this family")
        return passed, lines

    def to_dict(self) -> dict[str, Any]:
        rules = {key: getattr(self, key) for key in GATE_KEYS if getattr(self, key) is not None}
        return {"metric": self.metric, "higher_is_better": self.higher_is_better, **rules}


@dataclass(frozen=True)
class RemoteSettings:
    """Kubeflow Pipelines on the cluster (`make train-remote`)."""

    kfp_endpoint: str
    namespace: str
    image: str
    config_path: str
    tracking_uri: str
    experiment: str


@dataclass(frozen=True)
class TrainingSettings:
    """Everything the training pipeline reads from platform.yaml."""

    platform: Platform
    contract: FamilyContract
    registered_model_name: str
    experiment: str
    smoke_model: str
    production_model: str
    challenger_alias: str
    champion_alias: str
    test_fraction: float
    seed: int
    reference_rows: int
    min_rows: int
    model_params: dict[str, Any]
    gate: QualityGate
    pipeline_name: str
    pipeline_root: Path
    remote: RemoteSettings
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def family(self) -> str:
        return self.contract.family

    @property
    def has_task(self) -> bool:
        """The use case has a production head (decisions.task): src/<package>/tasks/ trains it."""
        return self.platform.decisions.get("task") is not None

    @property
    def package(self) -> str:
        return str(self.platform.project["package"])

    def tracking_uri(self) -> str:
        """$MLFLOW_TRACKING_URI, else the local SQLite tracking database of platform.yaml."""
        return mlflow_tracking_uri(self.platform)

    def artifact_root(self) -> Path:
        """Where a new local experiment keeps its artifacts; $MLFLOW_ARTIFACT_ROOT wins."""
        override = os.environ.get("MLFLOW_ARTIFACT_ROOT")
        return Path(override) if override else local_path("mlflow_artifact_root", self.platform)

    def pipeline_parameters(self, model_params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The pipeline's arguments for a local run (every value from platform.yaml)."""
        params = {**self.model_params, **(model_params or {})}
        return {
            "package": self.package,
            "config_path": str(self.platform.path),
            "tracking_uri": self.tracking_uri(),
            "model_params": json.dumps(params, sort_keys=True),
        }


def _gate(raw: dict[str, Any], contract: FamilyContract, where: str) -> QualityGate:
    table: dict[str, Any] = raw.get("quality_gate") or {}
    row: dict[str, Any] = dict(table.get(contract.family) or {})
    metric = str(row.pop("metric", contract.primary_metric))
    if metric != contract.primary_metric:
        raise TrainingError(
            f"{where}: training.quality_gate.{contract.family}.metric is '{metric}', but the family's "
            f"primary metric (contract.yaml) is '{contract.primary_metric}'"
        )
    unknown = sorted(set(row) - set(GATE_KEYS))
    if unknown:
        raise TrainingError(f"{where}: training.quality_gate.{contract.family} has unknown keys {unknown}")
    values = {key: float(row[key]) for key in GATE_KEYS if row.get(key) is not None}
    return QualityGate(metric=metric, higher_is_better=contract.higher_is_better, **values)


def load_settings(platform_: Platform | None = None) -> TrainingSettings:
    """The training settings of this project (platform.yaml) with the family's contract."""
    current = platform_ or platform()
    raw = current.section("training")
    training = current.settings.training  # validated, defaults filled in (platform_schema.py)
    where = str(current.path)
    contract = load_contract(training.family)
    root = Path(training.pipeline.local_root)
    model = current.decision("model")
    remote = training.remote
    return TrainingSettings(
        platform=current,
        contract=contract,
        registered_model_name=training.registered_model_name,
        experiment=training.experiment,
        smoke_model=training.smoke_model,
        # the open model the pipeline trains (also when hosting is an API, which serves another one)
        production_model=str(model.get("open_model") or model.get("choice", "")),
        challenger_alias=training.registry.challenger_alias,
        champion_alias=training.registry.champion_alias,
        test_fraction=training.dataset.test_fraction,
        seed=training.dataset.seed,
        reference_rows=training.dataset.reference_rows,
        min_rows=training.dataset.min_rows,
        model_params=dict(training.model_params),
        gate=_gate(raw, contract, where),
        pipeline_name=training.pipeline.name,
        pipeline_root=root if root.is_absolute() else current.path.parent / root,
        remote=RemoteSettings(
            kfp_endpoint=os.environ.get("KFP_ENDPOINT") or remote.kfp_endpoint,
            namespace=remote.namespace,
            image=remote.image,
            config_path=remote.config_path,
            tracking_uri=remote.tracking_uri,
            experiment=remote.experiment,
        ),
        raw=raw,
    )


def for_pipeline(base: TrainingSettings, registered_model: str, pipeline: str) -> TrainingSettings:
    """The project's training settings for another model's pipeline (the RAG embedder, the language
    model): its own registry entry and experiment, the same tracking, aliases and runner; no family
    model parameters (its own settings section holds them)."""
    return dataclasses.replace(
        base,
        registered_model_name=registered_model,
        experiment=f"{base.experiment}-{pipeline}",
        pipeline_name=pipeline,
        model_params={},
    )
