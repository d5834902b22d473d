"""Errors of the serving layer; every message says what went wrong and what to do."""

from __future__ import annotations


class ServingError(RuntimeError):
    """Base class: anything the serving layer refuses or cannot do."""


class BadInputError(ServingError, ValueError):
    """The request itself is wrong (shape, dtype, missing feature, oversized batch); retrying will not help."""


class ModelNotReadyError(ServingError):
    """The server answers but the model is not loaded (unknown name, still loading, failed to load)."""


class ServerUnavailableError(ServingError):
    """The server cannot be reached, or did not answer in time, after all retries."""


class RepositoryError(ServingError):
    """The model repository or the champion model it is built from is missing or malformed."""
