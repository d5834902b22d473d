"""The drift job's Prometheus samples (monitoring/metrics.py writes or pushes them)."""

from __future__ import annotations

import time
from typing import Any

from .. import metrics
from .settings import DriftSettings
from .status import EXIT_DRIFT, EXIT_OK


def metric_samples(settings: DriftSettings, summary: dict[str, Any], status: int, streak: int) -> list[metrics.Sample]:
    labels = {
        "project": settings.project,
        "model": str(summary.get("model_name") or settings.registered_model_name),
        "model_version": str(summary.get("model_version") or ""),
    }
    samples = [
        metrics.Sample("model_drift_job_status", float(status), labels),
        metrics.Sample("model_drift_last_run_timestamp_seconds", time.time(), labels),
        metrics.Sample("model_drift_threshold", settings.threshold, labels),
        metrics.Sample("model_drift_consecutive_windows", float(streak), labels),
    ]
    if status in (EXIT_OK, EXIT_DRIFT):
        samples += [
            metrics.Sample("model_drift_psi", value, {**labels, "feature": name})
            for name, value in summary["psi"].items()
        ]
        samples += [
            metrics.Sample("model_drift_share", float(summary["share_drifted"]), labels),
            metrics.Sample("model_drift_detected", 1.0 if status == EXIT_DRIFT else 0.0, labels),
            metrics.Sample("model_drift_window_rows", float(summary["window"]["rows"]), labels),
            metrics.Sample("model_data_anomaly_share", float(summary["anomaly_share"]), labels),
        ]
    return samples
