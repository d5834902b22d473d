"""RAG retrieval bench: the project's embedding recipe against another, with BM25 beside them.

    uv run python ci/benches/rag_retrieval.py --project build/stack/use_case_search_rag \
        [--seeds 7 8 9] [--against epochs=30 learning_rate=0.001] [--against checkpoint=<folder>]

For each recipe and seed it does what the pipeline does, without MLflow: the corpus is checked and
chunked (rag.steps.build_training_set, with its validation hold-out), the encoder is built and
fine-tuned on the training pairs, the hybrid's fusion weight is chosen on the validation questions,
and BM25, the embeddings and the hybrid are scored on the held-out test questions (recall@k, MRR).
It also times the encoder over every chunk (ingestion chunks/s) and over one question at a time
(query ms). A recipe is rag.embedder settings; `checkpoint=<name or folder>` fine-tunes a
sentence-transformers checkpoint (e.g. a pretrained model on disk) instead of the local encoder, and
`epochs=0` scores it as it is. The last lines give each recipe's mean and the ratios to BM25.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject

CHECKPOINT = "checkpoint"


def recipe(pairs: list[str], embedder_settings: Any) -> tuple[Any, str | None]:
    """`name=value` pairs -> (rag.embedder settings with the overrides, the checkpoint or None)."""
    known = set(type(embedder_settings).model_fields) - {CHECKPOINT}
    overrides: dict[str, Any] = {}
    checkpoint = None
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name == CHECKPOINT:
            checkpoint = value
        elif name in known:
            overrides[name] = type(getattr(embedder_settings, name))(value)
        else:
            raise inproject.BenchError(f"{name!r} is neither {CHECKPOINT} nor a rag.embedder setting ({sorted(known)})")
    return embedder_settings.model_copy(update=overrides), checkpoint


def score_recipe(project: Path, rag: Any, tuned: Any, checkpoint: str, folder: Path) -> dict[str, Any]:
    steps = inproject.module(project, "rag.steps")
    embedder = inproject.module(project, "rag.embedder")
    retrieval = inproject.module(project, "rag.retrieval")
    steps.build_training_set(folder, settings=rag)
    chunks, questions = steps.read_training_set(folder)
    test = [q for q in questions if q.split == "test"]
    validation = [q for q in questions if q.split == "validation"]
    queries, passages = embedder.training_pairs(chunks, questions)
    started = time.perf_counter()
    model = embedder.build(checkpoint, [c.passage() for c in chunks] + queries, rag.local_encoder, tuned.seed)
    embedder.fit(model, queries, passages, tuned)
    fit_seconds = time.perf_counter() - started
    texts = [c.passage() for c in chunks]
    started = time.perf_counter()
    vectors = embedder.encode(model, texts)
    chunks_per_second = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for question in test[:20]:
        embedder.encode(model, [question.question])
    query_ms = (time.perf_counter() - started) * 1000 / min(len(test), 20)
    ranker = retrieval.Retrieval(
        chunks, retrieval.Bm25(texts), vectors, lambda batch: embedder.encode(model, batch), rag.rrf_k
    )
    weight, _ = steps.choose_dense_weight(ranker, validation, rag)
    scores = steps.score_retrievers(dataclasses.replace(ranker, dense_weight=weight), test, rag.gate.k)
    return {
        "scores": scores,
        "weight": weight,
        "fit": fit_seconds,
        "chunks_per_second": chunks_per_second,
        "query_ms": query_ms,
        "test": len(test),
    }


def run(args: argparse.Namespace) -> int:
    project: Path = args.project
    defaults = inproject.defaults("rag_retrieval")
    seeds = args.seeds or [int(seed) for seed in defaults["seeds"]]
    against = args.against if args.against is not None else [f"{k}={v}" for k, v in defaults["against"].items()]
    settings = inproject.module(project, "rag.settings")
    rag = settings.load()
    other, other_checkpoint = recipe(against, rag.embedder)
    recipes = {
        "project": (rag.embedder, settings.checkpoint(rag, "local")),
        "against": (other, other_checkpoint or settings.checkpoint(rag, "local")),
    }
    k = rag.gate.k
    print(f"project: checkpoint {recipes['project'][1]}, {rag.embedder.epochs} epochs, lr {rag.embedder.learning_rate}")
    print(f"against: {' '.join(against) or '(the same)'}; retrievers scored at k={k} on the test questions")
    rows: list[list[Any]] = []
    found: dict[str, dict[str, list[float]]] = {name: {} for name in recipes}
    for name, (tuned, checkpoint) in recipes.items():
        for seed in seeds:
            with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
                result = score_recipe(project, rag, tuned.model_copy(update={"seed": seed}), checkpoint, Path(tmp))
            scores = result["scores"]
            for mode, value in scores.items():
                found[name].setdefault(f"{mode} recall", []).append(value.recall_at_k)
                found[name].setdefault(f"{mode} mrr", []).append(value.mrr)
            rows.append(
                [
                    name, seed, scores["bm25"].recall_at_k, scores["bm25"].mrr, scores["dense"].recall_at_k,
                    scores["dense"].mrr, result["weight"], scores["hybrid"].recall_at_k, scores["hybrid"].mrr,
                    result["fit"], result["chunks_per_second"], result["query_ms"],
                ]
            )  # fmt: skip
            print(
                f"  {name} seed {seed}: dense MRR {scores['dense'].mrr:.3f}, hybrid {scores['hybrid'].mrr:.3f}",
                flush=True,
            )
    print()
    headers = [
        "recipe", "seed", f"BM25 r@{k}", "BM25 MRR", f"dense r@{k}", "dense MRR", "weight", f"hybrid r@{k}",
        "hybrid MRR", "fit s", "chunks/s", "query ms",
    ]  # fmt: skip
    print(
        inproject.table(rows, headers, ["", "", ".3f", ".3f", ".3f", ".3f", ".2f", ".3f", ".3f", ".0f", ".0f", ".1f"])
    )
    summary = []
    for name, values in found.items():
        mean = {key: statistics.fmean(items) for key, items in values.items()}
        summary.append(
            [name, mean["dense mrr"], mean["hybrid mrr"], mean["bm25 mrr"], mean["hybrid mrr"] / mean["bm25 mrr"]]
        )
    print(inproject.table(summary, ["recipe", "dense MRR", "hybrid MRR", "BM25 MRR", "hybrid / BM25"], ".3f"))
    return 0


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", nargs="*", type=int, default=None, help="fine-tuning seeds")
    parser.add_argument("--against", nargs="*", default=None, help="the other recipe: rag.embedder settings")


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, arguments))
