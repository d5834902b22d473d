"""The champion's answer as it is decoded, piece by piece: what the Triton model `llm` streams (one
response per piece), `make llm-generate` prints and the smoke compares with Triton's stream.

    for piece in stream(lm, prompt, sampling):   # lm: lm.model.load(folder)
        print(piece, end="", flush=True)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import torch
from transformers.generation.streamers import BaseStreamer

from ..lm.model import LanguageModel, generation_inputs
from ..lm.params import Sampling


class TokenStreamer(BaseStreamer):
    """What transformers' generate() decodes, handed over token by token: each new token's text as soon as it
    decodes to whole characters (a byte-level token can end inside a UTF-8 sequence). transformers'
    TextIteratorStreamer waits for a space instead, which delays the first piece by a word."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.pieces: queue.Queue[str | None] = queue.Queue()
        self.ids: list[int] = []
        self.sent = ""
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate() hands over the prompt first
            self.prompt_seen = True
            return
        self.ids.extend(int(token) for token in value.reshape(-1).tolist())
        self._send(final=False)

    def end(self) -> None:
        self._send(final=True)
        self.pieces.put(None)

    def _send(self, *, final: bool) -> None:
        text = str(self.tokenizer.decode(self.ids, skip_special_tokens=True))
        if (final or not text.endswith("\ufffd")) and len(text) > len(self.sent):
            self.pieces.put(text[len(self.sent) :])
            self.sent = text


def stream(lm: LanguageModel, prompt: str, sampling: Sampling, seed: int | None = None) -> Iterator[str]:
    """The completion of `prompt` as pieces of text, one per generated token that completes a
    character; their concatenation equals lm.model.generate()'s text."""
    inputs, kwargs = generation_inputs(lm, prompt, sampling, seed)
    streamer = TokenStreamer(lm.tokenizer)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with torch.no_grad():
                lm.model.generate(**inputs, **kwargs, streamer=streamer)
        except BaseException as error:  # re-raised in the caller's thread
            failure.append(error)
            streamer.end()

    worker = threading.Thread(target=run, name="llm-generate", daemon=True)
    worker.start()
    while (piece := streamer.pieces.get()) is not None:
        yield piece
    worker.join()
    if failure:
        raise failure[0]
