"""The training set: features and label from the feature store, checked, split and written to disk.

The checks turn bad input into one clear TrainingError before anything is trained or registered:
an empty set, a missing feature or label column, a label with a single class, too few rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import Platform
from .errors import TrainingError
from .settings import FamilyContract, TrainingSettings, load_settings
from .source import load_frame

TIMESTAMP_COLUMNS = ("event_timestamp", "timestamp", "event_time", "ts")
LABEL = "label"
TRAIN_FILE = "train.parquet"
TEST_FILE = "test.parquet"
SNAPSHOT_FILE = "snapshot.json"

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TrainingSet:
    """A checked, split training set: float32 features in contract.yaml order, encoded labels."""

    contract: FamilyContract
    train: pd.DataFrame
    test: pd.DataFrame
    snapshot: dict[str, Any]

    def x_train(self) -> FloatArray:
        return features_array(self.train, self.contract)

    def x_test(self) -> FloatArray:
        return features_array(self.test, self.contract)

    def y_train(self) -> npt.NDArray[Any]:
        return self.train[LABEL].to_numpy()

    def y_test(self) -> npt.NDArray[Any]:
        return self.test[LABEL].to_numpy()


def features_array(frame: pd.DataFrame, contract: FamilyContract) -> FloatArray:
    """The model input: FP32 [rows, len(features)], columns in contract.yaml order."""
    return np.ascontiguousarray(frame[list(contract.features)].to_numpy(dtype=np.float32))


def timestamp_column(frame: pd.DataFrame) -> str | None:
    for name in TIMESTAMP_COLUMNS:
        if name in frame.columns:
            return name
    return None


def _encode_labels(values: pd.Series, contract: FamilyContract, source: str) -> pd.Series:
    """Class names or codes -> codes 0..n-1 (classification); floats (regression)."""
    if not contract.is_classifier:
        try:
            return values.astype("float64")
        except (TypeError, ValueError) as error:
            raise TrainingError(f"{source}: label '{contract.label}' is not numeric ({error})") from error
    names = {name: code for code, name in enumerate(contract.classes)}
    distinct = set(values.unique().tolist())
    if distinct <= set(names):
        return values.map(names).astype("int64")
    try:
        codes = values.astype("int64")
    except (TypeError, ValueError):
        codes = None
    if codes is not None and set(codes.unique().tolist()) <= set(range(len(contract.classes))):
        return codes
    shown = sorted(str(value) for value in distinct)[:10]
    raise TrainingError(
        f"{source}: label '{contract.label}' holds {shown}, which are neither the classes "
        f"{list(contract.classes)} nor their codes 0..{len(contract.classes) - 1} (contract.yaml)"
    )


def check_frame(frame: pd.DataFrame, contract: FamilyContract, *, source: str, min_rows: int) -> pd.DataFrame:
    """The frame reduced to timestamp, features and encoded label; TrainingError on bad input."""
    if frame.empty:
        raise TrainingError(
            f"{source}: the training set is empty (0 rows); generate and materialize the sample data "
            "first (the data layer's `make data`) or widen the time range"
        )
    missing = [name for name in (*contract.features, contract.label) if name not in frame.columns]
    if missing:
        raise TrainingError(
            f"{source}: the training set lacks column(s) {missing} that contract.yaml requires for "
            f"family '{contract.family}' (features {list(contract.features)}, label '{contract.label}')"
        )
    ts = timestamp_column(frame)
    columns = [*([ts] if ts else []), *contract.features, contract.label]
    checked = frame[columns].copy()
    non_numeric = [name for name in contract.features if not pd.api.types.is_numeric_dtype(checked[name])]
    if non_numeric:
        raise TrainingError(f"{source}: feature column(s) {non_numeric} are not numeric")
    checked = checked.dropna(subset=[*contract.features, contract.label])
    if len(checked) < min_rows:
        raise TrainingError(
            f"{source}: only {len(checked)} complete row(s) of {len(frame)} (rows with a missing feature or "
            f"label are dropped); training needs at least {min_rows} (training.dataset.min_rows)"
        )
    checked[LABEL] = _encode_labels(checked[contract.label], contract, source)
    if contract.is_classifier:
        present = sorted(checked[LABEL].unique().tolist())
        if len(present) < 2:
            only = contract.classes[present[0]] if present else "none"
            raise TrainingError(
                f"{source}: label '{contract.label}' has a single class ('{only}') in {len(checked)} rows; "
                "a classifier needs at least two classes to learn from"
            )
    if contract.label != LABEL:
        checked = checked.drop(columns=[contract.label])
    return checked.reset_index(drop=True)


def split(
    frame: pd.DataFrame, contract: FamilyContract, *, test_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Held-out split: the newest rows by event time when there is a timestamp (the model is judged
    on the future it will serve), else a seeded shuffle. Classification falls back to the shuffle
    when the newest rows miss a class."""
    n_test = max(1, round(len(frame) * test_fraction))
    ts = timestamp_column(frame)
    if ts is not None:
        ordered = frame.sort_values(ts, kind="stable").reset_index(drop=True)
        train, test = ordered.iloc[:-n_test], ordered.iloc[-n_test:]
        if not contract.is_classifier or (train[LABEL].nunique() >= 2 and test[LABEL].nunique() >= 2):
            return train.reset_index(drop=True), test.reset_index(drop=True), f"time ({ts})"
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return shuffled.iloc[n_test:].reset_index(drop=True), shuffled.iloc[:n_test].reset_index(drop=True), "random"


def make_training_set(
    frame: pd.DataFrame, settings: TrainingSettings, *, source: str, extra: dict[str, Any] | None = None
) -> TrainingSet:
    """Check and split `frame`; the snapshot records where it came from and what it holds."""
    contract = settings.contract
    checked = check_frame(frame, contract, source=source, min_rows=settings.min_rows)
    train, test, how = split(checked, contract, test_fraction=settings.test_fraction, seed=settings.seed)
    ts = timestamp_column(checked)
    snapshot: dict[str, Any] = {
        "source": source,
        "feature_service": source,
        "family": contract.family,
        "features": list(contract.features),
        "label": contract.label,
        "start": str(checked[ts].min()) if ts else None,
        "end": str(checked[ts].max()) if ts else None,
        "rows": len(frame),
        "rows_used": len(checked),
        "rows_dropped": len(frame) - len(checked),
        "train_rows": len(train),
        "test_rows": len(test),
        "split": how,
        **(extra or {}),
    }
    if contract.is_classifier:
        counts = checked[LABEL].value_counts().sort_index()
        snapshot["class_counts"] = {
            contract.classes[int(code)]: int(n) for code, n in zip(counts.index.tolist(), counts.tolist(), strict=True)
        }
    return TrainingSet(contract=contract, train=train, test=test, snapshot=snapshot)


def write_training_set(training_set: TrainingSet, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    training_set.train.to_parquet(folder / TRAIN_FILE, index=False)
    training_set.test.to_parquet(folder / TEST_FILE, index=False)
    (folder / SNAPSHOT_FILE).write_text(json.dumps(training_set.snapshot, indent=2, default=str), encoding="utf-8")


def read_training_set(folder: Path, contract: FamilyContract) -> TrainingSet:
    if not (folder / SNAPSHOT_FILE).is_file():
        raise TrainingError(f"{folder}: no training set here (expected {TRAIN_FILE}, {TEST_FILE}, {SNAPSHOT_FILE})")
    snapshot: dict[str, Any] = json.loads((folder / SNAPSHOT_FILE).read_text(encoding="utf-8"))
    return TrainingSet(
        contract=contract,
        train=pd.read_parquet(folder / TRAIN_FILE),
        test=pd.read_parquet(folder / TEST_FILE),
        snapshot=snapshot,
    )


def build_training_set(out_dir: Path, platform_: Platform | None = None) -> dict[str, Any]:
    """Step 1: read the training frame (Feast training feature service), check it, split it, write it."""
    settings = load_settings(platform_)
    frame, source, extra = load_frame(settings)
    training_set = make_training_set(frame, settings, source=source, extra=extra)
    write_training_set(training_set, out_dir)
    return training_set.snapshot
