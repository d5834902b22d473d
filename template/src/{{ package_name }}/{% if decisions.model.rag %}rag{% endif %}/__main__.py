"""`python -m <package>.rag ingest | ask QUESTION [--url URL | --served] | drift [--hours H]`

(make rag-ingest, make rag-ask, make rag-drift)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..data.cli import airflow_env, airflow_init
from .ingest import index_root
from .settings import load, root
from .store import StoreError, current_index

EXIT_DRIFT = 2


def check_drift(hours: float) -> int:
    """Print the PSI per column; exit EXIT_DRIFT when a column drifted (a scheduler can alert on it)."""
    from ..monitoring.text_drift import report_lines
    from .ingest import query_log_root
    from .monitoring import check

    rag = load()
    since = datetime.now(UTC) - timedelta(hours=hours)
    try:
        result = check(current_index(index_root(rag)), query_log_root(rag), since)
    except (StoreError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(report_lines(result, "questions")))
    return EXIT_DRIFT if result["drifted"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ingest", help="run the ingestion DAG once with dag.test()")
    ask = commands.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question")
    served = ask.add_mutually_exclusive_group()
    served.add_argument("--url", default=None, help="a Triton server (host:port, HTTP) instead of in-process")
    served.add_argument("--served", action="store_true", help="ask the Triton server `make serve` started")
    drift = commands.add_parser("drift", help="PSI of the logged questions against the index's reference")
    drift.add_argument("--hours", type=float, default=24.0, help="the window: questions logged this recently")
    args = parser.parse_args(argv)
    if args.command == "drift":
        return check_drift(args.hours)
    if args.command == "ingest":
        env = airflow_env()
        if not (Path(env["AIRFLOW_HOME"]) / "airflow.db").is_file() and airflow_init(env) != 0:
            return 1
        dag = root() / "dags" / "rag_ingest_dag.py"
        return subprocess.run([sys.executable, str(dag)], env={**os.environ, **env}, check=False).returncode
    if args.url or args.served:
        from ..serving.errors import ServerUnavailableError, ServingError
        from ..serving.settings import ServingSettings
        from .client import ask as ask_server

        url = args.url or ServingSettings.from_platform().running_url("http")
        try:
            result = ask_server(url, [args.question])[0]
        except ServingError as error:  # a server that does not answer, or one that refused the question
            down = ". Is the server up? Start it with `make serve`" if isinstance(error, ServerUnavailableError) else ""
            print(f"error: {error}{down}", file=sys.stderr)
            return 1
    else:
        from .service import RagService

        try:
            service = RagService.open(current_index(index_root(load())))
        except StoreError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        try:
            result = service.ask([args.question])[0].to_dict()
        finally:
            service.close()
    print(result["answer"])
    if result.get("fallback"):
        print(f"  (extractive: the generated answer was not served because {result['fallback']})")
    for citation in result["citations"]:
        print(f"  [{citation['marker']}] {citation['document']} > {citation['heading']} ({citation['chunk_id']})")
    print(json.dumps({"chunk_ids": result["chunk_ids"]}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
