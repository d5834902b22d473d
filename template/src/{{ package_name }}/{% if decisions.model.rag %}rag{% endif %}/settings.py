"""The `rag:` section of platform.yaml: the corpus, the chunking, the embedding model, the vector store
and the evaluation gate of retrieval-augmented generation.

Rendered only into search/RAG projects (decisions.model.rag). One pydantic model, validated once at
load: a wrong key or value fails with the key's path and what it takes. Profile-dependent values
(the embedding checkpoint, the vector store) are resolved here, so the local and the cloud profile
run the same code: the production checkpoint is a setting, not a rewrite.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import Platform, platform
from ..lm.params import LocalModel as LanguageModelShape
from ..lm.params import Training


class RagConfigError(ValueError):
    """The rag section is invalid; the message names the key and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Chunking(_Section):
    max_words: int = Field(
        default=120, ge=20, le=2000, description="Words per chunk; a section longer than this is split"
    )
    overlap_words: int = Field(default=30, ge=0, description="Words a split chunk repeats from the one before it")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Chunking:
        if self.overlap_words >= self.max_words:
            raise ValueError(f"overlap_words ({self.overlap_words}) must be below max_words ({self.max_words})")
        return self


class LocalEncoder(_Section):
    """The small BERT-shaped encoder trained from scratch on the project's corpus (no downloads)."""

    vocab_size: int = Field(default=6000, ge=500, description="WordPiece vocabulary trained with `tokenizers`")
    hidden_size: int = Field(default=128, ge=16)
    layers: int = Field(default=2, ge=1, le=12)
    heads: int = Field(default=2, ge=1)
    max_seq_length: int = Field(default=192, ge=16, le=512)

    @model_validator(mode="after")
    def _heads_divide_width(self) -> LocalEncoder:
        if self.hidden_size % self.heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be a multiple of heads ({self.heads})")
        return self


class Embedder(_Section):
    # "local": train rag.local_encoder on the corpus; otherwise a sentence-transformers checkpoint
    # (a Hugging Face name or a folder) fine-tuned the same way.
    checkpoint: dict[Literal["local", "cloud"], str] = Field(
        default={"local": "local", "cloud": "sentence-transformers/all-MiniLM-L6-v2"}  # pydantic copies the default
    )
    epochs: int = Field(default=8, ge=0, le=200, description="Fine-tuning epochs (0: use the checkpoint as it is)")
    batch_size: int = Field(default=32, ge=2, description="In-batch negatives per step (MultipleNegativesRankingLoss)")
    learning_rate: float = Field(default=5e-4, gt=0)
    seed: int = 7


class Store(_Section):
    # qdrant-local: Qdrant local mode (a folder, one process); qdrant: a Qdrant server at `url`;
    # pgvector: PostgreSQL with pgvector at the URL in $<dsn_env>. Other stores (the vector_db answer)
    # load, and stop with a message when that profile opens them.
    kind: dict[Literal["local", "cloud"], str] = Field(default={"local": "qdrant-local", "cloud": "pgvector"})
    url: str = Field(default="http://qdrant.vector-store.svc:6333", description="The Qdrant server (kind: qdrant)")
    collection: str = Field(default="chunks", pattern=r"^[A-Za-z0-9_-]+$", description="Qdrant collection prefix")
    table: str = Field(default="rag_chunks", pattern=r"^[a-z_][a-z0-9_]{0,30}$", description="pgvector table prefix")
    dsn_env: str = Field(
        default="RAG_DATABASE_URL", pattern=r"^[A-Z_][A-Z0-9_]*$", description="Env variable with the pgvector URL"
    )
    ann_min_rows: int = Field(
        default=5_000, ge=0, description="pgvector: an HNSW index from this many chunks; below, exact scans"
    )
    ef_search: int = Field(default=100, ge=1, le=1000, description="pgvector HNSW: candidates a query searches")


class ApiModel(_Section):
    """A hosted model the generator may call through LiteLLM (rag.generator.backend: api)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="A label for logs and the fallback reason")
    model: str = Field(min_length=3, description="LiteLLM's provider/model: openai/gpt-4o, anthropic/claude-...")
    api_key_env: str | None = Field(
        default=None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="The key's env variable; unset: this model is off"
    )
    api_base: str | None = Field(default=None, description="An OpenAI-compatible server instead of the provider's")


class Generation(_Section):
    """The answer generator (generator.py): a causal language model that writes a cited answer from
    the top chunks, trained in the same pipeline run as the embedding model and published with it."""

    enabled: bool = Field(default=True, description="Off: answers are the extractive ones (no generator trained)")
    # "local": a small Llama with a BPE tokenizer learnt on the corpus; otherwise a Hugging Face causal LM
    # (a Hub name or a folder) fine-tuned the same way on the same prompts.
    checkpoint: dict[Literal["local", "cloud"], str] = Field(
        default={"local": "local", "cloud": "Qwen/Qwen2.5-1.5B-Instruct"}
    )
    local_model: LanguageModelShape = LanguageModelShape(vocab_size=2048, context_tokens=512)
    training: Training = Training(epochs=8, batch_size=8, seed=13)
    # model: the generator trained in the pipeline run (published in the index); api: the models in `api`,
    # in order, the first whose key is set (the index's model when none is, the extractive answer last)
    backend: dict[Literal["local", "cloud"], Literal["model", "api"]] = Field(
        default={"local": "model", "cloud": "model"}
    )
    api: tuple[ApiModel, ...] = ()
    api_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Per API call, retries included")
    api_retries: int = Field(default=2, ge=0, le=10, description="LiteLLM's retries (with backoff) per model")
    context_chunks: int = Field(default=3, ge=1, le=20, description="Top chunks the prompt shows (numbered [1]..[n])")
    passage_words: int = Field(default=40, ge=10, le=2000, description="Words of each chunk the prompt shows")
    max_tokens: int = Field(default=32, ge=1, le=4096, description="Longest answer, in tokens")
    min_support: float = Field(
        default=0.8, ge=0, le=1, description="Share of the answer's words the cited chunks must hold to serve it"
    )
    # The gate: the held-out answers' perplexity with their retrieved chunks over without any, at most
    # this (the model must read the passages, not recite the corpus).
    max_context_perplexity_ratio: float = Field(default=0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _api_backend_has_models(self) -> Generation:
        if "api" in self.backend.values() and not self.api:
            raise ValueError("backend api needs at least one model in rag.generator.api")
        return self


class Gate(_Section):
    k: int = Field(default=5, ge=1, le=100, description="Recall is measured at k (recall@k)")
    min_recall: float = Field(default=0.6, ge=0, le=1, description="Recall@k the served retriever must reach")
    # The served retriever must not be worse than BM25 on MRR by more than this.
    max_mrr_loss_vs_bm25: float = Field(default=0.0, ge=0, le=1)


class RagSettings(_Section):
    corpus: str = Field(default="corpus/documents", description="Markdown documents: one `# Title`, `##` sections")
    questions: str = Field(default="corpus/questions.yaml", description="Labelled questions (split: train | test)")
    chunking: Chunking = Chunking()
    local_encoder: LocalEncoder = LocalEncoder()
    embedder: Embedder = Embedder()
    retriever: Literal["dense", "hybrid", "bm25"] = Field(
        "hybrid", description="What serving ranks by: the embeddings, BM25, or both fused (reciprocal rank)"
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant: score = sum w / (rrf_k + rank)")
    # The hybrid's weight on the embeddings (BM25's is 1) is chosen from these on validation questions:
    # training questions held out from fine-tuning (every `validation_every`-th one).
    dense_weights: tuple[float, ...] = Field(default=(0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0), min_length=1)
    validation_every: int = Field(default=5, ge=2, description="Every n-th training question validates instead")
    top_k: int = Field(default=5, ge=1, le=50, description="Chunks a query returns (and the answer may cite)")
    store: Store = Store()
    generator: Generation = Generation()
    gate: Gate = Gate()
    registered_model: str = Field(default="embedder", pattern=r"^[A-Za-z0-9_.-]+$", description="MLflow registry name")
    index_dir: str = Field(default=".local/rag", description="Local profile: vector indexes and ingestion runs")

    @model_validator(mode="after")
    def _context_within_top_k(self) -> RagSettings:
        if self.generator.context_chunks > self.top_k:
            raise ValueError(
                f"generator.context_chunks ({self.generator.context_chunks}) must be at most top_k ({self.top_k})"
            )
        return self


def profile() -> str:
    """local | cloud ($PLATFORM_PROFILE, default local)."""
    return os.environ.get("PLATFORM_PROFILE", "local")


def _problems(error: ValidationError) -> str:
    return "; ".join(f"rag.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors())


def parse(section: dict[str, object]) -> RagSettings:
    """RagSettings from platform.yaml's `rag:` mapping; RagConfigError names each wrong key."""
    try:
        return RagSettings.model_validate(section)
    except ValidationError as error:
        raise RagConfigError(f"platform.yaml {_problems(error)}") from None


def load(platform_: Platform | None = None) -> RagSettings:
    return parse((platform_ or platform()).section("rag"))


def root(platform_: Platform | None = None) -> Path:
    return (platform_ or platform()).path.parent


def resolve(path: str, platform_: Platform | None = None) -> Path:
    """A path of the rag section, relative to the project root unless absolute."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else root(platform_) / candidate


def checkpoint(settings: RagSettings, which: str | None = None) -> str:
    return settings.embedder.checkpoint.get(which or profile(), "local")  # type: ignore[call-overload,no-any-return]


def generator_checkpoint(settings: RagSettings, which: str | None = None) -> str:
    return settings.generator.checkpoint.get(which or profile(), "local")  # type: ignore[call-overload,no-any-return]


def generator_backend(settings: RagSettings, which: str | None = None) -> str:
    return settings.generator.backend.get(which or profile(), "model")  # type: ignore[call-overload,no-any-return]


def store_kind(settings: RagSettings, which: str | None = None) -> str:
    return settings.store.kind.get(which or profile(), "qdrant-local")  # type: ignore[call-overload,no-any-return]
