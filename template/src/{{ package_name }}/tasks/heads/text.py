"""Hashed token counts: how the text and generation families turn a text into features.

Serving (the text embedding head in Triton) uses the same function on a request's text, so training
and serving features match. NumPy and the standard library only: Triton loads this file without the package.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import numpy.typing as npt

BUCKETS = 32
_TOKEN = re.compile(r"[a-z0-9']+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _TOKEN.findall(text.lower())


def bucket(token: str, buckets: int = BUCKETS) -> int:
    """A token's bucket: CRC32 modulo the bucket count (stable across processes, unlike hash())."""
    return zlib.crc32(token.encode("utf-8")) % buckets


def hashed_counts(text: str, buckets: int = BUCKETS) -> list[float]:
    """Token counts per bucket: the h_00..h_31 features of a text."""
    counts = [0.0] * buckets
    for token in tokens(text):
        counts[bucket(token, buckets)] += 1.0
    return counts


def hashed(texts: list[str], buckets: int) -> npt.NDArray[np.float32]:
    """Hashed token counts [n, buckets] of texts: a batch of hashed_counts, as FP32."""
    rows = [hashed_counts(text, buckets) for text in texts]
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), buckets)
