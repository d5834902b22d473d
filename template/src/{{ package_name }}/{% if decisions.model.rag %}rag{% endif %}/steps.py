"""The embedding model's pipeline steps (pipelines/rag_pipeline.py runs them as Kubeflow components).

    build_training_set -> train -> evaluate -> register -> promote

The same five functions, with the same signatures, as every other family's steps module, so the
shared components (training/components.py) and promotion rule (training/promotion.py) serve RAG too:
the corpus is checked and chunked, the embedding model is fine-tuned in an MLflow run, the held-out
questions score it (recall@k, MRR) against BM25, the model is registered with the
sentence-transformers flavour, and it becomes the champion only past the gate and above the champion.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from ..config import Platform
from ..training import promotion
from ..training.errors import TrainingError
from ..training.settings import TrainingSettings, for_pipeline, load_settings
from ..training.tracking import connect, experiment_id
from . import corpus, embedder, evaluation, generator
from .corpus import Chunk, Question
from .retrieval import Bm25, Retrieval
from .settings import RagConfigError, RagSettings, checkpoint, generator_checkpoint, resolve
from .settings import load as load_rag

MODEL_ARTIFACT = "embedder"  # the fine-tuned model folder on the training run
GENERATOR_ARTIFACT = generator.GENERATOR  # the answer generator's folder on the same run
REGISTERED_ARTIFACT = "model"  # the sentence-transformers flavour model that is registered
METRIC = "mrr"  # the promotion metric: the served retriever's MRR on the held-out questions
OVERRIDABLE = ("epochs", "batch_size", "learning_rate", "seed")


def _rag(settings: RagSettings | None, platform_: Platform | None) -> RagSettings:
    try:
        return settings or load_rag(platform_)
    except RagConfigError as error:
        raise TrainingError(str(error)) from error


def training_settings(rag: RagSettings, platform_: Platform | None = None) -> TrainingSettings:
    """The project's training settings pointed at the embedding model's registry entry and experiment."""
    return for_pipeline(load_settings(platform_), rag.registered_model, "rag")


@contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


# ---------------------------------------------------------------------------------- training set


def build_training_set(
    output_dir: Path, *, settings: RagSettings | None = None, platform_: Platform | None = None
) -> dict[str, Any]:
    """Check and chunk the corpus, check the questions; write chunks.jsonl and questions.jsonl."""
    rag = _rag(settings, platform_)
    try:
        sections = corpus.load_documents(resolve(rag.corpus, platform_))
        questions = corpus.load_questions(resolve(rag.questions, platform_), sections)
    except corpus.CorpusError as error:
        raise TrainingError(str(error)) from error
    chunks = corpus.chunk_sections(sections, rag.chunking)
    questions = hold_out_validation(questions, rag.validation_every)
    output_dir.mkdir(parents=True, exist_ok=True)
    _write_jsonl(output_dir / "chunks.jsonl", [chunk.payload() for chunk in chunks])
    _write_jsonl(output_dir / "questions.jsonl", [dataclasses.asdict(question) for question in questions])
    return {
        "documents": len({section.document for section in sections}),
        "sections": len(sections),
        "chunks": len(chunks),
        **{
            f"{split}_questions": sum(1 for q in questions if q.split == split)
            for split in ("train", "validation", "test")
        },
    }


def hold_out_validation(questions: Sequence[Question], every: int) -> list[Question]:
    """Every `every`-th training question (file order) becomes a validation question: not fine-tuned
    on, it chooses the hybrid's fusion weight, so the test questions stay untouched until the gate."""
    held: list[Question] = []
    seen = 0
    for question in questions:
        if question.split == "train":
            seen += 1
            if seen % every == 0:
                question = dataclasses.replace(question, split="validation")
        held.append(question)
    return held


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def read_training_set(folder: Path) -> tuple[list[Chunk], list[Question]]:
    def rows(name: str) -> list[dict[str, Any]]:
        path = folder / name
        if not path.is_file():
            raise TrainingError(f"{path} is missing; run build_training_set first")
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    questions = [Question(**row) for row in rows("questions.jsonl")]
    return corpus.read_chunks(folder / "chunks.jsonl"), questions


# ------------------------------------------------------------------------------------------ train


def train(
    training_set_dir: Path,
    *,
    tracking_uri: str | None = None,
    overrides: dict[str, Any] | None = None,
    settings: RagSettings | None = None,
    platform_: Platform | None = None,
) -> str:
    """Fine-tune the embedding model in a new MLflow run (params, loss, the model folder); the run id."""
    rag = _rag(settings, platform_)
    unknown = sorted(set(overrides or {}) - set(OVERRIDABLE))
    if unknown:
        raise TrainingError(f"model_params {unknown} are not rag.embedder settings; allowed: {', '.join(OVERRIDABLE)}")
    tuned = rag.embedder.model_copy(update=overrides or {})
    training = training_settings(rag, platform_)
    uri, _ = connect(training, tracking_uri)
    chunks, questions = read_training_set(training_set_dir)
    source = checkpoint(rag)
    queries, passages = embedder.training_pairs(chunks, questions)
    experiment = experiment_id(training.experiment, uri, training.artifact_root())
    with mlflow.start_run(experiment_id=experiment, run_name=f"embedder-{time.strftime('%Y%m%d-%H%M%S')}") as run:
        mlflow.set_tags({"pipeline": "rag", "family": training.family, "registered_model_name": rag.registered_model})
        mlflow.log_params(
            {
                "checkpoint": source,
                **(
                    {f"local.{key}": value for key, value in rag.local_encoder.model_dump().items()}
                    if source == "local"
                    else {}
                ),
                **tuned.model_dump(exclude={"checkpoint"}),
                "chunking.max_words": rag.chunking.max_words,
                "chunking.overlap_words": rag.chunking.overlap_words,
                "dataset.chunks": len(chunks),
                "dataset.pairs": len(queries),
            }
        )
        print(f"training the embedding model ({source}) on {len(queries)} pairs for {tuned.epochs} epochs", flush=True)
        model = embedder.build(source, [chunk.passage() for chunk in chunks] + queries, rag.local_encoder, tuned.seed)
        result = embedder.fit(model, queries, passages, tuned)
        mlflow.log_metrics({key: value for key, value in result.items() if value == value})  # NaN: not trained
        with _scratch("rag-train-") as tmp:
            mlflow.log_artifacts(str(embedder.save(model, tmp / MODEL_ARTIFACT)), artifact_path=MODEL_ARTIFACT)
            if rag.generator.enabled:
                _train_generator(rag, model, chunks, [q for q in questions if q.split != "test"], tmp)
        return str(run.info.run_id)


def _retrieval(rag: RagSettings, model: Any, chunks: Sequence[Chunk], dense_weight: float = 1.0) -> Retrieval:
    passages = [chunk.passage() for chunk in chunks]
    return Retrieval(
        chunks,
        Bm25(passages),
        embedder.encode(model, passages),
        lambda texts: embedder.encode(model, texts),
        rag.rrf_k,
        dense_weight,
    )


def ranked_chunks(retrieval: Retrieval, mode: str, questions: Sequence[Question], depth: int) -> list[list[Chunk]]:
    """Each question's top `depth` chunks by `mode`: what the generator's prompt shows."""
    rankings = retrieval.rank(mode, [question.question for question in questions], depth)
    return [[retrieval.chunks[position] for position in ranking] for ranking in rankings]


def _train_generator(
    rag: RagSettings, model: Any, chunks: Sequence[Chunk], questions: Sequence[Question], tmp: Path
) -> None:
    """The answer generator on the training questions' retrieved chunks (this run's embedding model,
    the served retriever), logged to the active run beside the embedding model."""
    settings = rag.generator
    ranked = ranked_chunks(_retrieval(rag, model, chunks), rag.retriever, questions, settings.context_chunks)
    pairs = generator.training_pairs(questions, chunks, ranked, settings.context_chunks, settings.passage_words)
    source = generator_checkpoint(rag)
    mlflow.log_params(
        {
            "generator.checkpoint": source,
            **{f"generator.{key}": value for key, value in settings.training.model_dump().items()},
            **(
                {f"generator.local.{key}": value for key, value in settings.local_model.model_dump().items()}
                if source == "local"
                else {}
            ),
            "generator.pairs": len(pairs),
        }
    )
    result = generator.train(settings, chunks, pairs, source, tmp / GENERATOR_ARTIFACT)
    mlflow.log_metrics({f"generator_{key}": value for key, value in result.items() if value == value})
    mlflow.log_artifacts(str(tmp / GENERATOR_ARTIFACT), artifact_path=GENERATOR_ARTIFACT)


def _download_model(client: Any, run_id: str, target: Path, artifact: str = MODEL_ARTIFACT) -> Path:
    try:
        return Path(client.download_artifacts(run_id, artifact, str(target)))
    except (MlflowException, OSError) as error:
        raise TrainingError(f"run {run_id} has no {artifact}/ folder; run the train step first") from error


# --------------------------------------------------------------------------------------- evaluate


def score_retrievers(retrieval: Retrieval, questions: Sequence[Question], k: int) -> dict[str, evaluation.Scores]:
    """recall@k and MRR of every ranker on `questions`."""
    texts = [question.question for question in questions]
    return {
        mode: evaluation.score(retrieval.rank(mode, texts), retrieval.chunks, questions, k)
        for mode in ("bm25", "dense", "hybrid")
    }


def choose_dense_weight(
    retrieval: Retrieval, validation: Sequence[Question], rag: RagSettings
) -> tuple[float, dict[float, float]]:
    """The fusion weight of rag.dense_weights with the best validation MRR (a tie keeps the smaller
    weight), and every weight's MRR. Without validation questions: 1.0 (plain reciprocal rank fusion)."""
    if not validation:
        return 1.0, {}
    texts = [question.question for question in validation]
    sweep = {
        weight: evaluation.score(
            dataclasses.replace(retrieval, dense_weight=weight).rank("hybrid", texts),
            retrieval.chunks,
            validation,
            rag.gate.k,
        ).mrr
        for weight in sorted(rag.dense_weights)
    }
    best = max(sweep.values())
    return next(weight for weight, mrr in sweep.items() if mrr == best), sweep


def evaluate(
    training_set_dir: Path,
    run_id: str,
    *,
    tracking_uri: str | None = None,
    settings: RagSettings | None = None,
    platform_: Platform | None = None,
) -> dict[str, Any]:
    """Score BM25, the embeddings and the hybrid on the held-out questions; gate the served retriever."""
    rag = _rag(settings, platform_)
    training = training_settings(rag, platform_)
    _, client = connect(training, tracking_uri)
    chunks, questions = read_training_set(training_set_dir)
    test = [question for question in questions if question.split == "test"]
    validation = [question for question in questions if question.split == "validation"]
    with _scratch("rag-evaluate-") as tmp:
        model = embedder.load(_download_model(client, run_id, tmp))
        started = time.perf_counter()
        retrieval = _retrieval(rag, model, chunks)
        weight, sweep = choose_dense_weight(retrieval, validation, rag)
        retrieval = dataclasses.replace(retrieval, dense_weight=weight)
        scores = score_retrievers(retrieval, test, rag.gate.k)
        seconds = time.perf_counter() - started
        generation = _evaluate_generator(rag, retrieval, test, client, run_id, tmp) if rag.generator.enabled else {}
    served, baseline = scores[rag.retriever], scores["bm25"]
    passed, reasons = evaluation.gate(served, baseline, rag.gate)
    if generation:
        reasons += evaluation.generator_gate(generation["context_perplexity_ratio"], rag.generator)
        passed = not reasons
    table = [f"| {mode} | {value.recall_at_k:.3f} | {value.mrr:.3f} |" for mode, value in scores.items()]
    report: dict[str, Any] = {
        "primary_metric": METRIC,
        "served_retriever": rag.retriever,
        "score": round(served.mrr, 4),
        "baseline": "bm25",
        "baseline_score": round(baseline.mrr, 4),
        "k": rag.gate.k,
        # the shared evaluate component logs these two to the pipeline's Metrics artifact
        "metrics": {METRIC: served.mrr, f"recall_at_{rag.gate.k}": served.recall_at_k, "dense_weight": weight},
        "baseline_metrics": {METRIC: baseline.mrr, f"recall_at_{rag.gate.k}": baseline.recall_at_k},
        "test_questions": len(test),
        "scores": {mode: dataclasses.asdict(value) for mode, value in scores.items()},
        "dense_weight": weight,
        "dense_weight_sweep": {str(key): round(value, 4) for key, value in sweep.items()},
        "validation_questions": len(validation),
        "quality_gate": {"passed": passed, "reasons": reasons},
        "eval_seconds": round(seconds, 2),
        "generator": {key: round(value, 4) for key, value in generation.items()},
    }
    with mlflow.start_run(run_id=run_id):
        metrics = {METRIC: served.mrr, f"recall_at_{rag.gate.k}": served.recall_at_k}
        for mode, value in scores.items():
            metrics |= {f"{mode}_recall_at_{rag.gate.k}": value.recall_at_k, f"{mode}_mrr": value.mrr}
        mlflow.log_metrics(metrics | {f"generator_{key}": value for key, value in generation.items()})
        mlflow.log_dict(report, "evaluation/report.json")
        lines = [
            f"# Retrieval on {len(test)} held-out questions (run {run_id})",
            "",
            f"| retriever | recall@{rag.gate.k} | MRR |",
            "|---|---|---|",
            *table,
            "",
        ]
        lines += [f"Hybrid dense weight {weight} (validation MRR by weight: {sweep})", ""]
        if generation:
            g = generation
            lines += [
                "| generator | perplexity with passages | without | ratio | served | holds the label | cites it |",
                "|---|---|---|---|---|---|---|",
                f"| {generator_checkpoint(rag)} | {g['perplexity']:.1f} | {g['perplexity_without_passages']:.1f} | "
                f"{g['context_perplexity_ratio']:.3f} | {g['served_share']:.0%} | {g['answer_match']:.0%} | "
                f"{g['cites_gold_section']:.0%} |",
                "",
            ]
        lines += [f"Served: {rag.retriever}. Gate: {'passed' if passed else 'failed: ' + '; '.join(reasons)}", ""]
        mlflow.log_text("\n".join(lines), "evaluation/report.md")
        mlflow.log_metric("dense_weight", weight)
        mlflow.set_tags({promotion.GATE_TAG: "passed" if passed else "failed", "dense_weight": str(weight)})
    return report


def _evaluate_generator(
    rag: RagSettings, retrieval: Retrieval, test: Sequence[Question], client: Any, run_id: str, tmp: Path
) -> dict[str, float]:
    """The run's answer generator on the held-out questions, each with its served ranking's chunks."""
    folder = _download_model(client, run_id, tmp, GENERATOR_ARTIFACT)
    answerer = generator.Generator(folder, generator.published(rag.generator))
    ranked = ranked_chunks(retrieval, rag.retriever, test, rag.generator.context_chunks)
    return generator.evaluate(answerer, test, retrieval.chunks, ranked)


# --------------------------------------------------------------------------------------- register


def register(
    run_id: str,
    *,
    tracking_uri: str | None = None,
    settings: RagSettings | None = None,
    platform_: Platform | None = None,
) -> str:
    """Log the model with MLflow's sentence-transformers flavour and register it as the challenger."""
    rag = _rag(settings, platform_)
    training = training_settings(rag, platform_)
    _, client = connect(training, tracking_uri)
    tags = promotion.evaluated_tags(client, run_id)
    with _scratch("rag-register-") as tmp:
        model = embedder.load(_download_model(client, run_id, tmp))
        with mlflow.start_run(run_id=run_id):
            info = mlflow.sentence_transformers.log_model(
                model,
                name=REGISTERED_ARTIFACT,
                # listed, not inferred: inference imports the model in a subprocess (slow, same answer)
                pip_requirements=["sentence-transformers", "transformers", "torch"],
            )
    version_tags = {
        "family": training.family,
        "pipeline": "rag",
        "dense_weight": tags.get("dense_weight", "1.0"),  # what the hybrid serves with (ingest reads it)
    }
    return promotion.register_challenger(client, training, run_id, info.model_uri, version_tags)


# ---------------------------------------------------------------------------------------- promote


def promote(
    training_set_dir: Path | None,
    run_id: str,
    version: str,
    *,
    tracking_uri: str | None = None,
    settings: RagSettings | None = None,
    platform_: Platform | None = None,
) -> dict[str, Any]:
    """Champion alias only past the gate and strictly above the champion's MRR (training.promotion).
    `training_set_dir` is not read; it keeps the signature every steps module shares."""
    rag = _rag(settings, platform_)
    training = training_settings(rag, platform_)
    _, client = connect(training, tracking_uri)
    details = {"served_retriever": rag.retriever}
    return promotion.promote_on(client, training, run_id, version, METRIC, higher_is_better=True, details=details)
