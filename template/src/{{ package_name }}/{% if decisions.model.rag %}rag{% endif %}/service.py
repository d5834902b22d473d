"""The retrieval + answer service over one published index: what the Triton model runs, and what the
tests and the smoke run call in-process to check the server's answers.

    service = RagService.open(current_index(index_root))
    results = service.ask(["How long do I have to return a thermostat?"])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import embedder, generator
from .corpus import Chunk, read_chunks
from .ingest import CHUNKS, MODEL
from .monitoring import PROJECTION, Projection, QueryLog, features
from .retrieval import Bm25, compose_answer, fuse
from .store import open_index, read_manifest


@dataclass(frozen=True)
class Result:
    question: str
    answer: str
    chunk_ids: list[str]
    scores: list[float]  # the ranker's score per chunk: fused RRF, cosine (dense) or BM25 rank score
    citations: list[dict[str, Any]]
    answered_by: str = "extractive"  # "generator": the model wrote it and its citations checked out
    fallback: str = ""  # why a generated answer was not served (the extractive one was), else ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RagService:
    def __init__(self, folder: Path, query_log: Path | None = None) -> None:
        self.folder = folder
        # the served questions' monitoring rows (monitoring.py); None: not logged (tests, make rag-ask)
        self.query_log = QueryLog(query_log).open_writer() if query_log is not None else None
        self.projection = Projection.load(folder / PROJECTION) if (folder / PROJECTION).is_file() else None
        self.manifest = read_manifest(folder)
        self.model = embedder.load(folder / MODEL)
        self.chunks = read_chunks(folder / CHUNKS)
        self.positions = {chunk.id: position for position, chunk in enumerate(self.chunks)}
        self.store = open_index(folder)  # Qdrant local mode, a Qdrant server or pgvector (store.json)
        self.bm25 = Bm25([chunk.passage() for chunk in self.chunks])
        self.top_k = int(self.manifest["top_k"])
        self.mode = str(self.manifest["retriever"])
        self.rrf_k = int(self.manifest["rrf_k"])
        self.dense_weight = float(self.manifest.get("dense_weight", 1.0))
        # the answer generator published with the index; None (extractive answers) for older indexes
        self.generator = generator.load(folder, self.manifest.get("generator"))

    @classmethod
    def open(cls, folder: Path) -> RagService:
        return cls(folder)

    def encode(self, texts: Sequence[str]) -> embedder.Vectors:
        return embedder.encode(self.model, texts)

    def _dense(self, vector: embedder.Vectors, depth: int) -> list[tuple[Chunk, float]]:
        return self.store.search(vector, depth)  # the vector store ranks the embeddings

    def ask(self, questions: Sequence[str], depth: int = 50) -> list[Result]:
        vectors = self.encode(questions)
        lexical = self.bm25.rank(questions, depth) if self.mode != "dense" else [[] for _ in questions]
        results = []
        for question, vector, bm25_ranking in zip(questions, vectors, lexical, strict=True):
            if self.mode == "bm25":
                ranked = [(position, 1.0 / (self.rrf_k + rank)) for rank, position in enumerate(bm25_ranking, 1)]
            else:
                dense_hits = self._dense(vector, depth)
                dense_ranking = [self.positions[chunk.id] for chunk, _ in dense_hits]
                if self.mode == "dense":
                    ranked = [(self.positions[chunk.id], score) for chunk, score in dense_hits]
                else:
                    ranked = fuse([dense_ranking, bm25_ranking], self.rrf_k, (self.dense_weight, 1.0))
            hits = [(self.chunks[position], score) for position, score in ranked[: self.top_k]]
            checked = self.generator.answer(question, hits) if self.generator is not None and hits else None
            generated = checked.answer if checked is not None else None
            answer = generated if generated is not None else compose_answer(vector, hits, self.encode)
            results.append(
                Result(
                    question=question,
                    answer=answer.text,
                    chunk_ids=[chunk.id for chunk, _ in hits],
                    scores=[float(score) for _, score in hits],
                    citations=[asdict(citation) for citation in answer.citations],
                    answered_by="generator" if generated is not None else "extractive",
                    fallback=checked.reason if checked is not None else "",
                )
            )
        if self.query_log is not None and self.projection is not None:
            tops = [result.scores[0] if result.scores else float("nan") for result in results]
            self.query_log.append(features(questions, vectors, self.projection, tops))
        return results

    def close(self) -> None:
        self.store.close()
        if self.query_log is not None:
            self.query_log.close()  # writes the questions it still holds
