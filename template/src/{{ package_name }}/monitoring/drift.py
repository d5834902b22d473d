"""The drift job (`make drift`): PSI of the inference log's window against the champion's training data.

    python -m <package>.monitoring.drift [--start ISO] [--end ISO] [--window-hours H]
                                        [--reference PARQUET] [--current PARQUET]
                                        [--no-mlflow] [--no-alerts] [--json]

Reference: reference/features.parquet of the run behind the registered model's champion alias
(MLflow). Current: the inference log rows of the window (default: the last
monitoring.drift.window_hours hours). Evidently 0.7's DataDriftPreset with the PSI method and
decisions.monitoring.psi_threshold gives the PSI of every drift column; a column drifts when its
PSI >= the threshold (Evidently's rule). Image, audio and text families compare per-row summary
statistics of their features (see SUMMARY_STATISTICS) rather than every pixel, band or hash.

Exit status (documented in docs/monitoring.md):
    0  no drift                               3  drift in at least one column
    2  bad configuration or arguments         4  empty window (nothing logged in it)
    5  window smaller than min_window_rows    6  bad features: missing from the log or reference, or all null
    7  no reference (no champion, its run has no reference/features.parquet, or MLflow is unreachable)
    1  anything else (message printed; --debug shows the traceback)

Statuses 0 and 3 write the reports (JSON + HTML, under local.reports/drift/<time>/), log them to
MLflow against the champion version, export the metrics and, on drift, send the alert. Every
other status writes no report; it still updates the metrics file so the failure is visible.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import ConfigError, Platform, load, local_path, mlflow_tracking_uri
from ..contract import get_family
from ..training.tracking import experiment_id
from . import alerts, metrics
from .inference_log import read_window

LOGGER = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_DRIFT = 3
EXIT_EMPTY_WINDOW = 4
EXIT_SMALL_WINDOW = 5
EXIT_BAD_FEATURES = 6
EXIT_NO_REFERENCE = 7
STATUS_NAMES = {
    EXIT_OK: "no_drift",
    EXIT_FAILED: "failed",
    EXIT_CONFIG: "bad_config",
    EXIT_DRIFT: "drift",
    EXIT_EMPTY_WINDOW: "empty_window",
    EXIT_SMALL_WINDOW: "window_too_small",
    EXIT_BAD_FEATURES: "bad_features",
    EXIT_NO_REFERENCE: "no_reference",
}
REFERENCE_ARTIFACT = "reference/features.parquet"
SUMMARY_STATISTICS = ("mean", "std", "min", "max", "zero_share", "l2_norm")
ANOMALY_RANGE_MARGIN = 0.1  # a value beyond the reference's [min, max] widened by 10% of the range is an anomaly
SAMPLE_SEED = 0


class DriftJobError(Exception):
    """A problem with the job's input: carries the exit status and a message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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


@dataclass
class Reference:
    frame: pd.DataFrame
    source: str
    model_name: str = ""
    model_version: str = ""
    run_id: str = ""


@dataclass
class DriftResult:
    psi: dict[str, float]
    drifted: list[str]
    share: float
    dataset_drift: bool
    anomaly_share: float
    columns_mode: str
    snapshot: Any = field(repr=False, default=None)

    @property
    def detected(self) -> bool:
        return bool(self.drifted)


# -- inputs ---------------------------------------------------------------------------------------


def check_tracking_server(tracking_uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds when an MLflow server does not answer (MLflow's client retries for minutes)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(tracking_uri.rstrip("/") + "/health", timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"answered HTTP {response.status} on /health"
    except (OSError, ValueError) as error:
        problem = f"is unreachable ({error})"
    raise DriftJobError(EXIT_NO_REFERENCE, f"no reference: the MLflow tracking server {tracking_uri} {problem}")


def load_champion_reference(settings: DriftSettings, tracking_uri: str) -> Reference:
    """The training reference logged with the run behind the champion alias."""
    check_tracking_server(tracking_uri)
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        version = client.get_model_version_by_alias(settings.registered_model_name, settings.champion_alias)
    except MlflowException as error:
        raise DriftJobError(
            EXIT_NO_REFERENCE,
            f"no champion: registered model {settings.registered_model_name!r} has no alias "
            f"{settings.champion_alias!r} in {tracking_uri} (train and promote a model first: make train)",
        ) from error
    run_id = str(version.run_id or "")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=REFERENCE_ARTIFACT, dst_path=tmp)
        except Exception as error:
            raise DriftJobError(
                EXIT_NO_REFERENCE,
                f"champion {settings.registered_model_name} v{version.version} (run {run_id}) has no "
                f"{REFERENCE_ARTIFACT}: retrain with the current training code, which logs it",
            ) from error
        frame = read_parquet(Path(path), "reference")
    return Reference(
        frame=frame,
        source=f"models:/{settings.registered_model_name}@{settings.champion_alias} (run {run_id})",
        model_name=settings.registered_model_name,
        model_version=str(version.version),
        run_id=run_id,
    )


def read_parquet(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise DriftJobError(EXIT_CONFIG, f"{what} file {path} does not exist")
    try:
        return pd.read_parquet(path)
    except Exception as error:
        raise DriftJobError(EXIT_CONFIG, f"{what} file {path} is not readable Parquet: {error}") from error


def validate_window(current: pd.DataFrame, settings: DriftSettings, window: str) -> None:
    """Refuse an empty window or one below the minimum sample size."""
    if current.empty:
        raise DriftJobError(
            EXIT_EMPTY_WINDOW,
            f"empty window: nothing was logged in {window}; is serving logging (serving.client.log_inferences)?",
        )
    if len(current) < settings.min_window_rows:
        raise DriftJobError(
            EXIT_SMALL_WINDOW,
            f"window too small: {len(current)} rows in {window}, the minimum is {settings.min_window_rows} "
            "(monitoring.drift.min_window_rows); PSI on fewer rows fires on sampling noise. Widen the window.",
        )


def validate_features(frame: pd.DataFrame, settings: DriftSettings, side: str) -> None:
    """Refuse a side that lacks a feature column or has one without a single finite value."""
    if side == "reference" and len(frame) == 0:
        raise DriftJobError(EXIT_NO_REFERENCE, "the reference has no rows")
    missing = [name for name in settings.features if name not in frame.columns]
    if missing:
        raise DriftJobError(
            EXIT_BAD_FEATURES,
            f"feature(s) {', '.join(missing)} missing from the {side} (family {settings.family} "
            "expects the columns of data/families.yaml)",
        )
    empty = [name for name in settings.features if not np.isfinite(pd.to_numeric(frame[name], errors="coerce")).any()]
    if empty:
        raise DriftJobError(
            EXIT_BAD_FEATURES,
            f"feature(s) {', '.join(empty)} in the {side} hold no values (all null or non-finite); "
            "PSI is undefined. Check the serving client and the feature pipeline.",
        )


def summary_statistics(frame: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
    """Per-row statistics of a wide feature vector (pixels, band energies, token hashes)."""
    values = frame[list(features)].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore", all="ignore"):
        return pd.DataFrame(
            {
                "mean": np.nanmean(values, axis=1),
                "std": np.nanstd(values, axis=1),
                "min": np.nanmin(values, axis=1),
                "max": np.nanmax(values, axis=1),
                "zero_share": (values == 0).mean(axis=1),
                "l2_norm": np.sqrt(np.nansum(values**2, axis=1)),
            }
        )


def drift_columns(frame: pd.DataFrame, settings: DriftSettings) -> pd.DataFrame:
    """The columns PSI runs on: the features, or their summary statistics for wide families."""
    if settings.summary_statistics:
        return summary_statistics(frame, settings.features)
    columns = frame[list(settings.features)].apply(pd.to_numeric, errors="coerce")
    return pd.DataFrame(columns.astype(np.float64))


def anomaly_share(reference: pd.DataFrame, current: pd.DataFrame, features: tuple[str, ...]) -> float:
    """Share of current rows with a missing/non-finite feature or one far outside the reference's range."""
    ref = reference[list(features)].to_numpy(dtype=np.float64, na_value=np.nan)
    cur = current[list(features)].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore", all="ignore"):
        low, high = np.nanmin(ref, axis=0), np.nanmax(ref, axis=0)
        margin = (high - low) * ANOMALY_RANGE_MARGIN
        bad = ~np.isfinite(cur) | (cur < low - margin) | (cur > high + margin)
    return float(bad.any(axis=1).mean()) if len(cur) else 0.0


def cap_rows(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """A uniform random sample of max_rows rows (fixed seed) when the frame is bigger."""
    if max_rows <= 0 or len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=SAMPLE_SEED).reset_index(drop=True)


# -- the computation ------------------------------------------------------------------------------


def evidently_psi(
    reference: pd.DataFrame, current: pd.DataFrame, threshold: float, drift_share: float
) -> tuple[dict[str, float], float, bool, Any]:
    """Evidently 0.7 DataDriftPreset(method="psi"): per-column PSI, drifted share, dataset drift, snapshot."""
    from evidently import DataDefinition, Dataset, Report  # type: ignore[import-untyped]
    from evidently.presets import DataDriftPreset  # type: ignore[import-untyped]

    columns = list(reference.columns)
    definition = DataDefinition(numerical_columns=columns)
    report = Report([DataDriftPreset(method="psi", threshold=threshold, drift_share=drift_share)], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),  # current first
        Dataset.from_pandas(reference, data_definition=definition),
    )
    psi: dict[str, float] = {}
    share = 0.0
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        kind = str(config.get("type", ""))
        if kind.endswith(":ValueDrift"):
            psi[str(config["column"])] = float(metric["value"])
        elif kind.endswith(":DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    missing = [name for name in columns if name not in psi]
    if missing:
        raise RuntimeError(f"Evidently returned no PSI for {missing}")
    return psi, share, share >= drift_share, snapshot


def compute(reference: pd.DataFrame, current: pd.DataFrame, settings: DriftSettings) -> DriftResult:
    ref_columns = drift_columns(cap_rows(reference, settings.max_rows), settings)
    cur_columns = drift_columns(cap_rows(current, settings.max_rows), settings)
    psi, share, dataset_drift, snapshot = evidently_psi(
        ref_columns, cur_columns, settings.threshold, settings.drift_share
    )
    drifted = [name for name, value in psi.items() if value >= settings.threshold]
    return DriftResult(
        psi=psi,
        drifted=drifted,
        share=share,
        dataset_drift=dataset_drift,
        anomaly_share=anomaly_share(reference, current, settings.features),
        columns_mode="summary_statistics" if settings.summary_statistics else "features",
        snapshot=snapshot,
    )


# -- outputs --------------------------------------------------------------------------------------


def write_reports(reports_dir: Path, stamp: str, summary: dict[str, Any], snapshot: Any) -> Path:
    """drift.json, drift.html and summary.json in reports_dir/<stamp>/, all or nothing."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=reports_dir, prefix=f".{stamp}."))
    target = reports_dir / stamp
    try:
        snapshot.save_json(str(staging / "drift.json"))
        snapshot.save_html(str(staging / "drift.html"))
        summary = {
            **summary,
            "report_dir": str(target),
            "report_json": str(target / "drift.json"),
            "report_html": str(target / "drift.html"),
        }
        (staging / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    latest = reports_dir / "latest.json"
    latest_tmp = reports_dir / ".latest.json.tmp"
    latest_tmp.write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(latest_tmp, latest)
    return target


def update_state(reports_dir: Path, status: int, previous: int | None = None) -> int:
    """Drifted windows in a row, kept in reports_dir/state.json; returns the new count.

    Only finished checks (0 and 3) count: a refused window neither extends nor breaks a streak.
    `previous` (from MLflow, which outlives a CronJob's pod) wins over the file's count.
    """
    path = reports_dir / "state.json"
    state = read_state(reports_dir)
    before = int(state.get("consecutive_drift_windows", 0)) if previous is None else previous
    streak = before + 1 if status == EXIT_DRIFT else 0
    state.update(
        consecutive_drift_windows=streak, last_status=STATUS_NAMES[status], updated_at=datetime.now(UTC).isoformat()
    )
    reports_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return streak


def mlflow_streak(settings: DriftSettings, tracking_uri: str, model_name: str) -> int | None:
    """Drifted windows in a row before this one, from the drift experiment's runs; None if unknown."""
    try:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
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


def read_state(reports_dir: Path) -> dict[str, Any]:
    path = reports_dir / "state.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        loaded = {}
    return dict(loaded) if isinstance(loaded, dict) else {}


def retrain_due(retrain_after: int, current_platform: Platform | None = None) -> bool:
    """True when drift has persisted retrain_after windows (and every retrain_after windows after that)."""
    current = current_platform or load()
    settings = DriftSettings.from_platform(current)
    streak = mlflow_streak(settings, mlflow_tracking_uri(current), settings.registered_model_name)
    if streak is None:
        streak = int(read_state(settings.reports_dir).get("consecutive_drift_windows", 0))
    return retrain_after > 0 and streak >= retrain_after and streak % retrain_after == 0


def log_to_mlflow(settings: DriftSettings, tracking_uri: str, summary: dict[str, Any], report_dir: Path) -> str:
    """A run in the drift experiment (metrics, reports) and tags on the champion version; returns the run id."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
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
        client = MlflowClient(tracking_uri=tracking_uri)
        for key, value in {
            "drift.last_status": summary["status"],
            "drift.last_run_id": run_id,
            "drift.last_checked_at": summary["finished_at"],
            "drift.max_psi": f"{max(summary['psi'].values()):.4f}",
        }.items():
            client.set_model_version_tag(summary["model_name"], summary["model_version"], key, value)
    return run_id


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


# -- the job --------------------------------------------------------------------------------------


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


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="drift", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parse.add_argument("--start", type=_parse_time, help="window start (ISO 8601, UTC if no zone)")
    parse.add_argument("--end", type=_parse_time, help="window end (default: now)")
    parse.add_argument("--window-hours", type=float, help="window length (default: monitoring.drift.window_hours)")
    parse.add_argument("--reference", type=Path, help="reference Parquet instead of the champion's in MLflow")
    parse.add_argument("--current", type=Path, help="current Parquet instead of the inference log window")
    parse.add_argument("--no-mlflow", action="store_true", help="do not read the champion or log to MLflow")
    parse.add_argument("--no-alerts", action="store_true", help="do not send the webhook alert")
    parse.add_argument("--reports-dir", type=Path, help="write reports here instead of local.reports/drift")
    parse.add_argument("--config", type=Path, help="platform.yaml (default: $PLATFORM_CONFIG or the nearest one)")
    parse.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parse.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parse


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:
        return EXIT_CONFIG if exit_.code not in (0, None) else EXIT_OK
    try:
        current_platform = load(args.config)
        end = args.end
        start = args.start
        if args.window_hours is not None:
            end = end or datetime.now(UTC)
            start = start or end - timedelta(hours=args.window_hours)
        if args.no_mlflow and args.reference is None:
            raise ConfigError("--no-mlflow needs --reference (the champion's reference lives in MLflow)")
        outcome = run(
            current_platform,
            start=start,
            end=end,
            reference_path=args.reference,
            current_path=args.current,
            use_mlflow=not args.no_mlflow,
            send_alerts=not args.no_alerts,
            reports_dir=args.reports_dir,
        )
    except (ConfigError, KeyError) as error:
        print(f"drift: configuration problem: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        print(f"drift: failed: {type(error).__name__}: {error} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED
    for warning in outcome.warnings:
        print(f"drift: warning: {warning}", file=sys.stderr)
    ran = outcome.status in (EXIT_OK, EXIT_DRIFT)
    stream = sys.stdout if ran and not args.json else sys.stderr
    print(f"drift: {outcome.message}", file=stream)
    print(f"drift: exit status {outcome.status} ({STATUS_NAMES[outcome.status]})", file=stream)
    if args.json and outcome.summary:
        print(json.dumps(outcome.summary, indent=2, sort_keys=True))
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
