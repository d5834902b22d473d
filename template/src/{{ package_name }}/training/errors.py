"""Errors the training layer raises; each message says what is wrong and what to do."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """Training cannot go on (bad training set, unreachable tracking server, bad settings)."""


class NoChampionError(LookupError):
    """The registered model has no version with the champion alias yet (run `make train`)."""
