"""Ingestion: documents -> chunks -> embeddings -> a new vector index, published only when complete.

The Airflow DAG (dags/rag_ingest_dag.py) runs these steps in order, passing the run folder between
them: `chunk` checks and cuts the corpus, `embed` encodes the chunks with the registry's champion
embedding model, `load` writes them into a fresh index of the profile's vector store, and `publish` checks the count and
points `current` at it (what serving loads). A step that fails leaves the served index untouched.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Platform
from ..training.errors import TrainingError
from ..training.promotion import champion
from ..training.tracking import connect
from . import embedder, generator, monitoring, store
from .settings import RagSettings, generator_backend, resolve, store_kind
from .settings import load as load_rag
from .steps import build_training_set, read_training_set, training_settings

CHUNKS = "chunks.jsonl"
VECTORS = "vectors.npy"
MODEL = "model"  # the champion embedding model, copied into the index (serving loads it from there)


class IngestError(RuntimeError):
    """Ingestion cannot go on; the message says what to run or fix."""


def index_root(rag: RagSettings, platform_: Platform | None = None) -> Path:
    return resolve(rag.index_dir, platform_)


def query_log_root(rag: RagSettings, platform_: Platform | None = None) -> Path:
    """Where the served questions are logged (monitoring.QueryLog); beside the indexes."""
    return index_root(rag, platform_) / "query_log"


def chunk(run_dir: Path, *, platform_: Platform | None = None) -> dict[str, Any]:
    """Check and cut the corpus and check the questions: the pipeline's own training-set step, so
    ingestion and training read the corpus by one rule (a broken label set stops here too)."""
    try:
        return build_training_set(run_dir, platform_=platform_)
    except TrainingError as error:
        raise IngestError(str(error)) from error


def champion_model(rag: RagSettings, target: Path, platform_: Platform | None = None) -> tuple[Any, dict[str, Any]]:
    """The registry's champion embedding model (also saved into `target`), with its version and fusion weight."""
    import mlflow

    training = training_settings(rag, platform_)
    _, client = connect(training)
    version = champion(client, training)
    if version is None:
        raise IngestError(
            f"the registry has no {training.champion_alias} for {rag.registered_model}; "
            "train and promote an embedding model first (make rag-train)"
        )
    uri = f"models:/{rag.registered_model}@{training.champion_alias}"
    model = mlflow.sentence_transformers.load_model(uri)
    embedder.save(model, target)
    info = {
        "model_version": str(version.version),
        "run_id": str(version.run_id),
        "dense_weight": float(version.tags.get("dense_weight", "1.0")),
    }
    return model, info


def champion_generator(rag: RagSettings, run_id: str, target: Path, platform_: Platform | None = None) -> bool:
    """Copy the answer generator trained in the champion's run into `target`; False when that run has
    none (a champion from before generation, or rag.generator.enabled off): answers stay extractive."""
    from mlflow.exceptions import MlflowException

    if not rag.generator.enabled:
        return False
    _, client = connect(training_settings(rag, platform_))
    try:
        names = {Path(item.path).name for item in client.list_artifacts(run_id)}
        if generator.GENERATOR not in names:
            return False
        shutil.copytree(client.download_artifacts(run_id, generator.GENERATOR), target)
    except (MlflowException, OSError) as error:
        raise IngestError(f"the champion's answer generator (run {run_id}) could not be copied: {error}") from error
    return True


def embed(run_dir: Path, *, platform_: Platform | None = None) -> dict[str, Any]:
    """Encode the run's chunks with the champion model (copied into the run folder), and the query
    monitor's reference: the questions this model was not fine-tuned on (monitoring.py)."""
    rag = load_rag(platform_)
    chunks, questions = read_training_set(run_dir)
    for folder in (run_dir / MODEL, run_dir / generator.GENERATOR):
        if folder.exists():
            shutil.rmtree(folder)
    model, info = champion_model(rag, run_dir / MODEL, platform_)
    info["has_generator"] = champion_generator(rag, info["run_id"], run_dir / generator.GENERATOR, platform_)
    started = time.perf_counter()
    vectors = embedder.encode(model, [c.passage() for c in chunks])
    seconds = time.perf_counter() - started
    np.save(run_dir / VECTORS, vectors)
    asked = [question.question for question in questions if question.split != "train"]
    monitoring.write_reference(run_dir, asked, embedder.encode(model, asked))
    info |= {"dims": int(vectors.shape[1]), "embed_seconds": round(seconds, 3), "reference_questions": len(asked)}
    info["chunks_per_second"] = round(len(chunks) / max(seconds, 1e-9), 1)
    (run_dir / "embedding.json").write_text(json.dumps(info) + "\n", encoding="utf-8")
    return info


def load(run_dir: Path, *, platform_: Platform | None = None) -> dict[str, Any]:
    """Write the chunks and their vectors into a new index (a new folder, and a new Qdrant folder,
    collection or pgvector table for this profile's store); not served yet."""
    rag = load_rag(platform_)
    chunks, _ = read_training_set(run_dir)
    vectors = np.load(run_dir / VECTORS)
    folder = store.new_index_folder(index_root(rag, platform_))
    try:
        vector_store = store.create(folder, store_kind(rag), rag.store)
    except store.StoreError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise IngestError(str(error)) from error
    try:
        count = vector_store.replace(chunks, vectors)
    finally:
        vector_store.close()
    shutil.copytree(run_dir / MODEL, folder / MODEL)
    if (run_dir / generator.GENERATOR).is_dir():
        shutil.copytree(run_dir / generator.GENERATOR, folder / generator.GENERATOR)
    for name in (CHUNKS, monitoring.REFERENCE, monitoring.PROJECTION):
        shutil.copyfile(run_dir / name, folder / name)
    return {"index": str(folder), "points": count}


def publish(run_dir: Path, index_folder: Path, *, platform_: Platform | None = None) -> dict[str, Any]:
    """Check the new index against the run, then serve it."""
    rag = load_rag(platform_)
    chunks, _ = read_training_set(run_dir)
    info = json.loads((run_dir / "embedding.json").read_text(encoding="utf-8"))
    vector_store = store.open_index(index_folder)
    try:
        points = vector_store.count()
        probe = vector_store.search(np.load(run_dir / VECTORS)[0], 1) if chunks else []
    finally:
        vector_store.close()
    if points != len(chunks):
        raise IngestError(
            f"the new index holds {points} points for {len(chunks)} chunks; the served index is unchanged"
        )
    if chunks and probe[0][0].id != chunks[0].id:
        raise IngestError("the new index does not return a chunk as its own nearest neighbour; not published")
    manifest = {
        **info,
        "chunks": len(chunks),
        "store": json.loads((index_folder / store.LOCATION).read_text(encoding="utf-8")),
        "collection": rag.store.collection,
        "retriever": rag.retriever,
        "rrf_k": rag.rrf_k,
        "top_k": rag.top_k,
        "generator": _generation(rag, index_folder),
        "corpus": rag.corpus,
        "ingested_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for leftover in store.publish(index_root(rag, platform_), index_folder, manifest):
        print(f"rag ingestion: an old index could not be dropped from the store ({leftover})")
    return manifest


def _generation(rag: RagSettings, index_folder: Path) -> dict[str, Any] | None:
    """What serving writes answers with (the manifest's `generator`): None (extractive answers) when
    generation is off, or when the index holds no model and this profile's backend is not the API."""
    backend = generator_backend(rag)
    if not rag.generator.enabled or (backend == "model" and not (index_folder / generator.GENERATOR).is_dir()):
        return None
    return generator.published(rag.generator, backend)


def run_all(run_dir: Path, *, platform_: Platform | None = None) -> dict[str, Any]:
    """The DAG's steps in one process (make rag-ingest without Airflow, tests)."""
    chunk(run_dir, platform_=platform_)
    embed(run_dir, platform_=platform_)
    loaded = load(run_dir, platform_=platform_)
    return publish(run_dir, Path(loaded["index"]), platform_=platform_)
