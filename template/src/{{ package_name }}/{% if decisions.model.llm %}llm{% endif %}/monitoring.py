"""Prompt monitoring: what people send the language model, against what it was trained on, by PSI.

The Triton model logs every prompt it answers (monitoring.text_drift.TextLog under
`<llm.monitoring_dir>/prompt_log/`): its length in tokens and words, and its embedding (the model's
last hidden state averaged over the prompt's tokens) on the reference prompts' first principal
components. The reference is every labelled question put as a prompt, embedded by the champion when
it is staged for serving (`write_reference`, beside the log), so a new champion brings its own
reference. `check` runs Evidently's PSI on those columns: a shift in prompt length or topic shows up
as drift (`make llm-drift`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from ..lm.model import LanguageModel, context_tokens
from ..monitoring import text_drift
from ..monitoring.text_drift import Projection, TextLog

REFERENCE = "reference.parquet"
PROJECTION = "projection.npz"
PROMPT_LOG = "prompt_log"


@torch.no_grad()
def embed(lm: LanguageModel, prompts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Each prompt's mean last hidden state over its tokens (cut to the context as generation cuts it)."""
    rows = []
    for prompt in prompts:
        ids = [lm.tokenizer.bos_token_id, *lm.tokenizer.encode(prompt, add_special_tokens=False)]
        ids = ids[-max(1, context_tokens(lm) - 1) :]
        hidden = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1]
        rows.append(hidden[0].float().mean(dim=0).numpy())
    return np.asarray(rows, dtype=np.float32)


def features(lm: LanguageModel, prompts: Sequence[str], projection: Projection) -> pd.DataFrame:
    """One row per prompt: its tokens, its words and its embedding's components."""
    frame = pd.DataFrame(
        {
            "prompt_tokens": [len(lm.tokenizer.encode(prompt, add_special_tokens=False)) for prompt in prompts],
            "prompt_words": [len(prompt.split()) for prompt in prompts],
        }
    )
    return frame.assign(**projection.columns(embed(lm, prompts)))


def write_reference(folder: Path, lm: LanguageModel, prompts: Sequence[str]) -> pd.DataFrame:
    """The reference prompts' columns and the projection they define, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    projection = Projection.fit(embed(lm, prompts))
    projection.save(folder / PROJECTION)
    frame = features(lm, prompts, projection)
    frame.to_parquet(folder / REFERENCE, index=False)
    return frame


def check(folder: Path, since: datetime | None = None, platform_: Any = None) -> dict[str, Any]:
    """Drift of the prompts logged since `since` against the staged champion's reference."""
    if not (folder / REFERENCE).is_file():
        raise ValueError(f"{folder / REFERENCE} is missing; stage a champion first (make build-serving)")
    return text_drift.check(pd.read_parquet(folder / REFERENCE), TextLog(folder / PROMPT_LOG), since, platform_)
