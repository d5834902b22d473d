"""One run of the drift job: read, validate, compute, then write the reports, log, export, alert."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ...config import Platform, mlflow_tracking_uri
from .. import alerts, metrics
from ..inference_log import read_window, split_task_rows
from .computation import compute
from .inputs import Reference, load_champion_reference, read_parquet
from .reports import write_reports
from .samples import metric_samples
from .settings import DriftSettings
from .state import read_state, update_state
from .status import EXIT_CONFIG, EXIT_DRIFT, EXIT_EMPTY_WINDOW, EXIT_OK, STATUS_NAMES, DriftJobError
from .tracking import log_to_mlflow, mlflow_streak
from .validation import validate_features, validate_window


@dataclass
class Outcome:
    status: int
    message: str
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def run(
    current_platform: Platform,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    reference_path: Path | None = None,
    current_path: Path | None = None,
    use_mlflow: bool = True,
    send_alerts: bool = True,
    reports_dir: Path | None = None,
    settings: DriftSettings | None = None,
) -> Outcome:
    """Run the job once; never raises for bad input (the outcome carries the status and message).

    `settings` overrides what platform.yaml says (the benchmark uses it for its synthetic features).
    """
    settings = settings or DriftSettings.from_platform(current_platform)
    if reports_dir is not None:
        settings = dataclasses.replace(settings, reports_dir=reports_dir)
    end = end or datetime.now(UTC)
    start = start or end - timedelta(hours=settings.window_hours)
    window = f"[{start.isoformat()}, {end.isoformat()})"
    tracking_uri = mlflow_tracking_uri(current_platform)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings: list[str] = []
    reference: Reference | None = None
    traffic: dict[str, Any] = {}
    try:
        if start >= end:
            raise DriftJobError(
                EXIT_CONFIG, f"the window start {start.isoformat()} is not before its end {end.isoformat()}"
            )
        if current_path is not None:
            current = read_parquet(current_path, "current")
            window = str(current_path)
        else:
            try:
                current = read_window(start, end, platform_=current_platform)
            except OSError as error:
                raise DriftJobError(EXIT_CONFIG, f"the inference log cannot be read: {error}") from error
        current, other = split_task_rows(current, settings.serving_model)  # the log file or window
        traffic = task_traffic(other)
        if current.empty and traffic:
            served = ", ".join(f"{name} ({item['rows']} rows)" for name, item in traffic.items())
            raise DriftJobError(
                EXIT_EMPTY_WINDOW,
                f"empty window: {window} holds only task-model rows ({served}) and no row of the core model "
                f"{settings.serving_model!r}; PSI compares the core model's features with the champion's "
                "training data, which task requests (images, text) are not rows of. Log a sample of core-model "
                "requests too (TritonClient.predict); task rows are then reported beside the PSI (task_traffic)",
            )
        validate_window(current, settings, window)
        validate_features(current, settings, "inference log")
        if reference_path is not None:
            reference = Reference(read_parquet(reference_path, "reference"), source=str(reference_path))
            if use_mlflow:
                try:
                    champion = load_champion_reference(settings, tracking_uri)
                    reference.model_name, reference.model_version = champion.model_name, champion.model_version
                    reference.run_id = champion.run_id
                except DriftJobError:
                    pass  # an explicit reference file needs no champion
        else:
            reference = load_champion_reference(settings, tracking_uri)
        validate_features(reference.frame, settings, "reference")
        result = compute(reference.frame, current, settings)
    except DriftJobError as error:
        streak = int(read_state(settings.reports_dir).get("consecutive_drift_windows", 0))
        failed = {"model_name": reference.model_name if reference else "", "model_version": ""}
        warnings += metrics.export(
            metrics.PrometheusSettings.from_platform(current_platform),
            metric_samples(settings, failed, error.status, streak),
        )
        return Outcome(error.status, str(error), warnings=warnings)

    status = EXIT_DRIFT if result.detected else EXIT_OK
    previous = (
        mlflow_streak(settings, tracking_uri, reference.model_name) if use_mlflow and reference.model_name else None
    )
    streak = update_state(settings.reports_dir, status, previous)
    finished = datetime.now(UTC)
    summary: dict[str, Any] = {
        "status": STATUS_NAMES[status],
        "exit_status": status,
        "project": settings.project,
        "family": settings.family,
        "columns_mode": result.columns_mode,
        "threshold": settings.threshold,
        "psi": result.psi,
        "drifted_features": result.drifted,
        "share_drifted": result.share,
        "dataset_drift": result.dataset_drift,
        "drift_share_limit": settings.drift_share,
        "anomaly_share": result.anomaly_share,
        "consecutive_drift_windows": streak,
        "retrain_after_windows": settings.retrain_after_windows,
        "window": {"start": start.isoformat(), "end": end.isoformat(), "rows": len(current), "source": window},
        "reference": {"source": reference.source, "rows": len(reference.frame)},
        "reference_run_id": reference.run_id,
        "model_name": reference.model_name,
        "model_version": reference.model_version,
        "max_rows_per_side": settings.max_rows,
        "task_traffic": traffic,
        "finished_at": finished.isoformat(),
    }
    report_dir = write_reports(settings.reports_dir, finished.strftime("%Y%m%dT%H%M%S%fZ"), summary, result.snapshot)
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    if use_mlflow:
        try:
            summary["mlflow_run_id"] = log_to_mlflow(settings, tracking_uri, summary, report_dir)
        except Exception as error:
            warnings.append(f"reports not logged to MLflow ({tracking_uri}): {error}")
    warnings += metrics.export(
        metrics.PrometheusSettings.from_platform(current_platform), metric_samples(settings, summary, status, streak)
    )
    if status == EXIT_DRIFT and send_alerts:
        alert_settings = alerts.AlertSettings.from_platform(current_platform)
        problem = alerts.send(alert_settings, alerts.drift_message(summary, alert_settings))
        if problem:
            warnings.append(f"drift alert not delivered: {problem}")
    if status == EXIT_DRIFT:
        listed = ", ".join(f"{name} (PSI {result.psi[name]:.3f})" for name in result.drifted)
        message = f"drift: {listed} at PSI >= {settings.threshold:g}; report {report_dir / 'drift.html'}"
    else:
        top = max(result.psi.values())
        message = f"no drift: max PSI {top:.3f} < {settings.threshold:g}; report {report_dir / 'drift.html'}"
    return Outcome(status, message, summary, warnings)


def task_traffic(rows: pd.DataFrame) -> dict[str, Any]:
    """Per task model in the window: rows, p95 latency and the mean of each summary column.

    Reported beside the PSI (summary.json, MLflow): drift itself runs on the core model's features,
    the only ones the champion's training reference holds.
    """
    traffic: dict[str, Any] = {}
    if rows.empty:
        return traffic
    for name, part in rows.groupby(rows["model"].astype(str), sort=True):
        summary = [column for column in part.columns if column.startswith(("input_", "output_"))]
        means = part[summary].apply(pd.to_numeric, errors="coerce").mean()
        traffic[str(name)] = {
            "rows": len(part),
            "latency_ms_p95": float(pd.to_numeric(part["latency_ms"], errors="coerce").quantile(0.95)),
            "means": {column: round(float(value), 6) for column, value in means.items() if pd.notna(value)},
        }
    return traffic
