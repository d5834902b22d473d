"""The embedding model: one sentence-transformers interface for the local and the production checkpoint.

Locally (`rag.embedder.checkpoint.local: local`) the project trains its own: a WordPiece tokenizer
learnt with `tokenizers` on the corpus, and a small BERT-shaped encoder (transformers, random init)
with mean pooling. In the cloud the checkpoint is a sentence-transformers model such as
all-MiniLM-L6-v2. Both are fine-tuned the same way, with MultipleNegativesRankingLoss on
(query, passage) pairs: the training questions with the chunk that answers them, and each chunk's
heading with the chunk. Encoding returns L2-normalised vectors, so a dot product is the cosine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .corpus import Chunk, Question
from .settings import Embedder, LocalEncoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings from the Rust tokenizer
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
Vectors = npt.NDArray[np.float32]


def train_tokenizer(texts: Sequence[str], vocab_size: int, max_length: int):  # type: ignore[no-untyped-def]
    """A lower-casing WordPiece tokenizer learnt on `texts`, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS))
    )
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def build_local(texts: Sequence[str], encoder: LocalEncoder, seed: int) -> SentenceTransformer:
    """A randomly initialised small BERT with mean pooling, its tokenizer learnt on `texts`."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    tokenizer = train_tokenizer(texts, encoder.vocab_size, encoder.max_seq_length)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=encoder.hidden_size,
        num_hidden_layers=encoder.layers,
        num_attention_heads=encoder.heads,
        intermediate_size=encoder.hidden_size * 4,
        max_position_embeddings=encoder.max_seq_length,
    )
    with tempfile.TemporaryDirectory(prefix="rag-encoder-") as folder:
        BertModel(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        transformer = Transformer(folder, max_seq_length=encoder.max_seq_length)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling], device="cpu")


def build(checkpoint: str, texts: Sequence[str], encoder: LocalEncoder, seed: int) -> SentenceTransformer:
    """The model to fine-tune: the local encoder, or the named sentence-transformers checkpoint."""
    if checkpoint == "local":
        return build_local(texts, encoder, seed)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(checkpoint)


def training_pairs(chunks: Sequence[Chunk], questions: Sequence[Question]) -> tuple[list[str], list[str]]:
    """(query, passage) pairs: each training question with the chunk holding its answer, and each
    chunk's heading with the chunk (so every chunk is seen, including those no question names)."""
    by_section: dict[tuple[str, str], list[Chunk]] = {}
    for chunk in chunks:
        by_section.setdefault((chunk.document, chunk.section), []).append(chunk)
    queries: list[str] = []
    passages: list[str] = []
    for question in questions:
        if question.split != "train":
            continue
        candidates = by_section[(question.document, question.section)]
        holder = next((chunk for chunk in candidates if question.answer in chunk.text), candidates[0])
        queries.append(question.question)
        passages.append(holder.passage())
    for chunk in chunks:
        queries.append(f"{chunk.title}: {chunk.heading}")
        passages.append(chunk.passage())
    return queries, passages


def fit(model: SentenceTransformer, queries: list[str], passages: list[str], settings: Embedder) -> dict[str, float]:
    """Fine-tune in place with in-batch negatives; returns the trainer's final loss and runtime."""
    if settings.epochs == 0:
        return {"train_loss": float("nan"), "train_seconds": 0.0}
    from datasets import Dataset  # type: ignore[import-untyped]
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    with tempfile.TemporaryDirectory(prefix="rag-fit-") as output:
        args = SentenceTransformerTrainingArguments(
            output_dir=output,
            num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=0.1,  # a float is the share of the steps (transformers 5)
            seed=settings.seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,  # a passage twice in a batch is a false negative
            save_strategy="no",
            report_to=[],
            logging_strategy="no",
            disable_tqdm=True,
            use_cpu=True,
            dataloader_num_workers=0,
        )
        dataset = Dataset.from_dict({"anchor": queries, "positive": passages})
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=dataset, loss=MultipleNegativesRankingLoss(model)
        )
        result = trainer.train()
    return {"train_loss": float(result.training_loss), "train_seconds": float(result.metrics["train_runtime"])}


def encode(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 64) -> Vectors:
    """L2-normalised float32 vectors [len(texts), dims]."""
    vectors = model.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)


def save(model: SentenceTransformer, folder: Path) -> Path:
    model.save(str(folder))
    return folder


def load(folder: Path | str) -> SentenceTransformer:
    """A saved model folder (or a checkpoint name) on the CPU."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")
