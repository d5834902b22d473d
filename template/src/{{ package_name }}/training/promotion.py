"""The champion-vs-challenger decision every training pipeline ends with (every family and pipeline).

    tags = evaluated_tags(client, run_id)                              # register: only evaluated runs
    version = register_challenger(client, settings, run_id, model_uri, {...})
    standing = look_up(client, settings, run_id, metric)
    promoted, reason = decide(standing, metric, higher_is_better)      # a pure rule
    if promoted:
        ...                                                            # the family's export, if any
        set_champion(client, settings, version)
    decision = record(client, settings, run_id, version, standing, ...)  # MLflow run + version tags

A version is promoted only when its run passed the quality gate and beats the champion strictly on
the primary metric (a tie keeps the champion).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .errors import TrainingError
from .settings import TrainingSettings

DECISION_ARTIFACT = "promotion/decision.json"
GATE_TAG = "quality_gate"  # the evaluate steps tag the run "passed" or "failed"; register copies it to the version


@dataclass(frozen=True)
class Standing:
    """The challenger run's score and gate against the current champion's, on one metric."""

    score: float | None
    gate_passed: bool
    champion_version: str | None = None
    champion_score: float | None = None


def evaluated_tags(client: MlflowClient, run_id: str) -> dict[str, str]:
    """The run's tags; TrainingError unless the evaluate step tagged its quality gate."""
    tags = dict(client.get_run(run_id).data.tags)
    if GATE_TAG not in tags:
        raise TrainingError(f"run {run_id} has no evaluation (quality_gate tag); evaluate before registering")
    return tags


def register_challenger(
    client: MlflowClient, settings: TrainingSettings, run_id: str, model_uri: str, tags: Mapping[str, str]
) -> str:
    """Register `model_uri` as a new version of the pipeline's model (tagged with `tags`, the run's gate
    and id), give it the challenger alias and note the version on the run; returns the version."""
    name = settings.registered_model_name
    run_tags = dict(client.get_run(run_id).data.tags)
    version_tags = {**tags, GATE_TAG: run_tags[GATE_TAG], "run_id": run_id}
    version = mlflow.register_model(model_uri, name, tags=version_tags)
    client.set_registered_model_alias(name, settings.challenger_alias, version.version)
    client.set_tag(run_id, "registered_version", str(version.version))
    return str(version.version)


def promote_on(
    client: MlflowClient,
    settings: TrainingSettings,
    run_id: str,
    version: str,
    metric: str,
    higher_is_better: bool,
    *,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """look_up, decide, set_champion when promoted, record: the whole step for pipelines with no export."""
    standing = look_up(client, settings, run_id, metric)
    verdict = decide(standing, metric, higher_is_better)
    if verdict[0]:
        set_champion(client, settings, version)
    return record(client, settings, run_id, version, standing, verdict, metric, higher_is_better, details=details)


def champion(client: MlflowClient, settings: TrainingSettings) -> Any:
    """The registered model's champion version, or None before the first promotion."""
    try:
        return client.get_model_version_by_alias(settings.registered_model_name, settings.champion_alias)
    except MlflowException:
        return None


def look_up(client: MlflowClient, settings: TrainingSettings, run_id: str, metric: str) -> Standing:
    run = client.get_run(run_id)
    current = champion(client, settings)
    champion_score = None if current is None else client.get_run(str(current.run_id)).data.metrics.get(metric)
    return Standing(
        score=run.data.metrics.get(metric),
        gate_passed=run.data.tags.get(GATE_TAG) == "passed",
        champion_version=None if current is None else str(current.version),
        champion_score=champion_score,
    )


def better(score: float, reference: float, higher_is_better: bool) -> bool:
    """Strictly better on the metric (a tie is not)."""
    return score > reference if higher_is_better else score < reference


def decide(standing: Standing, metric: str, higher_is_better: bool) -> tuple[bool, str]:
    """(promote?, the reason in words)."""
    score, best = standing.score, standing.champion_score
    if score is None:
        return False, f"the run has no {metric}"
    if not standing.gate_passed:
        return False, "it failed the quality gate (see evaluation/report.md)"
    if standing.champion_version is None:
        return True, "there was no champion yet"
    if best is None:
        return True, f"the champion (version {standing.champion_version}) has no {metric}"
    wins = better(score, best, higher_is_better)
    return wins, f"{metric} {score:.4f} {'beats' if wins else 'does not beat'} the champion's {best:.4f}"


def set_champion(client: MlflowClient, settings: TrainingSettings, version: str) -> None:
    client.set_registered_model_alias(settings.registered_model_name, settings.champion_alias, version)
    client.delete_registered_model_alias(settings.registered_model_name, settings.challenger_alias)


def record(
    client: MlflowClient,
    settings: TrainingSettings,
    run_id: str,
    version: str,
    standing: Standing,
    verdict: tuple[bool, str],
    metric: str,
    higher_is_better: bool,
    *,
    details: Mapping[str, Any] | None = None,
    run_tags: Mapping[str, str] | None = None,
    run_metrics: Mapping[str, float | None] | None = None,
    version_tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The decision as a dict (plus the family's `details`), logged on the run (artifact, tags, scores)
    and tagged on the model version; returned for the pipeline's output."""
    promoted, reason = verdict
    name = settings.registered_model_name
    decision: dict[str, Any] = {
        "registered_model": name,
        "version": version,
        "run_id": run_id,
        "decision": "promoted" if promoted else "kept_challenger",
        "alias": settings.champion_alias if promoted else settings.challenger_alias,
        "reason": reason,
        "primary_metric": metric,
        "higher_is_better": higher_is_better,
        "challenger_score": standing.score,
        "champion_version": standing.champion_version,
        "champion_score": standing.champion_score,
        "quality_gate_passed": standing.gate_passed,
        **(details or {}),
    }
    metrics = {
        "promotion.challenger_score": standing.score,
        "promotion.champion_score": standing.champion_score,
        **(run_metrics or {}),
    }
    with mlflow.start_run(run_id=run_id):
        mlflow.log_dict(decision, DECISION_ARTIFACT)
        mlflow.set_tags({"promotion.decision": decision["decision"], "promotion.reason": reason, **(run_tags or {})})
        mlflow.log_metrics({key: value for key, value in metrics.items() if value is not None})
    tags = {"promotion": decision["decision"], "promotion_reason": reason, **(version_tags or {})}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    return decision
