"""What each request cost, from its tokens and gateway.prices (the engine's price table), and the
day's spend against gateway.budget, kept in Redis so every gateway process adds to one total.

A cache hit costs nothing (no model ran). The day is UTC; its total expires two days later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from .settings import Budget, Price

BudgetState = Literal["ok", "warn", "exceeded"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def of(cls, usage: Any) -> Usage:
        """From an OpenAI/LiteLLM usage object or mapping (None: no tokens)."""
        if usage is None:
            return cls(0, 0)
        read = usage.get if isinstance(usage, dict) else lambda name, default=0: getattr(usage, name, default)
        return cls(int(read("prompt_tokens", 0) or 0), int(read("completion_tokens", 0) or 0))


def cost_usd(usage: Usage, price: Price) -> float:
    return usage.prompt_tokens / 1000 * price.input_per_1k + usage.completion_tokens / 1000 * price.output_per_1k


def state(spent: float, budget: Budget) -> BudgetState:
    if spent >= budget.daily_usd:
        return "exceeded"
    return "warn" if spent >= budget.warn_fraction * budget.daily_usd else "ok"


def crossed(before: float, after: float, budget: Budget) -> BudgetState | None:
    """The threshold this addition crossed (exactly one request crosses each, whichever process)."""
    if state(before, budget) != state(after, budget):
        return state(after, budget)
    return None


def day(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d")


class Ledger:
    """The day's spend in Redis (INCRBYFLOAT is atomic, so processes never lose an addition)."""

    def __init__(self, redis: Any, namespace: str) -> None:
        self.redis = redis
        self.prefix = f"{namespace}:spend:"

    async def add(self, cost: float) -> tuple[float, float]:
        """(the day's total before, after) adding `cost`."""
        key = self.prefix + day()
        if cost <= 0:
            spent = float(await self.redis.get(key) or 0.0)
            return spent, spent
        pipe = self.redis.pipeline(transaction=True)
        pipe.incrbyfloat(key, cost)
        pipe.expire(key, 2 * 86400)
        after = float((await pipe.execute())[0])
        return after - cost, after

    async def spent(self) -> float:
        return float(await self.redis.get(self.prefix + day()) or 0.0)
