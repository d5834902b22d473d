"""The vector store behind one published index: Qdrant local mode (a folder, one machine), a Qdrant
server, or pgvector on the cloud's managed PostgreSQL (`rag.store.kind` per profile).

Every ingestion writes a new index: a new index folder (the embedding model, the chunks, the
monitoring reference) and, in the store, a new Qdrant folder, collection or table named after that
folder. `store.json` in the folder says where its vectors live, so serving opens exactly what the
ingestion wrote, in any profile. `publish` then points `current` at the folder: the served index
is never modified in place, a failed ingestion leaves it as it was, and an index is dropped from
the store only when its folder is retired (all but the newest `keep`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .corpus import Chunk
from .embedder import Vectors

CURRENT = "current"  # the file under <index_dir>/index naming the served index folder
LOCATION = "store.json"  # in each index folder: where its vectors live (no secrets: a DSN stays in the env)
KINDS = ("qdrant-local", "qdrant", "pgvector")


class StoreError(RuntimeError):
    """The vector store is missing or does not hold what the manifest says."""


class VectorIndex(Protocol):
    """What ingestion and serving ask of a store; one implementation per kind."""

    def replace(self, chunks: Sequence[Chunk], vectors: Vectors) -> int: ...

    def count(self) -> int: ...

    def search(self, vector: Vectors, limit: int) -> list[tuple[Chunk, float]]: ...

    def drop(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class VectorStore:
    """Qdrant: local mode (a folder) or a server; the same qdrant-client calls serve both."""

    client: Any  # qdrant_client.QdrantClient
    collection: str

    @classmethod
    def local(cls, folder: Path, collection: str) -> VectorStore:
        from qdrant_client import QdrantClient

        return cls(QdrantClient(path=str(folder)), collection)

    @classmethod
    def server(cls, url: str, collection: str) -> VectorStore:
        from qdrant_client import QdrantClient

        return cls(QdrantClient(url=url, timeout=10), collection)

    def replace(self, chunks: Sequence[Chunk], vectors: Vectors) -> int:
        """The collection rebuilt with one point per chunk (payload: the chunk); returns the count."""
        from qdrant_client import models

        _check_sizes(chunks, vectors)
        self.drop()
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=int(vectors.shape[1]), distance=models.Distance.COSINE),
        )
        self.client.upload_points(
            self.collection,
            points=[
                models.PointStruct(id=position, vector=vector.tolist(), payload=chunk.payload())
                for position, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
            ],
            wait=True,
        )
        return self.count()

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def search(self, vector: Vectors, limit: int) -> list[tuple[Chunk, float]]:
        """The `limit` nearest chunks by cosine, best first."""
        found = self.client.query_points(
            self.collection, query=vector.reshape(-1).tolist(), limit=limit, with_payload=True
        ).points
        return [(Chunk(**point.payload), float(point.score)) for point in found]

    def drop(self) -> None:
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)

    def close(self) -> None:
        self.client.close()


@dataclass
class PgVectorStore:
    """pgvector: one table per index (position, the chunk as jsonb, the embedding), cosine distance.

    Below `ann_min_rows` rows a query scans the table (exact); from there an HNSW index answers,
    searching `ef_search` candidates, at least the query's limit (an HNSW scan returns at most
    hnsw.ef_search rows; pgvector's default, 40, is below the service's depth of 50). More
    candidates: better recall, slower queries (ci/benches/vector_store.py measures both).
    """

    connection: Any  # psycopg.Connection, autocommit
    table: str
    ann_min_rows: int = 5_000
    ef_search: int = 100

    @classmethod
    def connect(cls, dsn: str, table: str, ann_min_rows: int = 5_000, ef_search: int = 100) -> PgVectorStore:
        import psycopg
        from pgvector.psycopg import register_vector

        try:
            connection = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as error:
            raise StoreError(f"cannot reach the pgvector database: {error}".strip()) from error
        try:
            # the cloud's managed PostgreSQL ships the extension; Azure allow-lists it (infra/, Terraform)
            connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as error:
            connection.close()
            raise StoreError(
                f"the database has no pgvector extension ({error}); enable it: on Azure the Terraform "
                "stack allow-lists VECTOR, elsewhere run CREATE EXTENSION vector as the admin user"
            ) from error
        register_vector(connection)
        return cls(connection, table, ann_min_rows, ef_search)

    def _sql(self, template: str) -> Any:
        from psycopg import sql

        return sql.SQL(template).format(table=sql.Identifier(self.table))

    def replace(self, chunks: Sequence[Chunk], vectors: Vectors) -> int:
        from psycopg.types.json import Jsonb

        _check_sizes(chunks, vectors)
        dims = int(vectors.shape[1])
        with self.connection.transaction():  # readers see the old table or the whole new one
            self.connection.execute(self._sql("DROP TABLE IF EXISTS {table}"))
            self.connection.execute(
                self._sql(
                    "CREATE TABLE {table} (position integer PRIMARY KEY, chunk jsonb NOT NULL, "
                    f"embedding vector({dims}) NOT NULL)"
                )
            )
            with self.connection.cursor() as cursor:
                cursor.executemany(
                    self._sql("INSERT INTO {table} (position, chunk, embedding) VALUES (%s, %s, %s)"),
                    [
                        (position, Jsonb(chunk.payload()), vector.astype("float32"))
                        for position, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
                    ],
                )
            if len(chunks) >= self.ann_min_rows:
                self.connection.execute(self._sql("CREATE INDEX ON {table} USING hnsw (embedding vector_cosine_ops)"))
            self.connection.execute(self._sql("ANALYZE {table}"))
        return self.count()

    def count(self) -> int:
        row = self.connection.execute(self._sql("SELECT count(*) FROM {table}")).fetchone()
        return int(row[0])

    def search(self, vector: Vectors, limit: int) -> list[tuple[Chunk, float]]:
        """The `limit` nearest chunks by cosine, best first (score: cosine similarity, as Qdrant's)."""
        query = vector.reshape(-1).astype("float32")
        with self.connection.transaction():
            self.connection.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(self.ef_search, limit)),))
            rows = self.connection.execute(
                self._sql(
                    "SELECT chunk, 1 - (embedding <=> %(q)s) FROM {table} ORDER BY embedding <=> %(q)s LIMIT %(limit)s"
                ),
                {"q": query, "limit": limit},
            ).fetchall()
        return [(Chunk(**row[0]), float(row[1])) for row in rows]

    def drop(self) -> None:
        self.connection.execute(self._sql("DROP TABLE IF EXISTS {table}"))

    def close(self) -> None:
        self.connection.close()


def _check_sizes(chunks: Sequence[Chunk], vectors: Vectors) -> None:
    if len(chunks) != len(vectors):
        raise StoreError(f"{len(chunks)} chunks but {len(vectors)} vectors")


def location(kind: str, folder: Path, settings: Any) -> dict[str, Any]:
    """Where a new index in `folder` keeps its vectors, for the store kind of this profile.
    `settings` is rag.store (settings.Store): the collection/table prefix, the URL, the DSN's env name."""
    suffix = folder.name.lower()  # the index folder's timestamp: one collection or table per index
    if kind == "qdrant-local":
        return {"kind": kind, "path": "qdrant", "collection": settings.collection}
    if kind == "qdrant":
        return {"kind": kind, "url": settings.url, "collection": f"{settings.collection}_{suffix}"}
    if kind == "pgvector":
        return {
            "kind": kind,
            "dsn_env": settings.dsn_env,
            "table": f"{settings.table}_{suffix}",
            "ann_min_rows": settings.ann_min_rows,
            "ef_search": settings.ef_search,
        }
    raise StoreError(
        f"rag.store.kind is {kind!r} for this profile; this release's code speaks {', '.join(KINDS)} "
        "(platform.yaml rag.store.kind; answer vector_db=pgvector or qdrant for the cloud profile)"
    )


def open_location(folder: Path, where: dict[str, Any], environ: dict[str, str] | None = None) -> VectorIndex:
    """The store an index folder's vectors live in (`where`: its store.json)."""
    import os

    kind = where["kind"]
    if kind == "qdrant-local":
        return VectorStore.local(folder / where["path"], where["collection"])
    if kind == "qdrant":
        return VectorStore.server(where["url"], where["collection"])
    if kind == "pgvector":
        dsn = (environ if environ is not None else dict(os.environ)).get(where["dsn_env"])
        if not dsn:
            raise StoreError(
                f"rag.store.kind is pgvector but ${where['dsn_env']} is not set: export the database URL "
                "(postgresql://user:password@host:5432/platform?sslmode=require); on Kubernetes it comes "
                "from the Secret rag-database (docs/rag.md)"
            )
        return PgVectorStore.connect(dsn, where["table"], int(where["ann_min_rows"]), int(where.get("ef_search", 100)))
    raise StoreError(f"{folder / LOCATION} names store kind {kind!r}; expected one of {', '.join(KINDS)}")


def create(folder: Path, kind: str, settings: Any) -> VectorIndex:
    """Record where `folder`'s vectors will live (store.json) and open that store."""
    where = location(kind, folder, settings)
    index = open_location(folder, where)
    (folder / LOCATION).write_text(json.dumps(where, indent=1) + "\n", encoding="utf-8")
    return index


def open_index(folder: Path) -> VectorIndex:
    """The store of a written index folder. Folders from before store.json are Qdrant local mode."""
    path = folder / LOCATION
    if path.is_file():
        where = json.loads(path.read_text(encoding="utf-8"))
    else:
        where = {"kind": "qdrant-local", "path": "qdrant", "collection": read_manifest(folder)["collection"]}
    return open_location(folder, where)


def new_index_folder(index_root: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = index_root / "index" / stamp
    folder.mkdir(parents=True)
    return folder


def publish(index_root: Path, folder: Path, manifest: dict[str, Any], keep: int = 3) -> list[str]:
    """Point `current` at `folder` (atomically), then retire all but the `keep` newest older indexes:
    their vectors are dropped from the store and their folders removed. Returns what could not be
    dropped (the index is published either way; a leftover collection or table costs only space)."""
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n", encoding="utf-8")
    pointer = index_root / "index" / CURRENT
    staged = pointer.with_suffix(".tmp")
    staged.write_text(folder.name + "\n", encoding="utf-8")
    staged.replace(pointer)
    indexes = sorted(path for path in (index_root / "index").iterdir() if path.is_dir())
    leftovers = []
    for old in indexes[:-keep]:
        if old == folder:
            continue
        try:
            where = json.loads((old / LOCATION).read_text(encoding="utf-8")) if (old / LOCATION).is_file() else {}
            if where.get("kind", "qdrant-local") != "qdrant-local":  # a local-mode index is its folder
                index = open_location(old, where)
                try:
                    index.drop()
                finally:
                    index.close()
        except Exception as error:  # a store that is down must not undo the publish
            leftovers.append(f"{old.name}: {error}")
            continue
        shutil.rmtree(old, ignore_errors=True)
    return leftovers


def current_index(index_root: Path) -> Path:
    """The served index folder; StoreError when nothing was ingested yet."""
    pointer = index_root / "index" / CURRENT
    if not pointer.is_file():
        raise StoreError(f"no vector index under {index_root}; run the ingestion first (make rag-ingest)")
    folder = index_root / "index" / pointer.read_text(encoding="utf-8").strip()
    if not (folder / "manifest.json").is_file():
        raise StoreError(f"{pointer} names {folder.name}, which has no manifest; run make rag-ingest again")
    return folder


def read_manifest(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "manifest.json").read_text(encoding="utf-8")))
