"""Checks of the drift job's inputs before PSI runs: window size, feature columns, values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .settings import DriftSettings
from .status import EXIT_BAD_FEATURES, EXIT_EMPTY_WINDOW, EXIT_NO_REFERENCE, EXIT_SMALL_WINDOW, DriftJobError


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
            "expects the columns of contract.yaml)",
        )
    empty = [name for name in settings.features if not np.isfinite(pd.to_numeric(frame[name], errors="coerce")).any()]
    if empty:
        raise DriftJobError(
            EXIT_BAD_FEATURES,
            f"feature(s) {', '.join(empty)} in the {side} hold no values (all null or non-finite); "
            "PSI is undefined. Check the serving client and the feature pipeline.",
        )
