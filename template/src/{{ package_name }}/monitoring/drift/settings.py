"""What the drift job reads from platform.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...config import ConfigError, Platform, local_path
from ...contract import get_family


@dataclass(frozen=True)
class DriftSettings:
    """Everything the job reads from platform.yaml."""

    project: str
    family: str
    features: tuple[str, ...]
    summary_statistics: bool
    threshold: float
    min_window_rows: int
    window_hours: float
    max_rows: int
    drift_share: float
    retrain_after_windows: int
    registered_model_name: str
    champion_alias: str
    mlflow_experiment: str
    reports_dir: Path
    # The core model's Triton name: inference-log rows of other models (the task model of
    # decisions.task) are reported beside the PSI, not mixed into it.
    serving_model: str = ""

    @classmethod
    def from_platform(cls, current: Platform) -> DriftSettings:
        settings = current.settings  # validated, defaults filled in (platform_schema.py)
        drift = settings.monitoring.drift
        decision = current.decision("monitoring")
        family_name = settings.decisions.model.family
        threshold = float(decision["psi_threshold"])
        if threshold <= 0:
            raise ConfigError(f"decisions.monitoring.psi_threshold must be > 0, got {threshold}")
        return cls(
            project=settings.project.slug,
            family=family_name,
            features=get_family(family_name).monitored,
            summary_statistics=family_name in drift.summary_statistics_families,
            threshold=threshold,
            min_window_rows=drift.min_window_rows,
            window_hours=drift.window_hours,
            max_rows=drift.max_rows,
            drift_share=drift.drift_share,
            retrain_after_windows=drift.retrain_after_windows,
            registered_model_name=settings.training.registered_model_name,
            champion_alias=settings.training.registry.champion_alias,
            mlflow_experiment=drift.mlflow_experiment,
            reports_dir=local_path("reports", current) / "drift",
            serving_model=settings.serving.model_name,
        )
