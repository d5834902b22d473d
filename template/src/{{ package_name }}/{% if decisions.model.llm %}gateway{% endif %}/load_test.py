"""`make load-test` in a language-model project: what Locust asks the gateway, and the pass line.

The locustfile (loadtest/locustfile.py) streams OpenAI chat completions from the gateway that `make
gateway-serve` started (gateway.host:port), as this project's users call it: the questions of
llm.questions in turn, `model` the routing's auto model (the rules pick the group), streamed, with
`stream_options.include_usage` so the last chunk counts the answer's tokens. Each request asks past
the response cache (`cache-control: no-cache`), so every answer is generated; $LOAD_CACHE=1 lets the
cache answer repeats, as it would in production. $LOAD_API_KEY is sent as the bearer key where the
gateway requires keys (gateway.auth).

All users together offer the target rate (answers.peak_rps, $LOAD_RPS overrides it); at the end
`verdict()` holds Locust's totals to the targets the engine decided for the language model:

- requests/s: at least `load_share` of the offered rate;
- time to the first token, p95: at most decisions.model.llm.alerts.ttft_ms (the latency answer, which
  the time-to-first-token alert also reads);
- the answer's pace after its first token, median: at least
  decisions.model.llm.alerts.min_stream_tokens_per_second (the usage chunk's completion tokens over
  the time from the first to the last chunk);
- failed requests (an HTTP error, an error event in the stream, no text or no end) at most
  decisions.monitoring.error_rate_max of all.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ..config import Platform, platform
from ..llm.data import load_pairs
from ..llm.settings import load as load_llm
from ..llm.settings import resolve
from .settings import load

RPS_ENV, CACHE_ENV, KEY_ENV = "LOAD_RPS", "LOAD_CACHE", "LOAD_API_KEY"
LOAD_SHARE = 0.9  # Locust paces its users; 90% of the offered rate is "kept up"
PATH = "/v1/chat/completions"
# Locust's names for the three series every answer adds (its table has a row for each)
ANSWER, FIRST_TOKEN, PER_TOKEN = "chat completion, streamed", "time to first token", "ms per token after the first"


@dataclass(frozen=True)
class GatewayLoadPlan:
    """One load test of the gateway: where, what, how fast, and the pass line."""

    host: str
    bodies: tuple[dict[str, Any], ...]  # sent in turn
    headers: dict[str, str]
    target_rps: float
    ttft_p95_target_ms: float
    min_tokens_per_second: float
    max_error_rate: float
    load_share: float = LOAD_SHARE
    path: str = PATH


@dataclass(frozen=True)
class Totals:
    """Locust's aggregated numbers for the run (None: no answer had that series)."""

    requests: int
    failures: int
    requests_per_s: float
    ttft_p95_ms: float | None
    ms_per_token_median: float | None


@dataclass
class AnswerStream:
    """One streamed answer, read an SSE line at a time (OpenAI's chunks, as the gateway sends them)."""

    text: str = ""
    completion_tokens: int | None = None
    error: str | None = None
    done: bool = False

    def feed(self, line: bytes | str) -> bool:
        """Read one line; True when it carried text (the caller times the first one)."""
        raw = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
        if not raw.startswith("data:"):
            return False  # blank separators and SSE comments
        payload = raw[len("data:") :].strip()
        if payload == "[DONE]":
            self.done = True
            return False
        try:
            event = json.loads(payload)
        except json.JSONDecodeError:
            self.error = f"not JSON in the stream: {payload[:120]!r}"
            return False
        if "error" in event:
            self.error = str((event["error"] or {}).get("message") or event["error"])[:300]
            return False
        if event.get("usage"):
            self.completion_tokens = int(event["usage"].get("completion_tokens") or 0)
        piece = "".join(str((choice.get("delta") or {}).get("content") or "") for choice in event.get("choices") or [])
        if not piece:
            return False
        self.text += piece
        return True

    def problem(self) -> str | None:
        """Why the answer does not count (None: it does)."""
        if self.error:
            return f"the stream reported an error: {self.error}"
        if not self.done:
            return "the stream ended without [DONE]"
        if not self.text:
            return "the answer streamed no text"
        return None


def ms_per_token(first_s: float, last_s: float, completion_tokens: int | None) -> float | None:
    """Milliseconds per token after the first (None: fewer than two tokens, no pace to measure)."""
    if completion_tokens is None or completion_tokens < 2:
        return None
    return (last_s - first_s) * 1000 / (completion_tokens - 1)


def plan(platform_: Platform | None = None, environ: dict[str, str] | None = None) -> GatewayLoadPlan:
    """The load test of this project's gateway, from platform.yaml ($LOAD_RPS, $LOAD_CACHE, $LOAD_API_KEY)."""
    loaded = platform_ or platform()
    env = os.environ if environ is None else environ
    gateway, llm = load(loaded, env), load_llm(loaded)
    alerts = loaded.decision("model")["llm"]["alerts"]
    target_rps = float(env.get(RPS_ENV) or loaded.answers["peak_rps"])
    if target_rps <= 0:
        raise ValueError(f"${RPS_ENV}: the offered rate must be > 0 requests/s, got {target_rps}")
    questions = [pair.question for pair in load_pairs(resolve(llm.questions, loaded))]
    bodies = tuple(
        {
            "model": gateway.routing.auto_model,
            "messages": [{"role": "user", "content": question}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for question in questions
    )
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if env.get(CACHE_ENV, "") not in ("1", "true", "yes"):
        headers["cache-control"] = "no-cache"
    if env.get(KEY_ENV):
        headers["Authorization"] = f"Bearer {env[KEY_ENV]}"
    return GatewayLoadPlan(
        host=gateway.url,
        bodies=bodies,
        headers=headers,
        target_rps=target_rps,
        ttft_p95_target_ms=float(alerts["ttft_ms"]),
        min_tokens_per_second=float(alerts["min_stream_tokens_per_second"]),
        max_error_rate=float(loaded.decision("monitoring").get("error_rate_max", 0.01)),
    )


def verdict(totals: Totals, plan_: GatewayLoadPlan) -> list[str]:
    """What missed the pass line (empty: passed)."""
    if totals.requests == 0:
        return ["no request was sent"]
    missed = []
    error_rate = totals.failures / totals.requests
    if error_rate > plan_.max_error_rate:
        missed.append(f"{error_rate:.1%} of requests failed (at most {plan_.max_error_rate:.1%})")
    if totals.ttft_p95_ms is None:
        missed.append("no answer streamed a token")
    elif totals.ttft_p95_ms > plan_.ttft_p95_target_ms:
        target = plan_.ttft_p95_target_ms
        missed.append(f"time to first token p95 {totals.ttft_p95_ms:.0f} ms over the {target:.0f} ms target")
    if totals.ms_per_token_median is not None:
        pace = 1000 / totals.ms_per_token_median if totals.ms_per_token_median > 0 else float("inf")
        if pace < plan_.min_tokens_per_second:
            missed.append(f"{pace:.1f} tokens/s after the first token, under {plan_.min_tokens_per_second:g}")
    floor = plan_.load_share * plan_.target_rps
    if totals.requests_per_s < floor:
        share = f"{plan_.load_share:.0%} of {plan_.target_rps:g}"
        missed.append(f"{totals.requests_per_s:.1f} requests/s, under {floor:.1f} ({share})")
    return missed


def report(totals: Totals, plan_: GatewayLoadPlan) -> str:
    """The numbers against their targets, then PASS or FAIL with what missed."""
    ttft = "none" if totals.ttft_p95_ms is None else f"{totals.ttft_p95_ms:.0f} ms"
    per_token = totals.ms_per_token_median
    pace = "n/a" if per_token is None else f"{1000 / per_token:.0f} tokens/s" if per_token > 0 else "under 1 ms a token"
    missed = verdict(totals, plan_)
    return "\n".join(
        [
            f"load test of {plan_.host}{plan_.path}: {totals.requests} requests, {totals.failures} failed, "
            f"{totals.requests_per_s:.1f} requests/s (offered {plan_.target_rps:g}), time to first token p95 "
            f"{ttft} (target {plan_.ttft_p95_target_ms:.0f} ms), median pace {pace} "
            f"(at least {plan_.min_tokens_per_second:g})",
            "load test: PASS" if not missed else "load test: FAIL: " + "; ".join(missed),
        ]
    )
