"""The `llm:` section of platform.yaml: the corpus, the model (a small local one or the production
checkpoint), training, sampling and the evaluation gate of the self-hosted language model.

Rendered only into text-generation projects (decisions.model.llm). One pydantic model, validated once
at load: a wrong key or value fails with the key's path and what it takes. The checkpoint is resolved
per profile here, so the local and the cloud profile run the same code: the production checkpoint is
a setting, not a rewrite.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import Platform, platform

# the model's parts, shared with rag.generator; re-exported for the llm section's readers
from ..lm.params import LocalModel as LocalModel
from ..lm.params import Sampling as Sampling
from ..lm.params import Training as Training


class LlmConfigError(ValueError):
    """The llm section is invalid; the message names the key and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gate(_Section):
    # The model's perplexity on the held-out answers must be at most this share of a unigram model's
    # (the lexical baseline: token frequencies of the training text, same tokenizer).
    max_perplexity_ratio: float = Field(default=0.6, gt=0, le=1)


class LlmSettings(_Section):
    corpus: str = Field(default="corpus/documents", description="Markdown documents the model reads")
    questions: str = Field(default="corpus/questions.yaml", description="Question/answer pairs (split: train | test)")
    # "local": train llm.local_model and its tokenizer on the corpus; otherwise a Hugging Face causal LM
    # (a Hub name or a folder) fine-tuned the same way.
    checkpoint: dict[Literal["local", "cloud"], str] = Field(
        default={"local": "local", "cloud": "meta-llama/Llama-3.1-8B-Instruct"}
    )
    local_model: LocalModel = LocalModel()
    training: Training = Training()
    prompt: str = Field(default="Question: {question}\nAnswer:", description="How a question is put to the model")
    sampling: Sampling = Sampling()
    gate: Gate = Gate()
    registered_model: str = Field(default="llm", pattern=r"^[A-Za-z0-9_.-]+$", description="MLflow registry name")
    model_name: str = Field(default="llm", pattern=r"^[A-Za-z0-9_-]+$", description="The Triton model's name")
    monitoring_dir: str = Field(
        default=".local/llm", description="Local profile: the prompt log and the staged champion's reference"
    )

    @model_validator(mode="after")
    def _prompt_takes_question(self) -> LlmSettings:
        if "{question}" not in self.prompt:
            raise ValueError("prompt must contain {question} (where the question goes)")
        return self


def profile() -> str:
    """local | cloud ($PLATFORM_PROFILE, default local)."""
    return os.environ.get("PLATFORM_PROFILE", "local")


def _problems(error: ValidationError) -> str:
    return "; ".join(f"llm.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors())


def parse(section: dict[str, object]) -> LlmSettings:
    """LlmSettings from platform.yaml's `llm:` mapping; LlmConfigError names each wrong key."""
    try:
        return LlmSettings.model_validate(section)
    except ValidationError as error:
        raise LlmConfigError(f"platform.yaml {_problems(error)}") from None


def load(platform_: Platform | None = None) -> LlmSettings:
    return parse((platform_ or platform()).section("llm"))


def resolve(path: str, platform_: Platform | None = None) -> Path:
    """A path of the llm section, relative to the project root unless absolute."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else (platform_ or platform()).path.parent / candidate


def checkpoint(settings: LlmSettings, which: str | None = None) -> str:
    return settings.checkpoint.get(which or profile(), "local")  # type: ignore[call-overload,no-any-return]
