"""Small learnable frames in a family's contract, for the training layer's own tests.

Not the sample data: `make train` reads the data layer's feature store. These frames exist so the
trainers, the checks and the registry logic can be tested in seconds without the data pipeline
(set $TRAINING_SET_PARQUET to a frame written from here to run the pipeline on one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .settings import FamilyContract


def frame(contract: FamilyContract, rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Entity, event_timestamp, the contract's features and a label that depends on them."""
    rng = np.random.default_rng(seed)
    n_features = len(contract.features)
    x = rng.normal(size=(rows, n_features))
    weights = rng.normal(size=n_features)
    if contract.family == "recommendations":
        users, items = rng.integers(0, 40, rows), rng.integers(0, 30, rows)
        taste_u, taste_i = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
        affinity = np.sum(taste_u[users] * taste_i[items], axis=1)
        x[:, contract.features.index("user_id_code")] = users
        x[:, contract.features.index("item_id_code")] = items
        signal = affinity + 0.5 * x[:, 2]
    else:
        signal = x @ weights / np.sqrt(n_features)
    if contract.task == "regression":
        label: np.ndarray = 10.0 + 3.0 * signal + rng.normal(scale=0.5, size=rows)
    elif contract.task == "binary":
        label = (signal + rng.normal(scale=0.5, size=rows) > 0).astype(np.int64)
    else:
        centres = rng.normal(scale=1.5, size=(len(contract.classes), n_features))
        label = rng.integers(0, len(contract.classes), rows)
        x = x + centres[label]
    data = pd.DataFrame(x.astype(np.float32), columns=list(contract.features))
    data.insert(0, "event_timestamp", pd.date_range("2026-01-01", periods=rows, freq="h", tz="UTC"))
    data.insert(0, contract.entity, np.arange(rows))
    data[contract.label] = label
    return data
