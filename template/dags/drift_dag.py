"""Airflow 3 DAGs of the monitoring layer: the scheduled drift check, and retraining when drift persists.

drift_check (schedule: platform.yaml decisions.monitoring.drift_cron)
    check: the drift job (`<package>.monitoring.drift`) on the run's data interval of the inference
    log (runs without an interval, the cron trigger schedule's and manual ones: the
    monitoring.drift.window_hours before the run's logical date, or before its run_after when it has
    none; or the params data_interval_start/data_interval_end; `<package>.data.intervals`).
    No drift and drift both succeed (drift is a finding: the job alerts and exports metrics); an
    empty or too-small window skips; bad features, a missing reference or bad configuration fail
    the task. Every finished check updates the drift-state asset.

retrain_on_drift (schedule: the drift-state asset)
    gate: reads the drifted-windows streak; when it reaches monitoring.drift.retrain_after_windows
    (and every that many windows after) it triggers monitoring.drift.retrain_dag_id.

Run one check locally:  python dags/drift_dag.py --date 2026-03-01
(after `airflow db migrate`, with AIRFLOW__CORE__DAGS_FOLDER=dags: dag.test() syncs the folder)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Asset, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PLATFORM_CONFIG", str(ROOT / "platform.yaml"))
if str(ROOT / "src") not in sys.path:  # a git-synced checkout without the package installed
    sys.path.append(str(ROOT / "src"))

CONFIG = yaml.safe_load(Path(os.environ["PLATFORM_CONFIG"]).read_text(encoding="utf-8"))
PACKAGE = CONFIG["project"]["package"]
SLUG = CONFIG["project"]["slug"]
DRIFT = (CONFIG.get("monitoring") or {}).get("drift") or {}
SCHEDULE = str(
    CONFIG["decisions"]["monitoring"].get("drift_cron") or CONFIG["decisions"]["monitoring"]["drift_schedule"]
)
WINDOW_HOURS = float(DRIFT.get("window_hours", 24))
RETRAIN_AFTER = int(DRIFT.get("retrain_after_windows", 3))
RETRAIN_DAG_ID = str(DRIFT.get("retrain_dag_id") or f"{SLUG}-training")
DRIFT_DAG_ID = f"{SLUG}-drift-check"
RETRAIN_GATE_DAG_ID = f"{SLUG}-retrain-on-drift"
DRIFT_STATE = Asset(f"{SLUG}-drift-state", uri=f"file://{SLUG}/monitoring/drift-state")
SKIP_STATUSES = (4, 5)  # empty window, window below the minimum: nothing to judge yet


@dag(
    dag_id=DRIFT_DAG_ID,
    description=f"PSI drift of {SLUG}'s inference log against the champion's training data",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    tags=[SLUG, "monitoring"],
    default_args={"owner": str(CONFIG["project"]["owner"]), "retries": 1, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
)
def drift_check() -> None:
    @task(outlets=[DRIFT_STATE], retries=0)
    def check() -> dict[str, Any]:
        drift = importlib.import_module(f"{PACKAGE}.monitoring.drift")
        config = importlib.import_module(f"{PACKAGE}.config")
        intervals = importlib.import_module(f"{PACKAGE}.data.intervals")
        context = get_current_context()
        dag_run = context["dag_run"]
        try:  # a cron trigger schedule and manual runs have no interval: the window_hours before the run
            start, end = intervals.run_interval(
                data_interval_start=context.get("data_interval_start"),
                data_interval_end=context.get("data_interval_end"),
                # The cron trigger schedule's runs and dag.test() carry a logical date: the window ends there.
                run_after=context.get("logical_date") or getattr(dag_run, "run_after", None),
                params=context["params"],
                latest=lambda run_after: (run_after - timedelta(hours=WINDOW_HOURS), run_after),
                run_type=str(getattr(dag_run.run_type, "value", dag_run.run_type)),
            )
        except intervals.IntervalError as error:
            raise AirflowFailException(str(error)) from error
        outcome = drift.run(config.load(Path(os.environ["PLATFORM_CONFIG"])), start=start, end=end)
        for warning in outcome.warnings:
            print(f"drift: warning: {warning}")
        print(f"drift: {outcome.message} (exit status {outcome.status})")
        if outcome.status in SKIP_STATUSES:
            raise AirflowSkipException(outcome.message)
        if outcome.status not in (drift.EXIT_OK, drift.EXIT_DRIFT):
            raise RuntimeError(f"drift job status {outcome.status}: {outcome.message}")
        summary = outcome.summary
        return {
            "status": int(outcome.status),
            "drifted_features": list(summary.get("drifted_features", [])),
            "consecutive_drift_windows": int(summary.get("consecutive_drift_windows", 0)),
            "report": str(summary.get("report_html", "")),
        }

    check()


@dag(
    dag_id=RETRAIN_GATE_DAG_ID,
    description=f"Trigger {RETRAIN_DAG_ID} when drift persists for {RETRAIN_AFTER} windows",
    schedule=[DRIFT_STATE],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=[SLUG, "monitoring", "retraining"],
    default_args={"owner": str(CONFIG["project"]["owner"]), "retries": 0},
    doc_md=__doc__,
)
def retrain_on_drift() -> None:
    @task.short_circuit
    def persisted() -> bool:
        drift = importlib.import_module(f"{PACKAGE}.monitoring.drift")
        return bool(drift.retrain_due(RETRAIN_AFTER))

    trigger = TriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id=RETRAIN_DAG_ID,
        conf={"reason": "drift", "retrain_after_windows": RETRAIN_AFTER},
        wait_for_completion=False,
    )
    persisted() >> trigger


drift_dag = drift_check()
retrain_dag = retrain_on_drift()


def main(argv: list[str] | None = None) -> int:
    """Run one drift check with dag.test() (needs `airflow db migrate` in $AIRFLOW_HOME first)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", required=True, help="the check's time: its window ends there, e.g. 2026-03-02")
    args = parser.parse_args(argv)
    run = drift_dag.test(logical_date=datetime.fromisoformat(args.date).replace(tzinfo=UTC))
    state = str(getattr(run, "state", "unknown"))
    print(f"dag run {DRIFT_DAG_ID} {args.date}: {state}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
