"""Deterministic, realistic sample data of the project's family: the local profile's source.

The family's rows come from its module in data/samples/ (`samples/<family>.py`, rendered for this
project's family only; its `sample_rows` builds the frame with the helpers here). The label depends
on the features (with noise), so a trained model beats the trivial baseline of contract.yaml. The
same (seed, interval) always gives the same rows. A small share of planted bad rows (`dirty_share`:
nulls, out-of-range values, duplicate keys) exercises quarantine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..contract import EVENT_TIMESTAMP, Family, project_family

Array = np.ndarray[Any, Any]
ENTITY_OFFSET = 1000
Generator = Callable[[Family, np.random.Generator, datetime, datetime, int, int, int], pd.DataFrame]


def generator_for(family: Family) -> Generator:
    """`sample_rows` of data/samples/<family>.py; ValueError when the project holds no such module."""
    try:
        module = importlib.import_module(f"{__package__}.samples.{family.name}")
    except ModuleNotFoundError as missing:
        if missing.name != f"{__package__}.samples.{family.name}":
            raise
        raise ValueError(
            f"no sample data for family {family.name!r}: data/samples/ holds the generator of family "
            f"{project_family().name!r} only, the family this project was rendered for"
        ) from missing
    generator: Generator = module.sample_rows
    return generator


def sigmoid(x: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def event_seconds(rng: np.random.Generator, start: datetime, end: datetime, rows: int) -> Array:
    span = max(1, int((end - start).total_seconds()))
    return np.asarray(rng.integers(0, span, rows))


def unique_ids(start: datetime, rows: int) -> Array:
    """Ids of one-off items (documents, images, clips): unique across days (10M per day)."""
    day_number = int(pd.Timestamp(start).timestamp()) // 86_400
    return np.asarray(ENTITY_OFFSET + day_number * 10_000_000 + np.arange(rows))


def build_frame(
    family: Family, entity: Array, start: datetime, seconds: Array, values: dict[str, Array]
) -> pd.DataFrame:
    stamps = pd.Timestamp(start).tz_convert("UTC") + pd.to_timedelta(seconds, unit="s")
    frame = pd.DataFrame({family.entity: entity.astype("int64"), EVENT_TIMESTAMP: stamps})
    for column in family.features:
        frame[column] = values[column].astype("float64")
    label = values[family.label]
    frame[family.label] = label.astype("int64") if family.is_classification else label.astype("float64")
    return frame


def _plant_bad_rows(frame: pd.DataFrame, family: Family, rng: np.random.Generator, share: float) -> pd.DataFrame:
    count = round(len(frame) * share)
    if count == 0 or len(frame) < 2:
        return frame
    frame = frame.copy()
    picked = rng.choice(len(frame), size=count, replace=False)
    kinds = rng.integers(0, 3, count)
    columns = rng.choice(list(family.features), size=count)
    for row, kind, column in zip(picked.tolist(), kinds.tolist(), columns.tolist(), strict=True):
        if kind == 0:
            frame.loc[row, column] = np.nan
        elif kind == 1:
            frame.loc[row, column] = family.range_of(str(column))[0] - 1
        else:
            other = (row + 1) % len(frame)
            frame.loc[row, family.entity] = frame.loc[other, family.entity]
            frame.loc[row, EVENT_TIMESTAMP] = frame.loc[other, EVENT_TIMESTAMP]
    return frame


def generate(
    family: Family,
    start: datetime,
    end: datetime,
    *,
    rows: int = 2000,
    entities: int = 500,
    seed: int = 42,
    dirty_share: float = 0.0,
) -> pd.DataFrame:
    """Rows of `family` with event times in [start, end): entity, event_timestamp, features, label."""
    if end <= start:
        raise ValueError(f"empty interval: {start} .. {end}")
    rng = np.random.default_rng([seed, int(pd.Timestamp(start).timestamp())])
    frame = generator_for(family)(family, rng, start, end, rows, entities, seed)
    frame = frame.drop_duplicates([family.entity, EVENT_TIMESTAMP]).sort_values(EVENT_TIMESTAMP, kind="stable")
    frame = frame.reset_index(drop=True)
    return _plant_bad_rows(frame, family, rng, dirty_share)


def day(start: datetime) -> tuple[datetime, datetime]:
    """The one-day interval starting at `start`."""
    return start, start + timedelta(days=1)
