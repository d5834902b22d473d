"""The vector store: Qdrant, in local mode (a folder) on one machine, a Qdrant server in the cloud.

The same qdrant-client calls serve both. A local-mode folder is opened by one process at a time, so
every ingestion writes a new index folder and then points `current` at it: the Triton model keeps
reading the index it loaded while the next one is built, and a failed ingestion leaves the served
index as it was.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .corpus import Chunk
from .embedder import Vectors

CURRENT = "current"  # the file under <index_dir>/index naming the served index folder


class StoreError(RuntimeError):
    """The vector store is missing or does not hold what the manifest says."""


@dataclass
class VectorStore:
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

        if len(chunks) != len(vectors):
            raise StoreError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)
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

    def close(self) -> None:
        self.client.close()


def new_index_folder(index_root: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = index_root / "index" / stamp
    folder.mkdir(parents=True)
    return folder


def publish(index_root: Path, folder: Path, manifest: dict[str, Any], keep: int = 3) -> None:
    """Point `current` at `folder` (atomically) and drop all but the `keep` newest older indexes."""
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n", encoding="utf-8")
    pointer = index_root / "index" / CURRENT
    staged = pointer.with_suffix(".tmp")
    staged.write_text(folder.name + "\n", encoding="utf-8")
    staged.replace(pointer)
    indexes = sorted(path for path in (index_root / "index").iterdir() if path.is_dir())
    for old in indexes[:-keep]:
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)


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
