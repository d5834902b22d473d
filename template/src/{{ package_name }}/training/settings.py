"""The `training:` section of platform.yaml, with the family's contract (contract.yaml)."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import platform_schema
from ..config import Platform, local_path, mlflow_tracking_uri, platform
from ..contract import CONTRACT_FILE, Family, get_family
from .errors import TrainingError

TASKS = ("binary", "multiclass", "regression")


def load_contract(family: str) -> Family:
    """The family's contract (contract.yaml) for training; TrainingError when it is missing or invalid."""
    try:
        contract = get_family(family)
    except KeyError as problem:
        raise TrainingError(f"{CONTRACT_FILE}: {problem.args[0]}") from problem
    if contract.task not in TASKS:
        raise TrainingError(f"{CONTRACT_FILE}: family '{family}' has task '{contract.task}', expected one of {TASKS}")
    if contract.is_classification and len(contract.classes) < 2:
        raise TrainingError(
            f"{CONTRACT_FILE}: family '{family}' is a {contract.task} task but lists fewer than 2 classes"
        )
    return contract


class QualityGate(platform_schema.QualityGate):
    """What a new version must reach before it may become champion: the rules of
    training.quality_gate.<family>, on the primary metric, in the contract's direction."""

    higher_is_better: bool

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


@dataclass(frozen=True)
class TrainingSettings:
    """Everything the training pipeline reads from platform.yaml."""

    platform: Platform
    contract: Family
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
    remote: platform_schema.Remote  # training.remote, with $KFP_ENDPOINT over its kfp_endpoint

    @property
    def family(self) -> str:
        return self.contract.name

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


def _gate(training: platform_schema.Training, contract: Family, where: str) -> QualityGate:
    rules = training.quality_gate.get(contract.name) or platform_schema.QualityGate(metric=contract.primary_metric)
    if rules.metric != contract.primary_metric:
        raise TrainingError(
            f"{where}: training.quality_gate.{contract.name}.metric is '{rules.metric}', but the family's "
            f"primary metric (contract.yaml) is '{contract.primary_metric}'"
        )
    return QualityGate(**rules.model_dump(), higher_is_better=contract.higher_is_better)


def load_settings(platform_: Platform | None = None) -> TrainingSettings:
    """The training settings of this project (platform.yaml) with the family's contract."""
    current = platform_ or platform()
    training = current.settings.training  # validated, defaults filled in (platform_schema.py)
    where = str(current.path)
    contract = load_contract(training.family)
    root = Path(training.pipeline.local_root)
    model = current.decision("model")
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
        gate=_gate(training, contract, where),
        pipeline_name=training.pipeline.name,
        pipeline_root=root if root.is_absolute() else current.path.parent / root,
        remote=training.remote.model_copy(
            update={"kfp_endpoint": os.environ.get("KFP_ENDPOINT") or training.remote.kfp_endpoint}
        ),
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
