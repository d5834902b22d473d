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

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

REFERENCE = "reference.parquet"  # in the index folder
PROJECTION = "projection.npz"  # mean and components of the reference embeddings
COMPONENTS = 4
LENGTH_COLUMNS = ("question_words", "question_chars")


@dataclass(frozen=True)
class Projection:
    mean: npt.NDArray[np.float32]
    components: npt.NDArray[np.float32]  # [COMPONENTS, dims]

    @classmethod
    def fit(cls, vectors: npt.NDArray[np.float32], count: int = COMPONENTS) -> Projection:
        """The first `count` principal components of the reference embeddings (SVD)."""
        mean = vectors.mean(axis=0)
        _, _, rows = np.linalg.svd(vectors - mean, full_matrices=False)
        return cls(mean.astype(np.float32), rows[:count].astype(np.float32))

    def apply(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray((vectors - self.mean) @ self.components.T, dtype=np.float32)

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, components=self.components)

    @classmethod
    def load(cls, path: Path) -> Projection:
        with np.load(path) as saved:
            return cls(saved["mean"], saved["components"])


def features(
    questions: Sequence[str], vectors: npt.NDArray[np.float32], projection: Projection, top_scores: Sequence[float]
) -> pd.DataFrame:
    """One row per question: lengths, the top retrieval score and the embedding's components."""
    projected = projection.apply(vectors)
    frame = pd.DataFrame(
        {
            "question_words": [len(question.split()) for question in questions],
            "question_chars": [len(question) for question in questions],
            "top_score": np.asarray(top_scores, dtype=np.float64),
        }
    )
    for index in range(projected.shape[1]):
        frame[f"embedding_pc{index + 1}"] = projected[:, index].astype(np.float64)
    return frame


def write_reference(folder: Path, questions: Sequence[str], vectors: npt.NDArray[np.float32]) -> pd.DataFrame:
    """The reference questions' columns (top_score left out: it needs the index) and the projection."""
    projection = Projection.fit(vectors)
    projection.save(folder / PROJECTION)
    frame = features(questions, vectors, projection, [np.nan] * len(questions)).drop(columns="top_score")
    frame.to_parquet(folder / REFERENCE, index=False)
    return frame


class QueryLog:
    """Parquet parts under `root/<YYYY-MM-DD>/`: one part per answered batch (no shared writer)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def append(self, frame: pd.DataFrame) -> Path:
        now = datetime.now(UTC)
        folder = self.root / now.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{now.strftime('%H%M%S%f')}-{uuid.uuid4().hex[:8]}.parquet"
        frame.assign(logged_at=now).to_parquet(path, index=False)
        return path

    def read(self, since: datetime | None = None) -> pd.DataFrame:
        parts = sorted(self.root.glob("*/part-*.parquet"))
        if not parts:
            return pd.DataFrame()
        frame = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
        return frame if since is None else frame[frame["logged_at"] >= pd.Timestamp(since)].reset_index(drop=True)


def drift(reference: pd.DataFrame, current: pd.DataFrame, threshold: float, drift_share: float) -> dict[str, Any]:
    """Evidently PSI per column the reference holds; the columns at or over `threshold` drifted."""
    from ..monitoring.drift.computation import evidently_psi, without_float_noise

    columns = [name for name in reference.columns if name in current.columns]
    if current.empty:
        raise ValueError("no logged questions in the window; ask some first (make rag-ask or the Triton model)")
    ref, cur = without_float_noise(reference[columns].astype(np.float64), current[columns].astype(np.float64))
    psi, share, dataset_drift, _ = evidently_psi(ref, cur, threshold, drift_share)
    return {
        "psi": psi,
        "drifted": sorted(name for name, value in psi.items() if value >= threshold),
        "share": share,
        "dataset_drift": dataset_drift,
        "rows": len(current),
        "reference_rows": len(reference),
    }


def thresholds(platform_: Any = None) -> tuple[float, float, int]:
    """The project's drift rule: PSI threshold (decisions.monitoring), drifted-column share and the
    smallest window judged (monitoring.drift, the same as the feature drift job's)."""
    from ..config import platform

    current = platform_ or platform()
    drift_section = dict(current.section("monitoring").get("drift", {}))
    return (
        float(current.decision("monitoring")["psi_threshold"]),
        float(drift_section.get("drift_share", 0.5)),
        int(drift_section.get("min_window_rows", 500)),
    )


def check(index_folder: Path, log_root: Path, since: datetime | None = None, platform_: Any = None) -> dict[str, Any]:
    """Drift of the logged questions since `since` against the served index's reference. A window
    below min_window_rows is computed but not judged (`judged` False, nothing drifted): PSI on a few
    hundred questions moves by more than the threshold from sampling alone."""
    threshold, share, min_rows = thresholds(platform_)
    reference = pd.read_parquet(index_folder / REFERENCE)
    result = drift(reference, QueryLog(log_root).read(since), threshold, share)
    judged = result["rows"] >= min_rows
    return {
        **result,
        "drifted": result["drifted"] if judged else [],
        "judged": judged,
        "threshold": threshold,
        "min_rows": min_rows,
    }
