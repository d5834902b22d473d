"""Vector store bench: the RAG index's stores side by side on the same chunks and queries, in one run.

    uv run python ci/benches/vector_store.py --project build/stack/use_case_search_rag \
        [--sizes 1000 10000 50000] [--dims 384] [--queries 200] [--depth 50]

The project must be a search/RAG render with vector_db=pgvector (the default) after `make setup`:
its `pgserver` dev dependency starts a real PostgreSQL 16 with pgvector. For each size, the shipped
corpus's chunks are repeated to that many rows with synthetic unit vectors of the production
embedder's width (all-MiniLM-L6-v2: 384), varying along `--latent` directions as
embeddings do (0: uniform on the sphere), and written through the project's own store classes
(`rag.store`) into Qdrant local mode (what the local profile serves), pgvector scanning exactly
(what the cloud profile does below `rag.store.ann_min_rows`) and pgvector with its HNSW index (from
there), queried at each `--ef-search`. The table gives the write rate (chunks/s, the index build
included), query latency p50/p95 at the service's depth, and recall@10 against the exact ranking:
the numbers behind the `ann_min_rows` and `ef_search` defaults.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject


def chunks_of(size: int, project: Path) -> list[Any]:
    """`size` chunks: the shipped corpus's chunks, repeated with distinct ids."""
    corpus = inproject.module(project, "rag.corpus")
    rag = inproject.module(project, "rag.settings").load()
    shipped = corpus.chunk_sections(corpus.load_documents(project / rag.corpus), rag.chunking)
    return [
        corpus.Chunk(f"{c.id}#{n}", c.document, c.section, c.title, c.heading, c.text)
        for n, c in ((n, shipped[n % len(shipped)]) for n in range(size))
    ]


def unit_vectors(count: int, dims: int, seed: int, latent: int = 0) -> Any:
    """`count` unit vectors. With `latent` > 0 they vary along that many directions (plus a little
    noise in every other), as sentence embeddings do: a corpus's embeddings have a low intrinsic
    dimension. `latent` 0: uniform on the sphere, the worst case for graph indexes such as HNSW."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if latent:
        basis = np.random.default_rng(0).normal(size=(latent, dims)).astype(np.float32)  # one space per run
        vectors = rng.normal(size=(count, latent)).astype(np.float32) @ basis
        vectors += (
            0.05 * np.linalg.norm(vectors, axis=1, keepdims=True) * rng.normal(size=(count, dims)) / np.sqrt(dims)
        )
    else:
        vectors = rng.normal(size=(count, dims)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def write(index: Any, chunks: list[Any], vectors: Any) -> float:
    """Chunks/s of replace() (the HNSW build included)."""
    started = time.perf_counter()
    index.replace(chunks, vectors)
    return len(chunks) / (time.perf_counter() - started)


def query(index: Any, queries: Any, depth: int) -> dict[str, Any]:
    latencies, found = [], []
    for vector in queries:
        began = time.perf_counter()
        hits = index.search(vector, depth)
        latencies.append((time.perf_counter() - began) * 1000)
        found.append([chunk.id for chunk, _ in hits])
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "found": found,
    }


def recall_at(found: list[list[str]], exact: list[list[str]], k: int) -> float:
    return float(statistics.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact, strict=True)]))


def open_store(store: Any, kind: str, size: int, scratch: Path, dsn: str) -> Any:
    if kind == "qdrant-local":
        return store.VectorStore.local(scratch / f"qdrant-{size}", "bench")
    exact = kind == "pgvector exact"
    return store.PgVectorStore.connect(dsn, f"bench_{'exact' if exact else 'hnsw'}_{size}", size + 1 if exact else 0)


def compare(
    store: Any, size: int, chunks: list[Any], data: tuple[Any, Any, list[list[str]]], scratch: Path, dsn: str, args: Any
) -> list[list[Any]]:
    """The table's rows for one size: each store written once; HNSW queried at each ef_search."""
    vectors, queries, exact = data
    rows, baseline = [], None
    for kind in ("qdrant-local", "pgvector exact", "pgvector hnsw"):
        print(f"size {size:,}: {kind} ...", flush=True)
        index = open_store(store, kind, size, scratch, dsn)
        try:
            rate = write(index, chunks, vectors)
            for ef in args.ef_search if kind == "pgvector hnsw" else [None]:
                if ef is not None:
                    index.ef_search = ef
                result = query(index, queries, args.depth)
                baseline = baseline or result["p50_ms"]
                label = f"{kind} ef_search={ef}" if ef is not None else kind
                rows.append(
                    [
                        size, label, rate, result["p50_ms"], result["p95_ms"], result["p50_ms"] / baseline,
                        recall_at(result["found"], exact, 10),
                    ]
                )  # fmt: skip
        finally:
            index.drop()
            index.close()
    return rows


def run(args: Any) -> int:
    import numpy as np

    store = inproject.module(args.project, "rag.store")
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver
    rows = []
    with tempfile.TemporaryDirectory(prefix="vector-store-bench-") as scratch:
        server = pgserver.get_server(Path(scratch) / "pgdata", cleanup_mode="stop")
        try:
            dsn = server.get_uri()
            for size in args.sizes:
                chunks = chunks_of(size, args.project)
                vectors = unit_vectors(size, args.dims, seed=size, latent=args.latent)
                queries = unit_vectors(args.queries, args.dims, seed=size + 1, latent=args.latent)
                exact = [
                    [chunks[p].id for p in np.argsort(-(vectors @ q), kind="stable")[: args.depth]] for q in queries
                ]
                rows.extend(compare(store, size, chunks, (vectors, queries, exact), Path(scratch), dsn, args))
        finally:
            server.cleanup()
    print()
    shape = f"varying along {args.latent} directions" if args.latent else "uniform on the sphere"
    print(f"{args.queries} queries per size at depth {args.depth}; {args.dims}-d unit vectors {shape}; cosine")
    print(
        inproject.table(
            rows,
            ["chunks", "store", "write chunks/s", "query p50 ms", "query p95 ms", "p50 / qdrant-local", "recall@10"],
            [",.0f", "", ",.0f", ".2f", ".2f", ".2f", ".3f"],
        )
    )
    return 0


def add_arguments(parser: Any) -> None:
    settings = inproject.defaults("vector_store")
    parser.add_argument("--sizes", type=int, nargs="+", default=settings["sizes"])
    parser.add_argument("--dims", type=int, default=settings["dims"])
    parser.add_argument("--queries", type=int, default=settings["queries"])
    parser.add_argument("--depth", type=int, default=settings["depth"])
    parser.add_argument("--latent", type=int, default=settings["latent"], help="0: uniform random vectors")
    parser.add_argument("--ef-search", type=int, nargs="+", default=settings["ef_search"])


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, add_arguments))
