"""Deterministic, realistic sample data per family: the local profile's source.

Each family's label depends on its features (with noise), so a trained model beats the trivial
baseline of contract.yaml. The same (seed, interval) always gives the same rows. A small share of
planted bad rows (`dirty_share`: nulls, out-of-range values, duplicate keys) exercises quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..contract import EVENT_TIMESTAMP, Family
from ..features.text import BUCKETS, bucket
from ..tasks.heads.vocabulary import COMMON_WORDS, TOPIC_WORDS

Array = np.ndarray[Any, Any]
ENTITY_OFFSET = 1000
Generator = Callable[[Family, np.random.Generator, datetime, datetime, int, int, int], pd.DataFrame]


def _sigmoid(x: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _times(rng: np.random.Generator, start: datetime, end: datetime, rows: int) -> Array:
    span = max(1, int((end - start).total_seconds()))
    return np.asarray(rng.integers(0, span, rows))


def _unique_ids(start: datetime, rows: int) -> Array:
    """Ids of one-off items (documents, images, clips): unique across days (10M per day)."""
    day_number = int(pd.Timestamp(start).timestamp()) // 86_400
    return np.asarray(ENTITY_OFFSET + day_number * 10_000_000 + np.arange(rows))


def _frame(family: Family, entity: Array, start: datetime, seconds: Array, values: dict[str, Array]) -> pd.DataFrame:
    stamps = pd.Timestamp(start).tz_convert("UTC") + pd.to_timedelta(seconds, unit="s")
    frame = pd.DataFrame({family.entity: entity.astype("int64"), EVENT_TIMESTAMP: stamps})
    for column in family.features:
        frame[column] = values[column].astype("float64")
    label = values[family.label]
    frame[family.label] = label.astype("int64") if family.is_classification else label.astype("float64")
    return frame


def _tabular(
    family: Family, rng: np.random.Generator, start: datetime, end: datetime, rows: int, entities: int, seed: int
) -> pd.DataFrame:
    traits = np.random.default_rng([seed, 1])
    tenure0 = traits.integers(0, 72, entities)
    contract = traits.choice([1, 12, 24], size=entities, p=[0.5, 0.3, 0.2])
    charges0 = np.clip(traits.normal(70, 30, entities), 15, 200)
    usage0 = traits.gamma(2.0, 60.0, entities)
    who = rng.integers(0, entities, rows)
    seconds = _times(rng, start, end, rows)
    months_since_2026 = (pd.Timestamp(start).tz_convert("UTC") - pd.Timestamp("2026-01-01", tz="UTC")).days // 30
    tenure = np.clip(tenure0[who] + max(0, months_since_2026), 0, 120)
    charges = np.clip(charges0[who] + rng.normal(0, 2, rows), 0, 500)
    calls = np.clip(rng.poisson(0.6 + 1.4 * (contract[who] == 1), rows), 0, 50)
    usage = np.clip(usage0[who] * rng.lognormal(0, 0.2, rows), 0, 2000)
    late = np.clip(rng.poisson(0.3 + 1.2 * (charges > 100), rows), 0, 24)
    logit = (
        -1.6
        + 1.6 * (contract[who] == 1)
        - 0.035 * tenure
        + 0.45 * calls
        + 0.55 * late
        + 0.012 * (charges - 70)
        - 0.003 * usage
    )
    churned = rng.random(rows) < _sigmoid(logit)
    values = {
        "tenure_months": tenure,
        "monthly_charges": np.round(charges, 2),
        "support_calls": calls,
        "usage_gb": np.round(usage, 2),
        "late_payments": late,
        "contract_months": contract[who],
        "churned": churned,
    }
    return _frame(family, ENTITY_OFFSET + who, start, seconds, values)


def _demand(series: Array, hours: Array, level: Array) -> Array:
    """Hourly demand: daily and weekly seasonality plus deterministic noise, per series."""
    hour_of_day = hours % 24
    weekday = ((hours // 24) + 3) % 7  # 1970-01-01 was a Thursday (3)
    noise = np.modf(np.sin(series * 78.233 + (hours % 100_000) * 12.9898) * 43758.5453)[0]
    shape = 1.0 + 0.6 * np.sin(2 * np.pi * (hour_of_day - 6) / 24) + 0.2 * (weekday < 5)
    return np.asarray(np.clip(level * shape * (1.0 + 0.1 * noise), 0, 10000))


def _time_series(
    family: Family, rng: np.random.Generator, start: datetime, end: datetime, rows: int, entities: int, seed: int
) -> pd.DataFrame:
    first_hour = int(pd.Timestamp(start).tz_convert("UTC").timestamp()) // 3600
    hours_in_interval = max(1, int((end - start).total_seconds()) // 3600)
    count = max(1, min(entities, rows // hours_in_interval))
    level = np.random.default_rng([seed, 2]).uniform(20, 400, count)
    offsets = np.arange(-24, hours_in_interval + 1)
    series = np.arange(count)[:, None]
    grid = _demand(series, first_hour + offsets[None, :], level[:, None])
    at = np.arange(24, 24 + hours_in_interval)  # column index of each hour in the interval
    values = {
        "lag_1": grid[:, at - 1],
        "lag_2": grid[:, at - 2],
        "lag_24": grid[:, at - 24],
        "rolling_mean_24": np.stack([grid[:, at - k] for k in range(1, 25)]).mean(axis=0),
        "hour_of_day": np.broadcast_to((first_hour + offsets[at]) % 24, (count, hours_in_interval)),
        "day_of_week": np.broadcast_to(((first_hour + offsets[at]) // 24 + 3) % 7, (count, hours_in_interval)),
        "demand_next_hour": grid[:, at + 1],
    }
    flat = {key: np.asarray(value).reshape(-1) for key, value in values.items()}
    entity = np.repeat(np.arange(count), hours_in_interval)
    seconds = np.tile(np.arange(hours_in_interval) * 3600, count)
    return _frame(family, ENTITY_OFFSET + entity, start, seconds, flat)


def _recommendations(
    family: Family, rng: np.random.Generator, start: datetime, end: datetime, rows: int, entities: int, seed: int
) -> pd.DataFrame:
    traits = np.random.default_rng([seed, 3])
    items = max(50, entities // 2)
    activity = np.clip(traits.lognormal(3, 0.8, entities), 0, 10000)
    user_rate = traits.beta(2, 8, entities)
    popularity = np.clip(traits.lognormal(6, 1, items), 1, 1_000_000)
    item_rate = traits.beta(2, 10, items)
    user = rng.integers(0, entities, rows)
    item = rng.choice(items, size=rows, p=popularity / popularity.sum())
    logit = -5.2 + 9.0 * user_rate[user] + 11.0 * item_rate[item] + 0.15 * np.log(popularity[item])
    values = {
        "user_id_code": user,
        "item_id_code": item,
        "user_activity": np.round(activity[user]),
        "user_click_rate": user_rate[user],
        "item_popularity": np.round(popularity[item]),
        "item_click_rate": item_rate[item],
        "clicked": rng.random(rows) < _sigmoid(logit),
    }
    return _frame(family, ENTITY_OFFSET + user, start, _times(rng, start, end, rows), values)


def _hashed_text(
    family: Family, rng: np.random.Generator, start: datetime, end: datetime, rows: int, entities: int, seed: int
) -> pd.DataFrame:
    del entities, seed
    classes = list(family.classes)
    per_class = min(len(TOPIC_WORDS[name]) for name in classes)
    vocab = [word for name in classes for word in TOPIC_WORDS[name][:per_class]] + list(COMMON_WORDS)
    buckets = np.array([bucket(word) for word in vocab])
    label = rng.integers(0, len(classes), rows)
    length = rng.integers(6, 21, rows)
    width = 20
    topical = rng.random((rows, width)) < 0.6
    own = label[:, None] * per_class + rng.integers(0, per_class, (rows, width))
    common = len(classes) * per_class + rng.integers(0, len(COMMON_WORDS), (rows, width))
    token = np.where(topical, own, common)
    used = np.arange(width)[None, :] < length[:, None]
    row_index = np.broadcast_to(np.arange(rows)[:, None], (rows, width))[used]
    flat = np.bincount(row_index * BUCKETS + buckets[token[used]], minlength=rows * BUCKETS)
    counts = flat.reshape(rows, BUCKETS)
    values: dict[str, Array] = {column: counts[:, index] for index, column in enumerate(family.features)}
    values[family.label] = label
    return _frame(family, _unique_ids(start, rows), start, _times(rng, start, end, rows), values)


def _shape_templates() -> list[list[Array]]:
    """8x8 templates per shape (circle, square, triangle, cross) at several positions and sizes."""
    yy, xx = np.mgrid[0:8, 0:8]
    templates: list[list[Array]] = [[], [], [], []]
    for size in (2, 3):
        for cy in (3, 3.5, 4):
            for cx in (3, 3.5, 4):
                ring = np.abs(np.hypot(yy - cy, xx - cx) - size) < 0.7
                square = (np.maximum(np.abs(yy - cy), np.abs(xx - cx)) <= size) & (
                    np.maximum(np.abs(yy - cy), np.abs(xx - cx)) > size - 1
                )
                top = cy - size
                triangle = (yy >= top) & (yy <= cy + size) & (np.abs(xx - cx) <= (yy - top) / 2 + 0.5)
                cross = ((np.abs(yy - cy) < 0.6) | (np.abs(xx - cx) < 0.6)) & (
                    np.maximum(np.abs(yy - cy), np.abs(xx - cx)) <= size
                )
                for index, mask in enumerate((ring, square, triangle, cross)):
                    templates[index].append(mask.astype("float64").reshape(-1))
    return templates


def _vision(
    family: Family, rng: np.random.Generator, start: datetime, end: datetime, rows: int, entities: int, seed: int
) -> pd.DataFrame:
    del entities, seed
    templates = _shape_templates()
    stacked = np.stack([np.stack(group) for group in templates])  # shape, variant, pixel
    label = rng.integers(0, len(family.classes), rows)
    variant = rng.integers(0, stacked.shape[1], rows)
    brightness = rng.uniform(0.6, 1.0, (rows, 1))
    pixels = np.clip(stacked[label, variant] * brightness + rng.normal(0, 0.12, (rows, 64)), 0, 1)
    values: dict[str, Array] = {column: pixels[:, index] for index, column in enumerate(family.features)}
    values[family.label] = label
    return _frame(family, _unique_ids(start, rows), start, _times(rng, start, end, rows), values)


def _audio(
    family: Family, rng: np.random.Generator, start: datetime, end: datetime, rows: int, entities: int, seed: int
) -> pd.DataFrame:
    del entities, seed
    bands = np.arange(16)
    label = rng.integers(0, len(family.classes), rows)
    floor = rng.gamma(2.0, 0.05, (rows, 16))  # background noise floor in every band
    centre = rng.uniform(2, 5, rows)[:, None]
    speech = np.exp(-((bands[None, :] - centre) ** 2) / 4.0) * rng.uniform(0.5, 1.5, (rows, 16))
    fundamental = rng.integers(1, 4, rows)[:, None]
    music = ((bands[None, :] % fundamental) == 0) * rng.uniform(0.6, 1.0, (rows, 1))
    noise = rng.uniform(0.3, 0.5, (rows, 16))
    alarm_band = rng.integers(10, 14, rows)[:, None]
    alarm = (bands[None, :] == alarm_band) * rng.uniform(2.0, 4.0, (rows, 1))
    profiles = np.stack([speech, music, noise, alarm], axis=1)  # row, class, band
    raw = floor + profiles[np.arange(rows), label]
    energy = raw / raw.sum(axis=1, keepdims=True)
    values: dict[str, Array] = {column: energy[:, index] for index, column in enumerate(family.features)}
    values[family.label] = label
    return _frame(family, _unique_ids(start, rows), start, _times(rng, start, end, rows), values)


GENERATORS: dict[str, Generator] = {
    "tabular": _tabular,
    "time_series": _time_series,
    "recommendations": _recommendations,
    "text": _hashed_text,
    "generation": _hashed_text,
    "vision": _vision,
    "audio": _audio,
}


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
    frame = GENERATORS[family.name](family, rng, start, end, rows, entities, seed)
    frame = frame.drop_duplicates([family.entity, EVENT_TIMESTAMP]).sort_values(EVENT_TIMESTAMP, kind="stable")
    frame = frame.reset_index(drop=True)
    return _plant_bad_rows(frame, family, rng, dirty_share)


def day(start: datetime) -> tuple[datetime, datetime]:
    """The one-day interval starting at `start`."""
    return start, start + timedelta(days=1)
