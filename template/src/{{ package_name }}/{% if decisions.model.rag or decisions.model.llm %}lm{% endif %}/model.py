"""The language model on one transformers code path, in both profiles.

Locally, a byte-level BPE tokenizer is learnt with `tokenizers` on the corpus and a small
Llama-architecture model (random init) is built on it; in the cloud, the production checkpoint is
loaded by name. Both are fine-tuned by the same loop, saved with `save_pretrained`, and generate
through `generate()` (whole answers; text-generation projects also stream with llm/streaming.py,
which the Triton model serves).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from .params import LocalModel, Sampling, Training

BOS, EOS, PAD = "<s>", "</s>", "<pad>"


@dataclass
class LanguageModel:
    model: Any  # a transformers causal LM (LlamaForCausalLM locally); generate() is untyped upstream
    tokenizer: Any  # a transformers tokenizer (PreTrainedTokenizerFast locally)


# ----------------------------------------------------------------------------------------- build


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer learnt on `texts` (any byte sequence encodes; no unknown token)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD
    )


def build(checkpoint: str, texts: Sequence[str], local: LocalModel, seed: int) -> LanguageModel:
    """The local model (tokenizer learnt on `texts`, random weights) or a named checkpoint."""
    torch.manual_seed(seed)
    if checkpoint != "local":
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return LanguageModel(AutoModelForCausalLM.from_pretrained(checkpoint, dtype="auto"), tokenizer)
    tokenizer = train_tokenizer(texts, local.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=local.hidden_size,
        intermediate_size=local.hidden_size * 4,
        num_hidden_layers=local.layers,
        num_attention_heads=local.heads,
        num_key_value_heads=local.heads,
        max_position_embeddings=local.context_tokens,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return LanguageModel(LlamaForCausalLM(config), tokenizer)


def context_tokens(lm: LanguageModel) -> int:
    return int(lm.model.config.max_position_embeddings)


# ----------------------------------------------------------------------------------------- train


def windows(lm: LanguageModel, texts: Sequence[str]) -> list[list[int]]:
    """Each text as `<s> tokens </s>`, cut into windows of the model's context (half overlapping)."""
    size = context_tokens(lm)
    out: list[list[int]] = []
    for text in texts:
        ids = [
            lm.tokenizer.bos_token_id,
            *lm.tokenizer.encode(text, add_special_tokens=False),
            lm.tokenizer.eos_token_id,
        ]
        step = max(1, size // 2)
        out.extend(ids[start : start + size] for start in range(0, max(1, len(ids) - size + step), step))
    return out


Row = tuple[list[int], list[int]]  # token ids and the labels they are scored against (-100: not scored)


def _batch(lm: LanguageModel, rows: Sequence[Row]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids, _ in rows)
    pad = int(lm.tokenizer.pad_token_id)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)  # padding is not predicted
    for index, (row, row_labels) in enumerate(rows):
        ids[index, : len(row)] = torch.tensor(row)
        mask[index, : len(row)] = 1
        labels[index, : len(row)] = torch.tensor(row_labels)
    return ids, mask, labels


def answer_rows(lm: LanguageModel, pairs: Sequence[tuple[str, str]]) -> list[Row]:
    """(prompt, answer) pairs as rows scored on the answer's tokens only; a prompt too long for the
    context loses its oldest tokens, as in generation."""
    rows: list[Row] = []
    for prompt, answer in pairs:
        context, target = answer_token_ids(lm, prompt, answer)
        context = context[-max(1, context_tokens(lm) - len(target)) :]
        rows.append(([*context, *target], [-100] * len(context) + target))
    return rows


def fit(
    lm: LanguageModel, texts: Sequence[str], training: Training, answers: Sequence[tuple[str, str]] = ()
) -> dict[str, float]:
    """Fine-tune with AdamW and a linear decay on `texts` (next-token loss on every token) and on
    `answers` (prompt, answer) pairs (loss on the answer only); the first and last epoch's loss."""
    rows: list[Row] = [(ids, ids) for ids in windows(lm, texts)] + answer_rows(lm, answers)
    if training.epochs == 0 or not rows:
        return {"first_epoch_loss": float("nan"), "final_loss": float("nan"), "steps": 0.0}
    generator = torch.Generator().manual_seed(training.seed)
    optimizer = torch.optim.AdamW(lm.model.parameters(), lr=training.learning_rate, weight_decay=0.01)
    per_epoch = math.ceil(len(rows) / training.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.05, 1.0 - step / (per_epoch * training.epochs))
    )
    lm.model.train()
    losses: list[float] = []
    for epoch in range(training.epochs):
        order = torch.randperm(len(rows), generator=generator).tolist()
        total = 0.0
        for start in range(0, len(order), training.batch_size):
            ids, mask, labels = _batch(lm, [rows[i] for i in order[start : start + training.batch_size]])
            loss = lm.model(input_ids=ids, attention_mask=mask, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lm.model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item()
        losses.append(total / per_epoch)
        if epoch == 0 or (epoch + 1) % 10 == 0 or epoch + 1 == training.epochs:
            print(f"  epoch {epoch + 1}/{training.epochs}: loss {losses[-1]:.3f}", flush=True)
    lm.model.eval()
    return {"first_epoch_loss": losses[0], "final_loss": losses[-1], "steps": float(per_epoch * training.epochs)}


# ----------------------------------------------------------------------------------------- score


def answer_token_ids(lm: LanguageModel, prompt: str, answer: str) -> tuple[list[int], list[int]]:
    """(context ids, answer ids + </s>): what the model reads, and what it must predict."""
    context = [lm.tokenizer.bos_token_id, *lm.tokenizer.encode(prompt, add_special_tokens=False)]
    joint = lm.tokenizer.encode(f"{prompt} {answer}", add_special_tokens=False)
    return context, [*joint[len(context) - 1 :], lm.tokenizer.eos_token_id]


@torch.no_grad()
def answer_nll(lm: LanguageModel, prompt: str, answer: str) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) of the answer's tokens after the prompt, and their count."""
    context, target = answer_token_ids(lm, prompt, answer)
    context = context[-max(1, context_tokens(lm) - len(target)) :]  # as answer_rows and generate() cut it
    ids = torch.tensor([context + target], device=lm.model.device)
    logits = lm.model(input_ids=ids).logits[0, len(context) - 1 : -1]
    nll = torch.nn.functional.cross_entropy(logits.float(), torch.tensor(target, device=ids.device), reduction="sum")
    return float(nll), len(target)


# -------------------------------------------------------------------------------------- generate


def _sampling_kwargs(lm: LanguageModel, sampling: Sampling, seed: int | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "eos_token_id": lm.tokenizer.eos_token_id,
        "pad_token_id": lm.tokenizer.pad_token_id,
    }
    if sampling.temperature > 0:
        torch.manual_seed(0 if seed is None else seed)
        kwargs |= {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
    else:
        kwargs |= {"do_sample": False}
    return kwargs


def generation_inputs(
    lm: LanguageModel, prompt: str, sampling: Sampling, seed: int | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """What `model.generate` takes for `prompt`: the prompt's tensors, cut to leave room in the context
    (the newest tokens kept), and the sampling arguments, with at most the room left as new tokens."""
    ids = [lm.tokenizer.bos_token_id, *lm.tokenizer.encode(prompt, add_special_tokens=False)]
    ids = ids[-max(1, context_tokens(lm) - 1) :]
    tensor = torch.tensor([ids], device=lm.model.device)  # where the model is: CPU, or a GPU it was moved to
    room = context_tokens(lm) - len(ids)
    kwargs = _sampling_kwargs(lm, sampling, seed) | {"max_new_tokens": max(0, min(sampling.max_tokens, room))}
    return {"input_ids": tensor, "attention_mask": torch.ones_like(tensor)}, kwargs


@torch.no_grad()
def generate(lm: LanguageModel, prompt: str, sampling: Sampling, seed: int | None = None) -> str:
    """The completion of `prompt` (without the prompt), as decoded text."""
    inputs, kwargs = generation_inputs(lm, prompt, sampling, seed)
    output = lm.model.generate(**inputs, **kwargs)[0, inputs["input_ids"].shape[1] :]
    return str(lm.tokenizer.decode(output, skip_special_tokens=True))


# ------------------------------------------------------------------------------------- save/load


def save(lm: LanguageModel, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    return folder


def load(folder: Path | str, device: str = "cpu") -> LanguageModel:
    """A saved model on `device` ("auto": the first GPU when there is one, else the CPU)."""
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model: Any = AutoModelForCausalLM.from_pretrained(str(folder))
    model.to(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
    model.eval()
    return LanguageModel(model, tokenizer)
