"""The drift job's exit statuses (documented in docs/monitoring.md) and the error that carries one."""

from __future__ import annotations

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


class DriftJobError(Exception):
    """A problem with the job's input: carries the exit status and a message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
