"""The drift job (`make drift`): PSI of the inference log's window against the champion's training data.

    python -m <package>.monitoring.drift [--start ISO] [--end ISO] [--window-hours H]
                                        [--reference PARQUET] [--current PARQUET]
                                        [--no-mlflow] [--no-alerts] [--json]

Reference: reference/features.parquet of the run behind the registered model's champion alias
(MLflow). Current: the inference log rows of the window (default: the last
monitoring.drift.window_hours hours). Evidently 0.7's DataDriftPreset with the PSI method and
decisions.monitoring.psi_threshold gives the PSI of every drift column; a column drifts when its
PSI >= the threshold (Evidently's rule). Image, audio and text families compare per-row summary
statistics of their features (computation.SUMMARY_STATISTICS) rather than every pixel, band or hash.

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
import json
import logging
import sys
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ...config import ConfigError, load
from .job import run
from .status import EXIT_CONFIG, EXIT_DRIFT, EXIT_FAILED, EXIT_OK, STATUS_NAMES


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
