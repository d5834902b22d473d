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

    @classmethod
    def from_platform(cls, current: Platform) -> DriftSettings:
        section = dict(current.section("monitoring").get("drift") or {})
        decision = current.decision("monitoring")
        family_name = str(current.decision("model").get("family", "tabular"))
        family = get_family(family_name)
        training = current.raw.get("training") or {}
        registry = training.get("registry") or {}
        summary_families = [str(name) for name in section.get("summary_statistics_families", [])]
        threshold = float(decision["psi_threshold"])
        if threshold <= 0:
            raise ConfigError(f"decisions.monitoring.psi_threshold must be > 0, got {threshold}")
        return cls(
            project=str(current.project["slug"]),
            family=family_name,
            features=tuple(family.features),
            summary_statistics=family_name in summary_families,
            threshold=threshold,
            min_window_rows=int(section.get("min_window_rows", decision.get("psi_min_window_rows", 500))),
            window_hours=float(section.get("window_hours", 24)),
            max_rows=int(section.get("max_rows", 100_000)),
            drift_share=float(section.get("drift_share", 0.5)),
            retrain_after_windows=int(section.get("retrain_after_windows", 3)),
            registered_model_name=str(training.get("registered_model_name") or current.project["slug"]),
            champion_alias=str(registry.get("champion_alias") or "champion"),
            mlflow_experiment=str(section.get("mlflow_experiment") or f"{current.project['slug']}-drift"),
            reports_dir=local_path("reports", current) / "drift",
        )
