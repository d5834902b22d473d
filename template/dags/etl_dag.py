"""Airflow 3 ETL DAG: extract -> validate -> transform -> load_offline -> feast_apply -> materialize.

Every task is a thin call into the project's package (`<package>.data.etl`, `<package>.features.store`),
which holds the logic and its unit tests. Settings (schedule, owner, retries, timeouts, tags) come
from platform.yaml `data.etl`. Each run covers one data interval and replaces that interval's
partition, so re-running a day never duplicates it.

Run one day locally:  make etl DATE=2026-03-01   (or python dags/etl_dag.py --date 2026-03-01 with
AIRFLOW_HOME and AIRFLOW__CORE__DAGS_FOLDER set, after `airflow db migrate`; see docs/data.md)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from airflow.sdk import Connection, CronDataIntervalTimetable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PLATFORM_CONFIG", str(ROOT / "platform.yaml"))
os.environ.setdefault("FEAST_USAGE", "False")
if str(ROOT / "src") not in sys.path:  # a git-synced checkout without the package installed
    sys.path.append(str(ROOT / "src"))

PACKAGE = yaml.safe_load(Path(os.environ["PLATFORM_CONFIG"]).read_text(encoding="utf-8"))["project"]["package"]
etl = importlib.import_module(f"{PACKAGE}.data.etl")
settings_module = importlib.import_module(f"{PACKAGE}.data.settings")
intervals = importlib.import_module(f"{PACKAGE}.data.intervals")
SETTINGS = settings_module.load_settings()


def _interval() -> tuple[datetime, datetime]:
    """The run's [start, end): scheduled, backfill and manual runs alike (see the module docstring)."""
    context = get_current_context()
    dag_run = context["dag_run"]
    try:
        return intervals.run_interval(
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
            run_after=getattr(dag_run, "run_after", None),
            params=context["params"],
            latest=lambda run_after: intervals.latest_complete_interval(SETTINGS.schedule, run_after),
            run_type=str(getattr(dag_run.run_type, "value", dag_run.run_type)),
        )
    except intervals.IntervalError as error:
        raise AirflowFailException(str(error)) from error  # no retries: a missing interval stays missing


def _source_dsn() -> str | None:
    """The cloud source's Airflow connection as a URI (None in the local profile)."""
    if settings_module.profile() != "cloud" or SETTINGS.source.cloud.kind != "postgres":
        return None
    return str(Connection.get(SETTINGS.source.cloud.conn_id).get_uri())


@dag(
    dag_id=SETTINGS.dag_id,
    description=f"ETL of the {SETTINGS.family.name} family into the Feast feature store",
    schedule=CronDataIntervalTimetable(SETTINGS.schedule, timezone="UTC"),
    start_date=SETTINGS.start_date,
    catchup=SETTINGS.catchup,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=SETTINGS.dagrun_timeout_minutes),
    tags=list(SETTINGS.tags),
    default_args={
        "owner": SETTINGS.owner,
        "retries": SETTINGS.retries,
        "retry_delay": timedelta(minutes=SETTINGS.retry_delay_minutes),
        "execution_timeout": timedelta(minutes=SETTINGS.task_timeout_minutes),
    },
    params={"source_file": None, "data_interval_start": None, "data_interval_end": None},
    doc_md=__doc__,
)
def etl_dag() -> None:
    @task
    def extract() -> str:
        start, end = _interval()
        source_file = get_current_context()["params"].get("source_file")
        return str(etl.extract(start, end, source_file=source_file, dsn=_source_dsn()))

    @task(retries=0)  # bad data does not get better by retrying
    def validate(raw_path: str) -> str:
        start, end = _interval()
        return str(etl.validate_file(raw_path, start, end))

    @task
    def transform(valid_path: str) -> str:
        start, end = _interval()
        return str(etl.transform(valid_path, start, end))

    @task
    def load_offline(features_path: str) -> int:
        start, _ = _interval()
        return int(etl.load_offline(features_path, start))

    @task
    def feast_apply(rows: int) -> list[str]:
        store = importlib.import_module(f"{PACKAGE}.features.store")
        return list(store.apply())

    @task
    def materialize(applied: list[str]) -> str:
        store = importlib.import_module(f"{PACKAGE}.features.store")
        start, end = _interval()
        return str(store.materialize(start, end))

    materialize(feast_apply(load_offline(transform(validate(extract())))))


dag_object = etl_dag()


def main(argv: list[str] | None = None) -> Any:
    """Run one interval with dag.test() (after `airflow db migrate` in $AIRFLOW_HOME, or with --migrate-db)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", required=True, help="the day to load, e.g. 2026-03-01 (its interval's start)")
    parser.add_argument("--source-file", default=None, help="a Parquet/CSV file to load instead of the source")
    parser.add_argument(
        "--migrate-db", action="store_true", help="create or upgrade the metadata database first (`airflow db migrate`)"
    )
    args = parser.parse_args(argv)
    if args.migrate_db:
        # In this process rather than the `airflow` CLI: Airflow is imported once (~5 s saved).
        from airflow.utils.db import upgradedb

        upgradedb()
    # A manual run covers the schedule interval that ends at its logical date: pass the day after.
    logical_date = datetime.fromisoformat(args.date).replace(tzinfo=SETTINGS.start_date.tzinfo) + timedelta(days=1)
    run = dag_object.test(logical_date=logical_date, run_conf={"source_file": args.source_file})
    state = str(getattr(run, "state", "unknown"))
    print(f"dag run {SETTINGS.dag_id} {args.date}: {state}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
