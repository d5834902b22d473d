"""The drift computation: Evidently's PSI per column, on the features or their summary statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .settings import DriftSettings

SUMMARY_STATISTICS = ("mean", "std", "min", "max", "zero_share", "l2_norm")
ANOMALY_RANGE_MARGIN = 0.1  # a value beyond the reference's [min, max] widened by 10% of the range is an anomaly
SAMPLE_SEED = 0
# PSI compares columns at this precision (without_float_noise): the model reads FP32 (about 7
# significant digits) and training logs the reference in FP32, so finer differences are representation
# noise, not drift
SIGNIFICANT_DIGITS = 6


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


def evidently_psi(
    reference: pd.DataFrame, current: pd.DataFrame, threshold: float, drift_share: float
) -> tuple[dict[str, float], float, bool, Any]:
    """Evidently 0.7 DataDriftPreset(method="psi"): per-column PSI, drifted share, dataset drift, snapshot."""
    from evidently import DataDefinition, Dataset, Report  # type: ignore[import-untyped]
    from evidently.presets import DataDriftPreset  # type: ignore[import-untyped]

    columns = list(reference.columns)
    definition = DataDefinition(numerical_columns=columns)
    report = Report([DataDriftPreset(method="psi", threshold=threshold, drift_share=drift_share)], include_tests=True)
    # The preset also correlates the columns for its report; a constant column (an image summary's
    # min) has no correlation, and numpy would print "invalid value encountered in divide" for it.
    with np.errstate(invalid="ignore"):
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


def without_float_noise(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames rounded, column by column, to SIGNIFICANT_DIGITS of the column's largest value.

    A column that is constant up to floating-point noise (the mean of a normalised audio clip:
    0.0625 +- 1 ulp, or +- 1e-9 from the FP32 reference) has a range of a few ulps, which numpy cannot
    cut into Evidently's bins ("Too many bins for data range"), or bins the reference's FP32 noise
    apart from the served FP64 values (PSI 6.9 on identical audio); rounded, it is constant, which
    bins fine. Both frames share one scale per column, so rounding never creates a difference
    between them."""
    reference, current = reference.copy(), current.copy()
    for name in reference.columns:
        with np.errstate(invalid="ignore", all="ignore"):
            magnitude = np.nanmax(np.abs(np.concatenate([reference[name].to_numpy(), current[name].to_numpy()])))
        if not np.isfinite(magnitude) or magnitude == 0:
            continue
        decimals = SIGNIFICANT_DIGITS - int(np.ceil(np.log10(magnitude)))
        reference[name] = reference[name].round(decimals)
        current[name] = current[name].round(decimals)
    return reference, current


def compute(reference: pd.DataFrame, current: pd.DataFrame, settings: DriftSettings) -> DriftResult:
    ref_columns, cur_columns = without_float_noise(
        drift_columns(cap_rows(reference, settings.max_rows), settings),
        drift_columns(cap_rows(current, settings.max_rows), settings),
    )
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
