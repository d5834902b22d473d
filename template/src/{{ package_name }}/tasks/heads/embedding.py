"""Embedding heads: face recognition (eigenfaces) and text embeddings (latent semantic analysis).

Both serve a vector per request instead of class scores, so neither calls the core model: the
smoke embedding is a linear projection fitted on the family's training features (PCA / LSA), and
the use case is judged by retrieval (does a query's nearest neighbour share its identity / topic?).
Both are evaluated against a random Gaussian projection of the same width (an embedding that
learned nothing), so "beats the baseline" means the fitted projection helps retrieval.
"""

from __future__ import annotations

from math import isqrt
from typing import Any

import numpy as np
import numpy.typing as npt

from . import (
    FLOAT_KINDS,
    TEXT_KINDS,
    Arrays,
    Core,
    FloatArray,
    Head,
    TaskEvaluation,
    decode_text,
    encode_text,
    l2_normalise,
    register,
    require_input,
)
from .text import hashed_counts
from .vocabulary import COMMON_WORDS, TOPIC_WORDS

# Retrieval protocol: per identity / topic a few enrolled gallery items, every other row a probe,
# averaged over a few random enrolments (one enrolment is noisy with only a handful per class).
GALLERY_PER_CLASS = 5
ROUNDS = 20
Float64Array = npt.NDArray[np.float64]


def top_components(matrix: npt.NDArray[np.floating[Any]], dims: int) -> tuple[Float64Array, Float64Array]:
    """The top `dims` right singular vectors [dims, d] and singular values [dims] of `matrix`.

    Padded with zero rows (and zero singular values) when the matrix has fewer than `dims`
    components, so the embedding width always matches the contract. Signs are fixed (largest
    loading positive) so a refit on the same rows gives the same vectors.
    """
    width = matrix.shape[1]
    components = np.zeros((dims, width), dtype=np.float64)
    singular = np.zeros(dims, dtype=np.float64)
    if matrix.shape[0] > 0:
        _, values, vt = np.linalg.svd(matrix, full_matrices=False)
        keep = min(dims, vt.shape[0])
        signs = np.sign(vt[np.arange(keep), np.argmax(np.abs(vt[:keep]), axis=1)])
        components[:keep] = vt[:keep] * np.where(signs == 0, 1.0, signs)[:, None]
        singular[:keep] = values[:keep]
    return components, singular


def retrieval_metrics(
    embeddings: npt.NDArray[np.floating[Any]], labels: npt.NDArray[np.int64], rng: np.random.Generator
) -> dict[str, float]:
    """Nearest-neighbour retrieval by cosine: enrol GALLERY_PER_CLASS items per class, query with the rest.

    recall_at_1: share of probes whose most similar gallery item has the probe's class.
    same_class_cosine / other_class_cosine: mean probe-gallery cosine within / across classes.
    Averaged over ROUNDS random enrolments. A class with a single row is enrolled, not queried.
    """
    vectors = l2_normalise(np.asarray(embeddings, dtype=np.float64))
    labels = np.asarray(labels, dtype=np.int64)
    totals = {"recall_at_1": 0.0, "same_class_cosine": 0.0, "other_class_cosine": 0.0}
    counted = dict.fromkeys(totals, 0)
    for _ in range(ROUNDS):
        gallery_parts: list[npt.NDArray[np.int64]] = []
        probe_parts: list[npt.NDArray[np.int64]] = []
        for label in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == label))
            enrolled = max(1, min(GALLERY_PER_CLASS, len(members) - 1))
            gallery_parts.append(members[:enrolled])
            probe_parts.append(members[enrolled:])
        if not probe_parts or sum(len(part) for part in probe_parts) == 0:
            break
        gallery, probes = np.concatenate(gallery_parts), np.concatenate(probe_parts)
        similarity = vectors[probes] @ vectors[gallery].T
        same = labels[probes][:, None] == labels[gallery][None, :]
        nearest = np.argmax(similarity, axis=1)
        values = {
            "recall_at_1": float(np.mean(labels[gallery][nearest] == labels[probes])),
            "same_class_cosine": float(similarity[same].mean()) if same.any() else None,
            "other_class_cosine": float(similarity[~same].mean()) if (~same).any() else None,
        }
        for key, value in values.items():
            if value is not None:
                totals[key] += value
                counted[key] += 1
    return {key: totals[key] / counted[key] if counted[key] else 0.0 for key in totals}


def random_projection(features: npt.NDArray[np.floating[Any]], dims: int, rng: np.random.Generator) -> FloatArray:
    """The baseline embedding: a seeded random Gaussian projection of the raw features, L2-normalised."""
    matrix = rng.standard_normal((features.shape[1], dims))
    return l2_normalise(np.asarray(features, dtype=np.float64) @ matrix)


def _pick_rows(count: int, available: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """`count` row indices: without repetition when there are enough rows."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if available == 0:
        raise ValueError("cannot build examples from zero rows")
    return np.asarray(rng.choice(available, size=count, replace=count > available), dtype=np.int64)


def hashed(texts: list[str], buckets: int) -> FloatArray:
    """Hashed token counts [n, buckets] of texts: the text and generation families' features (text.py)."""
    rows = [hashed_counts(text, buckets) for text in texts]
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), buckets)


@register
class EigenEmbedding(Head):
    """Face recognition smoke head: eigenfaces (whitened PCA of the training images), L2-normalised.

    Whitening divides each component by its spread so that no single direction (overall
    brightness, say) dominates the cosine; the spread is regularised with the variance left in the
    discarded components (the noise floor), so near-noise components are not blown up.
    """

    name = "eigen_embedding"

    @property
    def dims(self) -> int:
        return int(self.options.get("dims", 16))

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        del core, y, rng  # the projection is unsupervised and deterministic
        pixels = np.asarray(x, dtype=np.float64)
        if isqrt(pixels.shape[1]) ** 2 != pixels.shape[1]:
            raise ValueError(f"eigen_embedding needs square images as features; got {pixels.shape[1]} features")
        mean = pixels.mean(axis=0) if len(pixels) else np.zeros(pixels.shape[1])
        centred = pixels - mean
        components, singular = top_components(centred, self.dims)
        variance = singular**2 / max(1, len(pixels) - 1)
        total = float(np.sum(centred**2)) / max(1, len(pixels) - 1)
        leftover = max(total - float(variance.sum()), 0.0) / max(1, pixels.shape[1] - self.dims)
        floor = max(leftover, 1e-6 * max(total, 1e-12))
        scale = np.where(singular > 0, 1.0 / np.sqrt(variance + floor), 0.0)
        return {
            "mean": mean.astype(np.float32),
            "components": components.astype(np.float32),
            "scale": scale.astype(np.float32),
        }

    def embed_pixels(self, params: Arrays, pixels: npt.NDArray[np.floating[Any]]) -> FloatArray:
        """Embeddings [n, dims] of flat images [n, side*side] (the family's feature rows)."""
        centred = np.asarray(pixels, dtype=np.float32) - params["mean"]
        return l2_normalise((centred @ params["components"].T) * params["scale"])

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        del core
        side = isqrt(int(params["mean"].size))
        images = require_input(inputs, "image", (side, side), FLOAT_KINDS)
        return {"embedding": self.embed_pixels(params, images.reshape(len(images), side * side))}

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, Any]:
        """Images [count, side, side] from the rows; truth is the identity (class index) per image."""
        picked = _pick_rows(count, len(x), rng)
        side = isqrt(x.shape[1])
        images = np.asarray(x[picked], dtype=np.float32).reshape(count, side, side)
        return {"image": images}, np.asarray(y[picked], dtype=np.int64)

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        requests, identities = self.examples(x, y, rng, len(x))
        embeddings = self.infer(core, params, requests)["embedding"]
        pixels = requests["image"].reshape(len(x), x.shape[1])
        baseline = random_projection(pixels, self.dims, rng)
        return TaskEvaluation(
            primary="recall_at_1",
            metrics=retrieval_metrics(embeddings, identities, rng),
            baseline=retrieval_metrics(baseline, identities, rng),
            examples=len(x),
            notes=[
                f"retrieval: {GALLERY_PER_CLASS} enrolled images per identity, the other held-out images "
                f"query by cosine; mean of {ROUNDS} random enrolments",
                f"baseline: a seeded random Gaussian projection of the raw pixels to {self.dims} dims",
                "smoke identities are the four sample shapes, not people",
            ],
        )


@register
class TextEmbedding(Head):
    """Embeddings smoke head: LSA of TF-IDF-weighted hashed token counts, L2-normalised.

    Serving hashes the request text with the same function as the training features (text.py), so
    the projection fitted on feature rows applies to raw text. Sublinear tf (1 + log count) keeps a
    repeated word from dominating; idf down-weights buckets every text hits (common words).
    """

    name = "text_embedding"

    @property
    def dims(self) -> int:
        return int(self.options.get("dims", 8))

    @property
    def text_bytes(self) -> int:
        """Width of the `text` input: UTF-8 bytes, zero-padded (longer texts are cut)."""
        return int(self.options.get("text_bytes", 256))

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        del core, y, rng  # unsupervised and deterministic
        counts = np.asarray(x, dtype=np.float64)
        documents = np.sum(counts > 0, axis=0)
        idf = np.log((1.0 + len(counts)) / (1.0 + documents)) + 1.0  # smoothed, as scikit-learn's
        components, _ = top_components(self._weighted(counts, idf), self.dims)
        return {"idf": idf.astype(np.float32), "components": components.astype(np.float32)}

    @staticmethod
    def _weighted(counts: npt.NDArray[np.floating[Any]], idf: npt.NDArray[np.floating[Any]]) -> FloatArray:
        """Sublinear TF-IDF rows, L2-normalised (so long and short texts weigh the same)."""
        counts = np.asarray(counts, dtype=np.float64)
        tf = np.where(counts > 0, 1.0 + np.log(np.maximum(counts, 1.0)), 0.0)
        return l2_normalise(tf * np.asarray(idf, dtype=np.float64))

    def embed_counts(self, params: Arrays, counts: npt.NDArray[np.floating[Any]]) -> FloatArray:
        """Embeddings [n, dims] of hashed count rows [n, buckets] (the family's feature rows)."""
        weighted = self._weighted(np.asarray(counts).reshape(len(counts), params["idf"].size), params["idf"])
        return l2_normalise(weighted @ params["components"].T.astype(np.float32))

    def embed_texts(self, params: Arrays, texts: list[str]) -> FloatArray:
        """Embeddings [n, dims] of texts: hashed like the features, then embed_counts."""
        return self.embed_counts(params, hashed(texts, int(params["idf"].size)))

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        del core
        texts = require_input(inputs, "text", (self.text_bytes,), TEXT_KINDS)
        return {"embedding": self.embed_texts(params, decode_text(texts))}

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, Any]:
        """Synthetic texts [count, 1] (the rows are counts, not texts); truth is the topic index.

        Topics follow the rows' label mix; each text has 6-20 words, about 60% from the topic's
        built-in vocabulary and the rest common words, like the sample data.
        """
        del x
        topics = (
            np.asarray(y, dtype=np.int64)[_pick_rows(count, len(y), rng)]
            if len(y)
            else rng.integers(0, len(self.classes), count)
        )
        texts = []
        for topic in topics.tolist():
            vocabulary = TOPIC_WORDS.get(self.classes[topic], (self.classes[topic],))
            length = int(rng.integers(6, 21))
            topical = rng.random(length) < 0.6
            words = [
                vocabulary[int(rng.integers(len(vocabulary)))]
                if is_topical
                else COMMON_WORDS[int(rng.integers(len(COMMON_WORDS)))]
                for is_topical in topical.tolist()
            ]
            texts.append(" ".join(words))
        return {"text": encode_text(texts, self.text_bytes)}, np.asarray(topics, dtype=np.int64)

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        counts = np.asarray(x, dtype=np.float64)
        metrics = retrieval_metrics(self.embed_counts(params, counts), y, rng)
        baseline = retrieval_metrics(random_projection(counts, self.dims, rng), y, rng)
        count = min(len(x), 400)
        requests, topics = self.examples(x, y, rng, count)
        texts = self.infer(core, params, requests)["embedding"]
        text_counts = hashed(decode_text(requests["text"]), int(params["idf"].size))
        unlearned = random_projection(text_counts, self.dims, rng)
        metrics["text_recall_at_1"] = retrieval_metrics(texts, topics, rng)["recall_at_1"]
        baseline["text_recall_at_1"] = retrieval_metrics(unlearned, topics, rng)["recall_at_1"]
        return TaskEvaluation(
            primary="recall_at_1",
            metrics=metrics,
            baseline=baseline,
            examples=count,
            notes=[
                f"retrieval on held-out count rows: {GALLERY_PER_CLASS} enrolled rows per topic, the rest query "
                f"by cosine; mean of {ROUNDS} random enrolments",
                f"text_recall_at_1: the same on {count} synthetic texts through infer (built-in topic words)",
                f"baseline: a seeded random Gaussian projection of the raw counts to {self.dims} dims",
            ],
        )
