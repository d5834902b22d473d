"""Command line for the data layer (the make targets call it).

python -m <package>.data.cli env                      print the local Airflow environment
python -m <package>.data.cli airflow-init             `airflow db migrate` in local.airflow_home
python -m <package>.data.cli etl --date 2026-03-01    run the ETL DAG for that day with dag.test()
python -m <package>.data.cli sample --date 2026-03-01 --out rows.parquet
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..config import local_path, platform
from .sample import generate
from .settings import DataSettings, load_settings


def airflow_env(settings: DataSettings | None = None) -> dict[str, str]:
    """Environment for Airflow on the local profile: home, DAGs folder, logs, no examples."""
    current = settings or load_settings()
    return {
        "AIRFLOW_HOME": str(local_path("airflow_home")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(current.root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(local_path("logs") / "airflow"),
        "FEAST_USAGE": "False",
        "PLATFORM_CONFIG": str(platform().path),
    }


def _run(command: list[str], env: dict[str, str]) -> int:
    return subprocess.run(command, env={**os.environ, **env}, check=False).returncode


def airflow_init(env: dict[str, str]) -> int:
    """Create or upgrade the Airflow metadata database (SQLite in the local profile)."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    return _run([str(airflow), "db", "migrate"], env)


def _day(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="data", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="print the local Airflow environment as export lines")
    commands.add_parser("airflow-init", help="airflow db migrate in local.airflow_home")
    etl = commands.add_parser("etl", help="run the ETL DAG for one day with dag.test()")
    etl.add_argument("--date", required=True, help="the day to load, e.g. 2026-03-01")
    etl.add_argument("--source-file", default=None, help="load this Parquet/CSV file instead of the source")
    sample = commands.add_parser("sample", help="write one day of sample rows")
    sample.add_argument("--date", required=True)
    sample.add_argument("--out", required=True)
    sample.add_argument("--rows", type=int, default=None)
    args = parser.parse_args(argv)

    settings = load_settings()
    env = airflow_env(settings)
    if args.command == "env":
        print("\n".join(f"export {key}={value}" for key, value in env.items()))
        return 0
    if args.command == "airflow-init":
        return airflow_init(env)
    if args.command == "etl":
        command = [sys.executable, str(settings.root / "dags" / "etl_dag.py"), "--date", args.date]
        if not (Path(env["AIRFLOW_HOME"]) / "airflow.db").is_file():
            Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
            command.append("--migrate-db")
        if args.source_file:
            command += ["--source-file", str(Path(args.source_file).resolve())]
        return _run(command, env)
    # sample (the last command)
    start = _day(args.date)
    frame = generate(
        settings.family,
        start,
        start + timedelta(days=1),
        rows=args.rows or settings.sample_rows,
        entities=settings.sample_entities,
        seed=settings.seed,
        dirty_share=settings.dirty_share,
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(args.out, index=False)
    print(f"{len(frame)} rows of {settings.family.name} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
