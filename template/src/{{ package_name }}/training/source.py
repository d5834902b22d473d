"""Where the training frame comes from: the data layer's Feast training feature service.

$TRAINING_SET_PARQUET (a Parquet file) replaces the feature store, e.g. to train on a frame you
prepared by hand or to test the checks on bad input; the snapshot records which source was used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import TrainingError
from .settings import TrainingSettings

FRAME_ENV = "TRAINING_SET_PARQUET"


def load_frame(settings: TrainingSettings) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    """(frame, source name, extra snapshot fields)."""
    override = os.environ.get(FRAME_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise TrainingError(f"${FRAME_ENV}={override}: no such file")
        return pd.read_parquet(path), f"parquet:{path}", {}
    return _from_feature_store(settings)


def _from_feature_store(settings: TrainingSettings) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    """Every (entity, event_timestamp) of the offline store through the training feature service."""
    try:
        from ..data.settings import load_settings as data_settings
        from ..features.definitions import names
        from ..features.store import training_frame
    except ModuleNotFoundError as error:
        raise TrainingError(
            f"the feature store is not installed ({error}); run `make setup-all`, or set ${FRAME_ENV} to a "
            "Parquet file with the features and the label"
        ) from error
    data = data_settings(settings.platform)
    service = names(data.family)["training"]
    try:
        frame = training_frame(settings=data)
    except Exception as error:  # Feast raises many types; the message says what to run
        raise TrainingError(
            f"reading the training feature service '{service}' failed: {error}; load data first "
            "(`make etl`, which validates, writes the offline store and materializes)"
        ) from error
    return frame, f"feast:{service}", {"feature_service": service}
