"""Vector store bench: the RAG index's stores side by side on the same chunks and queries, in one run.

    uv run python ci/benches/vector_store.py --project build/stack/use_case_search_rag \
        [--sizes 1000 10000 50000] [--dims 384] [--queries 200] [--depth 50]

The project must be a search/RAG render with vector_db=pgvector (the default) after `make setup`:
its `pgserver` dev dependency starts a real PostgreSQL 16 with pgvector. For each size, the shipped
corpus's chunks are repeated to that many rows with synthetic unit vectors of the production
embedder's width (all-MiniLM-L6-v2: 384), drawn around topic centres (`--clusters 0`: uniform), and
written through the project's own store classes (`rag.store`) into (a) Qdrant local mode, what the
local profile serves, (b) pgvector scanning exactly, what the cloud profile does below
`rag.store.ann_min_rows`, and (c) pgvector with its HNSW index, what it does from there. The table
gives the write rate (chunks/s, the index build included), query latency p50/p95 at the service's
depth, and recall@10 against the exact ranking: the numbers behind the `ann_min_rows` default.
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


def unit_vectors(count: int, dims: int, seed: int, clusters: int = 0) -> Any:
    """`count` unit vectors; with `clusters`, drawn around that many random centres (cosine to the
    centre about 0.78), which is how sentence embeddings of a corpus lie: topics, not a uniform
    sphere. Uniform random vectors (clusters 0) are the worst case of graph indexes like HNSW."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, dims)).astype(np.float32)
    if clusters:
        centres = rng.normal(size=(clusters, dims)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        vectors = centres[rng.integers(0, clusters, size=count)] + 0.8 * vectors / np.sqrt(dims)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def measure(index: Any, chunks: list[Any], vectors: Any, queries: Any, depth: int) -> dict[str, Any]:
    started = time.perf_counter()
    index.replace(chunks, vectors)
    write = time.perf_counter() - started
    latencies, found = [], []
    for query in queries:
        began = time.perf_counter()
        hits = index.search(query, depth)
        latencies.append((time.perf_counter() - began) * 1000)
        found.append([chunk.id for chunk, _ in hits])
    latencies.sort()
    return {
        "chunks_per_s": len(chunks) / write,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "found": found,
    }


def recall_at(found: list[list[str]], exact: list[list[str]], k: int) -> float:
    return float(statistics.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact, strict=True)]))


STORES = ("a qdrant-local", "b pgvector exact", "c pgvector hnsw")


def open_store(store: Any, name: str, size: int, scratch: Path, dsn: str) -> Any:
    if name == "a qdrant-local":
        return store.VectorStore.local(scratch / f"qdrant-{size}", "bench")
    exact = name == "b pgvector exact"
    return store.PgVectorStore.connect(dsn, f"bench_{'exact' if exact else 'hnsw'}_{size}", size + 1 if exact else 0)


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
                vectors = unit_vectors(size, args.dims, seed=size, clusters=args.clusters)
                queries = unit_vectors(args.queries, args.dims, seed=size + 1, clusters=args.clusters)
                exact = [
                    [chunks[p].id for p in np.argsort(-(vectors @ q), kind="stable")[: args.depth]] for q in queries
                ]
                results = {}
                for name in STORES:
                    print(f"size {size:,}: {name} ...", flush=True)
                    index = open_store(store, name, size, Path(scratch), dsn)
                    try:
                        results[name] = measure(index, chunks, vectors, queries, args.depth)
                    finally:
                        index.drop()
                        index.close()
                for name, result in results.items():
                    rows.append(
                        [
                            size, name, result["chunks_per_s"], result["p50_ms"], result["p95_ms"],
                            result["p50_ms"] / results["a qdrant-local"]["p50_ms"],
                            recall_at(result["found"], exact, 10),
                        ]
                    )  # fmt: skip
        finally:
            server.cleanup()
    print()
    shape = f"around {args.clusters} topic centres" if args.clusters else "uniform on the sphere"
    print(f"{args.queries} queries per size at depth {args.depth}; {args.dims}-d unit vectors {shape}; cosine")
    print(
        inproject.table(
            rows,
            ["chunks", "store", "write chunks/s", "query p50 ms", "query p95 ms", "p50 / a", "recall@10"],
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
    parser.add_argument("--clusters", type=int, default=settings["clusters"], help="0: uniform random vectors")


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, add_arguments))
