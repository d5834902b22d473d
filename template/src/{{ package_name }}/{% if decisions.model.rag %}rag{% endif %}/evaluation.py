"""Scoring retrieval on the held-out questions: recall@k and MRR, and the promotion gate.

A question is answered at rank r when the r-th chunk belongs to the section the question names.
The gate holds the served retriever to `rag.gate.min_recall` and to BM25 on MRR (the lexical
baseline every retriever has to beat to be worth its model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .corpus import Chunk, Question
from .retrieval import Ranking
from .settings import Gate, Generation


@dataclass(frozen=True)
class Scores:
    recall_at_k: float
    mrr: float
    questions: int


def served_rank(chunk_ids: Sequence[str], question: Question) -> int | None:
    """The 1-based rank of the first chunk (`<document>/<section>/<n>`) of the question's section
    (None: not retrieved)."""
    for rank, chunk_id in enumerate(chunk_ids, start=1):
        document, section, _ = chunk_id.rsplit("/", 2)
        if (document, section) == (question.document, question.section):
            return rank
    return None


def from_ranks(ranks: Sequence[int | None], k: int) -> Scores:
    """recall@k and MRR of the questions' first-hit ranks (None: not retrieved)."""
    if not ranks:
        raise ValueError("no questions to score")
    recall = sum(1 for rank in ranks if rank is not None and rank <= k) / len(ranks)
    mrr = sum(1.0 / rank for rank in ranks if rank is not None) / len(ranks)
    return Scores(recall, mrr, len(ranks))


def score(rankings: Sequence[Ranking], chunks: Sequence[Chunk], questions: Sequence[Question], k: int) -> Scores:
    if len(rankings) != len(questions) or not questions:
        raise ValueError(f"{len(rankings)} rankings for {len(questions)} questions")
    ids = [[chunks[position].id for position in ranking] for ranking in rankings]
    return from_ranks([served_rank(found, question) for found, question in zip(ids, questions, strict=True)], k)


def gate(served: Scores, baseline: Scores, settings: Gate) -> tuple[bool, list[str]]:
    """(passed, reasons): every failed check is a reason that names the setting."""
    reasons: list[str] = []
    if served.recall_at_k < settings.min_recall:
        reasons.append(
            f"recall@{settings.k} {served.recall_at_k:.3f} is below rag.gate.min_recall {settings.min_recall}"
        )
    if served.mrr < baseline.mrr - settings.max_mrr_loss_vs_bm25:
        reasons.append(
            f"MRR {served.mrr:.3f} is below BM25's {baseline.mrr:.3f} by more than "
            f"rag.gate.max_mrr_loss_vs_bm25 ({settings.max_mrr_loss_vs_bm25})"
        )
    return not reasons, reasons


def generator_gate(context_perplexity_ratio: float, settings: Generation) -> list[str]:
    """The answer generator's check: the held-out answers must be likelier with their passages than
    without by the set margin (a model that ignores the passages only recites the corpus)."""
    if context_perplexity_ratio <= settings.max_context_perplexity_ratio:
        return []
    return [
        f"the generator's perplexity with passages is {context_perplexity_ratio:.2f} of its perplexity without, "
        f"above rag.generator.max_context_perplexity_ratio {settings.max_context_perplexity_ratio}"
    ]
