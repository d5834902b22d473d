"""Query monitoring: what people ask, against what the model was trained on, by PSI (Evidently).

Every question the service answers can be logged (Parquet under `<rag.index_dir>/query_log/`) with
its length in words and characters, the top retrieval score, and the question embedding projected
on the reference questions' first principal components. The reference is the training and
the questions the model was not fine-tuned on (validation and test: fine-tuning moves the training
questions' own embeddings), embedded by the same model at ingestion and stored in the index folder
with the projection, so a new champion brings its own reference. `drift()` runs Evidently's PSI on those
columns: a shift in question length or topic (the embedding components) shows up as drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..monitoring import text_drift
from ..monitoring.text_drift import Projection
from ..monitoring.text_drift import TextLog as QueryLog

# Projection and QueryLog are re-exported: the service and the tests use them through this module
__all__ = ["PROJECTION", "REFERENCE", "Projection", "QueryLog", "check", "features", "write_reference"]

REFERENCE = "reference.parquet"  # in the index folder
PROJECTION = "projection.npz"  # mean and components of the reference embeddings
LENGTH_COLUMNS = ("question_words", "question_chars")


def features(
    questions: Sequence[str], vectors: npt.NDArray[np.float32], projection: Projection, top_scores: Sequence[float]
) -> pd.DataFrame:
    """One row per question: lengths, the top retrieval score and the embedding's components."""
    frame = pd.DataFrame(
        {
            "question_words": [len(question.split()) for question in questions],
            "question_chars": [len(question) for question in questions],
            "top_score": np.asarray(top_scores, dtype=np.float64),
        }
    )
    return frame.assign(**projection.columns(vectors))


def write_reference(folder: Path, questions: Sequence[str], vectors: npt.NDArray[np.float32]) -> pd.DataFrame:
    """The reference questions' columns (top_score left out: it needs the index) and the projection."""
    projection = Projection.fit(vectors)
    projection.save(folder / PROJECTION)
    frame = features(questions, vectors, projection, [np.nan] * len(questions)).drop(columns="top_score")
    frame.to_parquet(folder / REFERENCE, index=False)
    return frame


def check(index_folder: Path, log_root: Path, since: datetime | None = None, platform_: Any = None) -> dict[str, Any]:
    """Drift of the logged questions since `since` against the served index's reference
    (monitoring.text_drift.check: judged only from monitoring.drift.min_window_rows questions)."""
    return text_drift.check(pd.read_parquet(index_folder / REFERENCE), QueryLog(log_root), since, platform_)
