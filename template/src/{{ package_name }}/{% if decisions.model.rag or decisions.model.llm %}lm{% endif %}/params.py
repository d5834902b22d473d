"""The causal language model's settings, shared by the sections that train one (platform.yaml
`llm:` in text-generation projects, `rag.generator` in search/RAG projects): its local shape, its
training loop and its decoding. Plain pydantic models, no torch import, so loading settings stays fast.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalModel(_Section):
    """The small Llama-architecture model trained from scratch on the corpus (no downloads)."""

    vocab_size: int = Field(default=1024, ge=260, le=65536, description="Byte-level BPE vocabulary (`tokenizers`)")
    hidden_size: int = Field(default=128, ge=16)
    layers: int = Field(default=2, ge=1, le=48)
    heads: int = Field(default=4, ge=1)
    context_tokens: int = Field(default=192, ge=32, le=8192, description="Longest sequence the model reads")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> LocalModel:
        if self.hidden_size % self.heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be a multiple of heads ({self.heads})")
        return self


class Training(_Section):
    epochs: int = Field(default=24, ge=0, le=1000, description="Passes over the training text (0: no fine-tuning)")
    batch_size: int = Field(default=16, ge=1)
    learning_rate: float = Field(default=3e-3, gt=0)
    seed: int = 11


class Sampling(_Section):
    """What a request gets unless its sampling_parameters say otherwise (the vLLM backend's names)."""

    max_tokens: int = Field(default=48, ge=1, le=32768)
    temperature: float = Field(default=0.0, ge=0, description="0: greedy decoding (deterministic)")
    top_p: float = Field(default=1.0, gt=0, le=1)
