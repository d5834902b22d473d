"""Turn a DataFrame or array into the FP32 [batch, n_features] tensor Triton expects, or say why not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import BadInputError

Batch = np.ndarray[Any, np.dtype[np.float32]]
InputData = pd.DataFrame | np.ndarray[Any, Any] | Sequence[Sequence[float]]


def to_batch(data: InputData, features: Sequence[str], max_batch_size: int | None = None) -> Batch:
    """A C-contiguous float32 [rows, len(features)] array.

    DataFrames are matched by column name (extra columns are ignored, missing ones are an error);
    arrays and nested lists must already be [rows, n_features] and numeric.
    """
    n_features = len(features)
    if isinstance(data, pd.DataFrame):
        missing = [name for name in features if name not in data.columns]
        if missing:
            raise BadInputError(f"missing feature column(s) {missing}; the model expects {list(features)}")
        frame = data.loc[:, list(features)]
        non_numeric = [str(name) for name, dtype in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
        if non_numeric:
            raise BadInputError(f"feature column(s) {non_numeric} are not numeric; the model expects FP32 numbers")
        values: np.ndarray[Any, Any] = frame.to_numpy()
    else:
        values = np.asarray(data)
        if values.dtype.kind not in "biuf":
            raise BadInputError(f"input dtype {values.dtype} is not numeric; the model expects FP32 numbers")
    if values.ndim == 1 and values.shape[0] == n_features:
        values = values.reshape(1, -1)
    if values.ndim != 2 or values.shape[1] != n_features:
        raise BadInputError(f"input shape {list(values.shape)} does not match [batch, {n_features}] ({list(features)})")
    if values.shape[0] == 0:
        raise BadInputError("empty batch: send at least one row")
    if max_batch_size is not None and values.shape[0] > max_batch_size:
        raise BadInputError(
            f"batch of {values.shape[0]} rows exceeds the model's max_batch_size {max_batch_size}; "
            "split it (predict_many) or raise decisions.batching.max_batch_size"
        )
    return np.ascontiguousarray(values, dtype=np.float32)


def to_frame(batch: Batch, features: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(batch, columns=list(features))
