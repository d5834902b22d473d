"""The drift job in MLflow: a run per check in the drift experiment, tags on the champion version,
and the streak of drifted windows read back from those runs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ...config import local_path, use_mlflow
from ...training.tracking import experiment_id
from .settings import DriftSettings
from .status import EXIT_DRIFT, STATUS_NAMES

LOGGER = logging.getLogger(__name__)


def mlflow_streak(settings: DriftSettings, tracking_uri: str, model_name: str) -> int | None:
    """Drifted windows in a row before this one, from the drift experiment's runs; None if unknown."""
    try:
        import mlflow

        use_mlflow(tracking_uri)
        experiment = mlflow.get_experiment_by_name(settings.mlflow_experiment)
        if experiment is None:
            return 0
        runs = mlflow.search_runs(
            experiment_ids=[experiment.experiment_id],
            filter_string=f"tags.job = 'drift' and tags.registered_model_name = '{model_name}'",
            order_by=["attributes.start_time DESC"],
            max_results=max(10, settings.retrain_after_windows * 4),
            output_format="list",
        )
    except Exception as error:
        LOGGER.warning("drift streak not read from MLflow (%s); using the local state file", error)
        return None
    streak = 0
    for past in runs:
        if past.data.tags.get("status") != STATUS_NAMES[EXIT_DRIFT]:
            break
        streak += 1
    return streak


def log_to_mlflow(settings: DriftSettings, tracking_uri: str, summary: dict[str, Any], report_dir: Path) -> str:
    """A run in the drift experiment (metrics, reports) and tags on the champion version; returns the run id."""
    import mlflow
    from mlflow.tracking import MlflowClient

    use_mlflow(tracking_uri)
    experiment = experiment_id(settings.mlflow_experiment, tracking_uri, local_path("mlflow_artifact_root"))
    tags = {
        "job": "drift",
        "status": summary["status"],
        "registered_model_name": summary["model_name"],
        "model_version": summary["model_version"],
        "champion_run_id": summary["reference_run_id"],
        "columns_mode": summary["columns_mode"],
    }
    with mlflow.start_run(experiment_id=experiment, run_name=f"drift-{report_dir.name}", tags=tags) as run:
        mlflow.log_params({"psi_threshold": settings.threshold, "window_start": summary["window"]["start"]})
        mlflow.log_metrics(
            {
                **{f"psi.{name}": value for name, value in summary["psi"].items()},
                "drift_share": summary["share_drifted"],
                "drifted_columns": len(summary["drifted_features"]),
                "window_rows": summary["window"]["rows"],
                "anomaly_share": summary["anomaly_share"],
            }
        )
        mlflow.log_artifacts(str(report_dir), artifact_path="drift")
        run_id = str(run.info.run_id)
    if summary["model_version"]:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        for key, value in {
            "drift.last_status": summary["status"],
            "drift.last_run_id": run_id,
            "drift.last_checked_at": summary["finished_at"],
            "drift.max_psi": f"{max(summary['psi'].values()):.4f}",
        }.items():
            client.set_model_version_tag(summary["model_name"], summary["model_version"], key, value)
    return run_id
