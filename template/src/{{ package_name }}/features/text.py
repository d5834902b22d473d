"""Hashed token counts: how the text and generation families turn a text into features.

The functions live in tasks/heads/text.py, which Triton's python models also load (they run
without this package installed); this module keeps the import path the data layer uses.
"""

from __future__ import annotations

from ..tasks.heads.text import BUCKETS, bucket, hashed_counts, tokens

__all__ = ["BUCKETS", "bucket", "hashed_counts", "tokens"]
