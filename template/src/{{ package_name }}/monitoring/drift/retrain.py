"""The retrain decision: has drift persisted long enough to retrain (dags/drift_dag.py's gate)?"""

from __future__ import annotations

from ...config import Platform, load, mlflow_tracking_uri
from .settings import DriftSettings
from .state import read_state
from .tracking import mlflow_streak


def retrain_due(retrain_after: int, current_platform: Platform | None = None) -> bool:
    """True when drift has persisted retrain_after windows (and every retrain_after windows after that)."""
    current = current_platform or load()
    settings = DriftSettings.from_platform(current)
    streak = mlflow_streak(settings, mlflow_tracking_uri(current), settings.registered_model_name)
    if streak is None:
        streak = int(read_state(settings.reports_dir).get("consecutive_drift_windows", 0))
    return retrain_after > 0 and streak >= retrain_after and streak % retrain_after == 0
