"""Per-key rate limits (gateway.rate_limits): requests and tokens per minute, counted in Redis so
every gateway process enforces one budget per key.

Fixed one-minute windows (the key `<namespace>:rl:<key>:<requests|tokens>:<minute>`). A request is
counted when it arrives (INCR, atomic across processes); its tokens once it is answered, so the
request that crosses the token limit is served and the next ones wait for the next minute.
Cache hits add no tokens (no model ran).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from .settings import RateLimits

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: Literal["requests", "tokens"] | None = None
    retry_after: int = 0  # seconds to the next window


def window(now: float | None = None) -> tuple[int, int]:
    """(the current window's number, whole seconds until the next one)."""
    moment = time.time() if now is None else now
    number = int(moment // WINDOW_SECONDS)
    return number, max(1, int((number + 1) * WINDOW_SECONDS - moment + 0.999))


class RateLimiter:
    def __init__(self, redis: Any, limits: RateLimits, namespace: str) -> None:
        self.redis = redis
        self.limits = limits
        self.prefix = f"{namespace}:rl:"

    def _key(self, api_key: str, kind: str, number: int) -> str:
        return f"{self.prefix}{api_key}:{kind}:{number}"

    async def admit(self, api_key: str) -> Verdict:
        limit = self.limits.of(api_key)
        number, left = window()
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(self._key(api_key, "requests", number))
        pipe.expire(self._key(api_key, "requests", number), 2 * WINDOW_SECONDS)
        pipe.get(self._key(api_key, "tokens", number))
        requests, _, tokens = await pipe.execute()
        if limit.requests_per_minute is not None and int(requests) > limit.requests_per_minute:
            return Verdict(False, "requests", left)
        if limit.tokens_per_minute is not None and int(tokens or 0) >= limit.tokens_per_minute:
            return Verdict(False, "tokens", left)
        return Verdict(True)

    async def add_tokens(self, api_key: str, tokens: int) -> None:
        if tokens <= 0:
            return
        number, _ = window()
        pipe = self.redis.pipeline(transaction=True)
        pipe.incrby(self._key(api_key, "tokens", number), tokens)
        pipe.expire(self._key(api_key, "tokens", number), 2 * WINDOW_SECONDS)
        await pipe.execute()
