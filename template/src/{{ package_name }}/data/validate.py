"""Validation before anything is written: schema, types, nulls, ranges, timestamps, duplicate keys.

Schema problems (empty input, a missing column, a column of the wrong type) fail at once. Row
problems send the row to quarantine with a reason; when the share of bad rows exceeds the
threshold (platform.yaml data.validation.anomaly_threshold) the whole interval fails, naming the
columns and counts, and nothing reaches the offline or online store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..contract import EVENT_TIMESTAMP, Family

REASON = "_reason"


class ValidationError(ValueError):
    """The interval's data is unusable; the message names the column(s) and the count."""


@dataclass(frozen=True)
class ValidationResult:
    valid: pd.DataFrame
    quarantined: pd.DataFrame  # the bad rows with a `_reason` column
    problems: dict[str, int] = field(default_factory=dict)  # "column: issue" -> rows

    @property
    def total(self) -> int:
        return len(self.valid) + len(self.quarantined)

    @property
    def invalid_share(self) -> float:
        return len(self.quarantined) / self.total if self.total else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.total,
            "valid": len(self.valid),
            "quarantined": len(self.quarantined),
            "invalid_share": round(self.invalid_share, 6),
            "problems": dict(self.problems),
        }


def _describe(problems: dict[str, int]) -> str:
    return ", ".join(f"{key}: {count}" for key, count in sorted(problems.items(), key=lambda item: -item[1]))


def check_schema(frame: pd.DataFrame, family: Family) -> None:
    """Fail on an empty frame, missing columns or wrongly typed columns."""
    if frame.shape[1] == 0 or len(frame) == 0:
        raise ValidationError(f"empty input: 0 rows (expected columns {', '.join(family.columns)})")
    missing = [column for column in family.columns if column not in frame.columns]
    if missing:
        raise ValidationError(f"missing column(s): {', '.join(missing)} ({len(missing)} of {len(family.columns)})")
    wrong: list[str] = []
    for column in (family.entity, *family.features, family.label):
        series = frame[column]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            bad = int(pd.to_numeric(series, errors="coerce").isna().sum() - series.isna().sum())
            wrong.append(f"{column} has type {series.dtype} ({bad} non-numeric values), expected a number")
    stamps = frame[EVENT_TIMESTAMP]
    if not pd.api.types.is_datetime64_any_dtype(stamps):
        wrong.append(f"{EVENT_TIMESTAMP} has type {stamps.dtype}, expected a timestamp")
    if wrong:
        raise ValidationError("wrong type: " + "; ".join(wrong))


def validate(
    frame: pd.DataFrame,
    family: Family,
    start: datetime,
    end: datetime,
    *,
    threshold: float = 0.05,
    now: datetime | None = None,
    max_clock_skew: timedelta = timedelta(minutes=5),
) -> ValidationResult:
    """Split `frame` into valid rows and quarantined rows; raise ValidationError when unusable."""
    check_schema(frame, family)
    frame = frame.reset_index(drop=True)
    raw_stamps = frame[EVENT_TIMESTAMP]
    if isinstance(raw_stamps.dtype, pd.DatetimeTZDtype):
        stamps = raw_stamps.dt.tz_convert("UTC")
    else:
        stamps = pd.to_datetime(raw_stamps, utc=True, cache=False)
    checks: list[tuple[str, np.ndarray]] = []
    problems: Counter[str] = Counter()

    def flag(mask: pd.Series | np.ndarray, column: str, issue: str) -> None:
        hits = np.asarray(mask, dtype=bool)
        count = int(hits.sum())
        if count:
            problems[f"{column}: {issue}"] += count
            checks.append((f"{column} {issue}", hits))

    for column in (family.entity, *family.features, family.label):
        values = frame[column].astype("float64")
        flag(values.isna(), column, "null")
        if column == family.entity:
            flag(values.notna() & (values != np.round(values)), column, "not an integer id")
            continue
        low, high = family.range_of(column)
        flag(values.notna() & ~values.between(low, high), column, f"outside [{low:g}, {high:g}]")
        if column == family.label and family.is_classification:
            flag(values.notna() & (values != np.round(values)), column, "not a class index")
    moment = pd.Timestamp(now or datetime.now(UTC))
    lower, upper = pd.Timestamp(start), pd.Timestamp(end)
    flag(stamps.isna(), EVENT_TIMESTAMP, "null")
    flag(stamps.notna() & ((stamps < lower) | (stamps >= upper)), EVENT_TIMESTAMP, "outside the data interval")
    flag(stamps.notna() & (stamps > moment + max_clock_skew), EVENT_TIMESTAMP, "in the future")
    keys = pd.DataFrame({"entity": frame[family.entity], "ts": stamps})
    duplicated = keys.duplicated(keep="first") & keys.notna().all(axis=1)
    flag(duplicated, f"{family.entity}+{EVENT_TIMESTAMP}", "duplicate key")

    bad = np.zeros(len(frame), dtype=bool)
    for _, hits in checks:
        bad |= hits
    bad_rows = np.flatnonzero(bad)
    reasons = ["; ".join(text for text, hits in checks if hits[row]) for row in bad_rows]
    quarantined = frame.loc[bad].copy()
    quarantined[REASON] = reasons
    valid = frame.loc[~bad].copy()
    valid[EVENT_TIMESTAMP] = stamps[~bad]
    valid[family.entity] = valid[family.entity].astype("int64")
    for column in family.features:
        valid[column] = valid[column].astype("float64")
    valid[family.label] = valid[family.label].astype("int64" if family.is_classification else "float64")
    result = ValidationResult(valid=valid.reset_index(drop=True), quarantined=quarantined, problems=dict(problems))
    if result.invalid_share > threshold:
        raise ValidationError(
            f"{len(quarantined)} of {len(frame)} rows invalid ({result.invalid_share:.1%}), above the "
            f"{threshold:.0%} threshold: {_describe(result.problems)}"
        )
    return result
