"""The `make smoke` stages of the RAG layer (the platform's own stages are smoke/stages.py).

Before the model repository is built: `rag-train` runs the embedding pipeline on kfp.local (it
trains the answer generator in the same run), `rag-ingest` runs the ingestion DAG (the index carries
the champion's generator) and records what the in-process service answers to the held-out
questions (before Triton opens the index: Qdrant local mode lets one process hold it). The
repository build then stages the `rag` model beside the champion's. After the task stage,
`rag-query` asks the same questions through Triton over HTTP and gRPC, `CONCURRENCY` requests at a
time: the answers (generated or, where the citation check refused the generation, extractive),
chunks and citations must equal the in-process ones, and the served recall@k, MRR and generated
share are reported.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..config import platform
from ..smoke.runner import CONCURRENCY, SmokeContext, Stage
from ..smoke.stages import StageError, _python, champion_report, run_logged


def _package() -> str:
    return __name__.rsplit(".", 2)[0]


def stages(base: dict[str, Stage]) -> dict[str, tuple[Stage, ...]]:
    """Where the RAG stages go among the platform's: around build-serving and after task."""
    return {
        "build-serving": (
            Stage("rag-train", "embedding model + answer generator: Kubeflow pipeline, gates, MLflow", rag_train),
            Stage("rag-ingest", "Airflow ingestion DAG into Qdrant", rag_ingest),
            base["build-serving"],
        ),
        "task": (
            base["task"],
            Stage("rag-query", "cited answers from Triton, checked in process", rag_query),
            Stage("rag-drift", "Evidently PSI of the served questions", rag_drift),
        ),
    }


def rag_train(ctx: SmokeContext) -> str:
    """pipelines/rag_pipeline.py run: fine-tune, score against BM25, register, promote."""
    from .settings import load
    from .steps import training_settings

    run_logged(ctx, "rag-train", _python("pipelines/rag_pipeline.py", "run"))
    champion, report = champion_report(ctx, training_settings(load()))
    served, bm25 = report["scores"][report["served_retriever"]], report["scores"]["bm25"]
    k = report["k"]
    generator = report.get("generator") or {}
    generated = (
        f"; generator perplexity {generator['perplexity']:.1f} with passages vs "
        f"{generator['perplexity_without_passages']:.1f} without, {generator['served_share']:.0%} of answers "
        "pass the citation check"
        if generator
        else ""
    )
    return (
        f"v{champion.version} @champion; {report['served_retriever']} recall@{k} {served['recall_at_k']:.2f} "
        f"MRR {served['mrr']:.2f} (BM25 {bm25['recall_at_k']:.2f} / {bm25['mrr']:.2f}), dense weight "
        f"{report['dense_weight']}{generated}"
    )


def rag_ingest(ctx: SmokeContext) -> str:
    """The ingestion DAG (dag.test), then the in-process answers the served ones must equal."""
    from .corpus import held_out_questions
    from .ingest import index_root
    from .service import RagService
    from .settings import load
    from .store import current_index, read_manifest

    run_logged(ctx, "rag-ingest", _python("-m", f"{_package()}.rag", "ingest"))
    folder = current_index(index_root(load()))
    manifest = read_manifest(folder)
    questions = held_out_questions()
    service = RagService.open(folder)
    try:
        ctx.values["rag_expected"] = [result.to_dict() for result in service.ask([q.question for q in questions])]
    finally:
        service.close()
    ctx.values["rag_questions"] = questions
    return (
        f"{manifest['chunks']} chunks embedded by v{manifest['model_version']} "
        f"({manifest['chunks_per_second']:.0f} chunks/s) into {folder.name}"
    )


def rag_query(ctx: SmokeContext) -> str:
    """The held-out questions through Triton over HTTP and gRPC, equal to the in-process answers."""
    from ..serving.settings import ServingSettings
    from .client import ask
    from .evaluation import from_ranks, served_rank

    if "rag_expected" not in ctx.values:
        raise StageError("rag-query needs rag-ingest's in-process answers; run the whole smoke")
    settings = ServingSettings.from_platform()
    ports = ctx.values["triton"]["ports"]
    questions, expected = ctx.values["rag_questions"], ctx.values["rag_expected"]
    latencies: list[float] = []

    def one(item: tuple[int, str]) -> dict[str, Any]:
        index, protocol = item
        url = f"{settings.host}:{ports['http' if protocol == 'http' else 'grpc']}"
        started = time.perf_counter()
        (result,) = ask(url, [questions[index].question], protocol=protocol)
        latencies.append((time.perf_counter() - started) * 1000.0)
        return result

    work = [(index, protocol) for protocol in ("http", "grpc") for index in range(len(questions))]
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        served = list(pool.map(one, work))
    for (index, protocol), result in zip(work, served, strict=True):
        want, name = expected[index], questions[index].id
        if (result["answer"], result["chunk_ids"], result["answered_by"]) != (
            want["answer"],
            want["chunk_ids"],
            want["answered_by"],
        ):
            raise StageError(f"{protocol}: the answer or chunks for {name} differ from the in-process service")
        if [c["chunk_id"] for c in result["citations"]] != [c["chunk_id"] for c in want["citations"]]:
            raise StageError(f"{protocol}: the citations for {name} differ from the in-process service")
        if not np.allclose(result["scores"], want["scores"], rtol=1e-5, atol=1e-7):
            raise StageError(f"{protocol}: the scores for {name} differ from the in-process service")
    k = len(expected[0]["chunk_ids"])
    ranks = [served_rank(result["chunk_ids"], q) for q, result in zip(questions, served, strict=False)]
    scores = from_ranks(ranks, k)
    p95 = float(np.percentile(latencies, 95))
    target = float(platform().answers["latency_p95_ms"])
    generated = sum(1 for result in expected if result["answered_by"] == "generator")
    return (
        f"{len(work)} questions (HTTP + gRPC) equal to in-process; "
        f"served recall@{k} {scores.recall_at_k:.2f}, MRR@{k} {scores.mrr:.2f}; "
        f"{generated}/{len(expected)} answers generated, the rest extractive after the citation check; "
        f"p95 {p95:.0f} ms ({'within' if p95 <= target else 'OVER'} the {target:g} ms target)"
    )


def rag_drift(ctx: SmokeContext) -> str:
    """The questions Triton just answered (its query log) against the index's reference, by PSI."""
    from ..monitoring.text_drift import TextLog, summary
    from .ingest import index_root, query_log_root
    from .monitoring import check
    from .settings import load
    from .store import current_index

    rag = load()
    served = 2 * len(ctx.values["rag_questions"])
    held = TextLog(query_log_root(rag)).wait_for(served, ctx.values["started_at"])  # Triton writes it in batches
    if held != served:
        raise StageError(f"the query log holds {held} questions for the {served} Triton answered")
    result = check(current_index(index_root(rag)), query_log_root(rag), since=ctx.values["started_at"])
    return summary(result, "questions")
