"""Ranking chunks for a query: BM25 (the lexical baseline), the embeddings, and both fused.

Fusion is reciprocal rank fusion (score = sum over rankers of 1 / (rrf_k + rank)): it needs no score
calibration between BM25 and cosine, which is why hybrid search engines use it. The embedding side
ranks by exact cosine here and by the vector store when serving; the tests hold the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .corpus import Chunk
from .embedder import Vectors

DEPTH = 50  # ranks scored per ranker (MRR past this counts 0)
Ranking = list[int]  # chunk positions, best first


class Bm25:
    """BM25 over the chunks' passages (bm25s, English stop words removed)."""

    def __init__(self, passages: Sequence[str]) -> None:
        import bm25s  # type: ignore[import-untyped]

        self._bm25s = bm25s
        self.size = len(passages)
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize(list(passages), stopwords="en", show_progress=False), show_progress=False)

    def rank(self, queries: Sequence[str], depth: int = DEPTH) -> list[Ranking]:
        tokens = self._bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
        found, scores = self.index.retrieve(tokens, k=min(depth, self.size), show_progress=False, n_threads=1)
        # a query with no known word scores 0 everywhere: it ranks nothing rather than arbitrary chunks
        return [
            [int(doc) for doc, score in zip(row, row_scores, strict=True) if score > 0]
            for row, row_scores in zip(found, scores, strict=True)
        ]


def dense_rank(queries: Vectors, chunks: Vectors, depth: int = DEPTH) -> list[Ranking]:
    """Exact cosine ranking (the vectors are normalised)."""
    similarity = queries @ chunks.T
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :depth]
    return [[int(position) for position in row] for row in order]


def fuse(rankings: Sequence[Ranking], rrf_k: int, weights: Sequence[float]) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of one query's rankings: (position, score), best first."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, position in enumerate(ranking, start=1):
            scores[position] = scores.get(position, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class Retrieval:
    """A ranker by name, over one chunk list: what evaluation scores and serving runs."""

    chunks: Sequence[Chunk]
    bm25: Bm25
    chunk_vectors: Vectors | None
    encode: Callable[[Sequence[str]], Vectors] | None
    rrf_k: int = 60
    dense_weight: float = 1.0  # the embeddings' weight in the fusion (BM25's is 1)

    def rank(self, mode: str, queries: Sequence[str], depth: int = DEPTH) -> list[Ranking]:
        if mode == "bm25":
            return self.bm25.rank(queries, depth)
        if self.encode is None or self.chunk_vectors is None:
            raise ValueError(f"retriever {mode!r} needs the embedding model")
        dense = dense_rank(self.encode(queries), self.chunk_vectors, depth)
        if mode == "dense":
            return dense
        if mode != "hybrid":
            raise ValueError(f"unknown retriever {mode!r}: dense, hybrid or bm25")
        lexical = self.bm25.rank(queries, depth)
        weights = (self.dense_weight, 1.0)
        return [[p for p, _ in fuse(pair, self.rrf_k, weights)[:depth]] for pair in zip(dense, lexical, strict=True)]


# ----------------------------------------------------------------------------------------- answers

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Citation:
    marker: int  # [n] in the answer
    chunk_id: str
    document: str
    heading: str
    score: float


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE.split(text) if part.strip()]


def compose_answer(
    question_vector: Vectors,
    hits: Sequence[tuple[Chunk, float]],
    encode: Callable[[Sequence[str]], Vectors],
    max_sentences: int = 2,
    cited_chunks: int = 3,
) -> Answer:
    """An extractive answer with citations: the sentences of the top chunks closest to the question
    (cosine), each followed by the [n] of the chunk it came from, n being the hit's rank. Every
    citation is a retrieved chunk; a generation backend takes the same hits as its context."""
    candidates: list[tuple[int, str]] = []
    for marker, (chunk, _) in enumerate(hits[:cited_chunks], start=1):
        candidates.extend((marker, sentence) for sentence in sentences(chunk.text))
    if not candidates:
        return Answer("No indexed document answers this question.", ())
    similarity = encode([sentence for _, sentence in candidates]) @ question_vector.reshape(-1)
    best = sorted(np.argsort(-similarity, kind="stable")[:max_sentences].tolist())  # in reading order
    text = " ".join(f"{candidates[i][1]} [{candidates[i][0]}]" for i in best)
    cited = sorted({candidates[i][0] for i in best})
    citations = tuple(
        Citation(
            marker,
            hits[marker - 1][0].id,
            hits[marker - 1][0].document,
            hits[marker - 1][0].heading,
            hits[marker - 1][1],
        )
        for marker in cited
    )
    return Answer(text, citations)
