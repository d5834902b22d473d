"""The drift job: PSI of the inference log's window against the champion's training data.

Run it with `python -m <package>.monitoring.drift` (`make drift`; the CLI is __main__.py). One
module per concept: settings (platform.yaml), status (exit statuses), inputs (MLflow reference,
Parquet), validation, computation (Evidently PSI), reports and state (files), tracking (MLflow),
samples (Prometheus), retrain (the retrain decision) and job (one run, all of them in order).
The names below are the job's API for the DAGs and the smoke run.
"""

from .job import Outcome, run
from .retrain import retrain_due
from .settings import DriftSettings
from .status import (
    EXIT_BAD_FEATURES,
    EXIT_CONFIG,
    EXIT_DRIFT,
    EXIT_EMPTY_WINDOW,
    EXIT_FAILED,
    EXIT_NO_REFERENCE,
    EXIT_OK,
    EXIT_SMALL_WINDOW,
    STATUS_NAMES,
    DriftJobError,
)

__all__ = [
    "EXIT_BAD_FEATURES",
    "EXIT_CONFIG",
    "EXIT_DRIFT",
    "EXIT_EMPTY_WINDOW",
    "EXIT_FAILED",
    "EXIT_NO_REFERENCE",
    "EXIT_OK",
    "EXIT_SMALL_WINDOW",
    "STATUS_NAMES",
    "DriftJobError",
    "DriftSettings",
    "Outcome",
    "retrain_due",
    "run",
]
