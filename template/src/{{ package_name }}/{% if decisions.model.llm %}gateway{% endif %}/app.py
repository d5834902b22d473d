"""The gateway's HTTP server: OpenAI's chat completions API over LiteLLM's Router (FastAPI).

    POST /v1/chat/completions   OpenAI's request and response, streamed (SSE) or not; `model` is a
                                group (cheap, strong ...) or routing.auto_model to let the rules pick
    GET  /v1/models             the groups that have a deployment on, and the auto model
    GET  /metrics               Prometheus (gateway/metrics.py)
    GET  /health                Redis answers and every group has a deployment on

Each request, in order: its API key (Authorization: Bearer), the budget when on_exceed is block,
the key's rate limits, redaction, the route, then the Router (retries, fallbacks, cache). What it
cost is in the response (`x-gateway-*` headers and a `gateway` object beside `usage`; a stream
carries it in its usage chunk, which `stream_options.include_usage` asks for as in OpenAI's API),
in one JSON log line per request (no prompt text) and in the metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..config import Platform, platform
from ..serving.heap import freeze_startup_heap
from . import accounting
from .accounting import Ledger, Usage
from .limits import RateLimiter
from .metrics import GatewayMetrics
from .redaction import redact_messages
from .router import Built, build
from .routing import RoutingError, choose, features
from .settings import GatewayConfigError, GatewaySettings, Profile, api_keys, load, profile, redis_url

log = logging.getLogger(__name__)
ANONYMOUS = "anonymous"
# OpenAI request fields passed on to the model; the rest (model, messages, stream ...) the gateway reads.
PASSED = (
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "seed",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "user",
)


def error(status: int, message: str, kind: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """OpenAI's error body."""
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, dict(headers or {}))


def send_alert(text: str) -> None:
    """To monitoring.alerts' webhook when alerts are on (never raises; a failure is logged)."""
    from ..monitoring.alerts import AlertSettings, send

    problem = send(AlertSettings.from_platform(), {"text": text})
    if problem:
        log.warning("budget alert not delivered: %s", problem)


@dataclass
class Outcome:
    """One answer's accounting."""

    deployment: str | None = None
    cache_hit: bool = False
    usage: Usage = field(default_factory=lambda: Usage(0, 0))
    cost_usd: float = 0.0


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        built: Built,
        redis: Any,
        *,
        keys: Mapping[str, str],
        alert: Callable[[str], None] = send_alert,
    ) -> None:
        self.settings = settings
        self.built = built
        self.redis = redis
        self.keys = dict(keys)
        self.alert = alert
        namespace = settings.cache.namespace
        self.limiter = RateLimiter(redis, settings.rate_limits, namespace)
        self.ledger = Ledger(redis, namespace)
        self.metrics = GatewayMetrics()
        self.metrics.daily_budget.set(settings.budget.daily_usd)

    # ------------------------------------------------------------------------------ the steps

    def key_name(self, authorization: str | None) -> str | None:
        """The key's name; None when keys are configured and this is not one of them."""
        if not self.keys:
            return ANONYMOUS
        scheme, _, secret = (authorization or "").partition(" ")
        return self.keys.get(secret.strip()) if scheme.lower() == "bearer" else None

    async def account(self, key: str, outcome: Outcome) -> None:
        """Price the answer, add its tokens to the key's window and its cost to the day's spend."""
        if outcome.deployment is not None and not outcome.cache_hit:
            price = self.settings.prices[self.settings.deployment(outcome.deployment).price]
            outcome.cost_usd = accounting.cost_usd(outcome.usage, price)
            await self.limiter.add_tokens(key, outcome.usage.total)
        label = outcome.deployment or "unknown"
        self.metrics.tokens.labels(key, label, "prompt").inc(outcome.usage.prompt_tokens)
        self.metrics.tokens.labels(key, label, "completion").inc(outcome.usage.completion_tokens)
        self.metrics.cost.labels(key, label).inc(outcome.cost_usd)
        before, after = await self.ledger.add(outcome.cost_usd)
        self.metrics.spend_today.set(after)
        budget = self.settings.budget
        self.metrics.budget_exceeded.set(1 if accounting.state(after, budget) == "exceeded" else 0)
        crossed = accounting.crossed(before, after, budget)
        if crossed is not None:
            text = (
                f"LLM gateway: the day's spend ${after:.4f} {'reached' if crossed == 'exceeded' else 'passed'} "
                f"{'the' if crossed == 'exceeded' else f'{budget.warn_fraction:.0%} of the'} daily budget "
                f"${budget.daily_usd:.2f} (gateway.budget; on_exceed: {budget.on_exceed})"
            )
            log.warning(json.dumps({"event": "budget", "state": crossed, "spent_usd": after, "message": text}))
            await asyncio.get_running_loop().run_in_executor(None, self.alert, text)

    def served(self, group: str, outcome: Outcome) -> None:
        if outcome.deployment is None:
            return
        served_group = self.settings.group_of(outcome.deployment) or "unknown"
        self.metrics.served.labels(served_group, outcome.deployment).inc()
        if outcome.cache_hit:
            self.metrics.cache_hits.labels(group).inc()
        if served_group != group:
            self.metrics.fallbacks.labels(group, served_group).inc()

    def record(self, entry: dict[str, Any], outcome: Outcome, started: float) -> None:
        entry.update(
            deployment=outcome.deployment,
            cache_hit=outcome.cache_hit,
            prompt_tokens=outcome.usage.prompt_tokens,
            completion_tokens=outcome.usage.completion_tokens,
            cost_usd=round(outcome.cost_usd, 14),
            seconds=round(time.perf_counter() - started, 4),
        )
        self.metrics.requests.labels(entry["key"], entry.get("group", "none"), str(entry["status"])).inc()
        log.info(json.dumps({"event": "request", **entry}))

    # ------------------------------------------------------------------------------ the endpoint

    async def chat(self, request: Request) -> Response:
        from redis.exceptions import RedisError

        try:
            return await self._chat(request)
        except RedisError as problem:  # limits, spend and the cache live there: no answer without it
            log.error(json.dumps({"event": "redis_error", "error": str(problem)[:300]}))
            return error(503, f"the gateway's Redis is unavailable: {problem}", "service_unavailable")

    async def _chat(self, request: Request) -> Response:
        started = time.perf_counter()
        key = self.key_name(request.headers.get("authorization"))
        if key is None:
            return error(401, "invalid API key (Authorization: Bearer <key>)", "invalid_request_error")
        entry: dict[str, Any] = {"key": key}
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return self.refuse(
                entry, error(400, "the body must be JSON with a non-empty `messages` list", "invalid_request_error")
            )
        budget = self.settings.budget
        if budget.on_exceed == "block" and accounting.state(await self.ledger.spent(), budget) == "exceeded":
            return self.refuse(
                entry, error(429, f"the daily budget (${budget.daily_usd:.2f}) is spent", "insufficient_quota")
            )
        verdict = await self.limiter.admit(key)
        if not verdict.allowed:
            self.metrics.rate_limited.labels(key, str(verdict.limit)).inc()
            message = f"rate limit of key {key!r}: {verdict.limit} per minute; retry in {verdict.retry_after} s"
            headers = {"retry-after": str(verdict.retry_after)}
            return self.refuse(entry, error(429, message, "rate_limit_exceeded", headers), verdict.limit)
        messages: list[dict[str, Any]] = body["messages"]
        found: Counter[str] = Counter()
        if self.settings.redaction.enabled:
            messages, found = redact_messages(messages, self.settings.redaction.kinds)
            for kind, count in found.items():
                self.metrics.redactions.labels(kind).inc(count)
        try:
            route = choose(self.settings.routing, str(body.get("model", "")), features(body), self.built.groups)
        except RoutingError as problem:
            return self.refuse(entry, error(404, str(problem), "invalid_request_error"))
        self.metrics.routes.labels(route.group, route.reason.split(" ", 1)[0]).inc()
        entry.update(group=route.group, route=route.reason, stream=bool(body.get("stream")), redactions=dict(found))
        arguments: dict[str, Any] = {key_: body[key_] for key_ in PASSED if body.get(key_) is not None}
        arguments.update(model=route.group, messages=messages, metadata={"gateway_key": key})
        cache = self.cache_use(body, request)
        if not cache:
            arguments["cache"] = {"no-cache": True, "no-store": True}
        headers = {"x-gateway-group": route.group, "x-gateway-route": route.reason}
        if body.get("stream"):
            return await self.stream(arguments, body, entry, headers, started)
        outcome = Outcome()
        try:
            response = await self.built.router.acompletion(**arguments)
        except Exception as problem:
            return self.failed(entry, outcome, started, problem)
        hidden = getattr(response, "_hidden_params", {}) or {}
        outcome.deployment, outcome.cache_hit = hidden.get("model_id"), bool(hidden.get("cache_hit"))
        outcome.usage = Usage.of(getattr(response, "usage", None))
        await self.account(key, outcome)
        self.served(route.group, outcome)
        entry["status"] = 200
        self.record(entry, outcome, started)
        self.metrics.latency.labels(route.group, "false").observe(time.perf_counter() - started)
        payload = json.loads(response.model_dump_json(exclude_none=True))
        payload["gateway"] = self.summary(route.group, outcome, cache)
        headers.update(
            {
                "x-gateway-deployment": str(outcome.deployment),
                "x-gateway-cache": "hit" if outcome.cache_hit else ("miss" if cache else "off"),
                "x-gateway-prompt-tokens": str(outcome.usage.prompt_tokens),
                "x-gateway-completion-tokens": str(outcome.usage.completion_tokens),
                "x-gateway-cost-usd": f"{outcome.cost_usd:.12g}",
            }
        )
        return JSONResponse(payload, headers=headers)

    async def stream(
        self,
        arguments: dict[str, Any],
        body: Mapping[str, Any],
        entry: dict[str, Any],
        headers: dict[str, str],
        started: float,
    ) -> Response:
        outcome = Outcome()
        try:
            chunks = await self.built.router.acompletion(
                **arguments, stream=True, stream_options={"include_usage": True}
            )
        except Exception as problem:
            return self.failed(entry, outcome, started, problem)
        # a replayed cache hit is flagged on the stream (some LiteLLM releases), or on its chunks (others)
        outcome.cache_hit = bool((getattr(chunks, "_hidden_params", {}) or {}).get("cache_hit"))
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        group, key, cache = entry["group"], entry["key"], "cache" not in arguments

        async def events() -> AsyncIterator[str]:
            entry["status"] = 200
            data: dict[str, Any] = {}
            try:
                async for chunk in chunks:
                    hidden = getattr(chunk, "_hidden_params", {}) or {}
                    outcome.deployment = hidden.get("model_id") or outcome.deployment
                    outcome.cache_hit = outcome.cache_hit or bool(hidden.get("cache_hit"))
                    data = json.loads(chunk.model_dump_json(exclude_none=True))
                    usage = data.pop("usage", None)
                    if usage:
                        outcome.usage = Usage.of(usage)
                        if not data.get("choices"):
                            continue  # the usage chunk goes out last, once priced
                    if data.get("choices"):
                        yield f"data: {json.dumps(data)}\n\n"
                await self.account(key, outcome)
                self.served(group, outcome)
                if wants_usage:
                    last = {**data, "choices": [], "usage": _usage_dict(outcome.usage)}
                    last["gateway"] = self.summary(group, outcome, cache)
                    yield f"data: {json.dumps(last)}\n\n"
            except Exception as problem:
                entry.update(status=_status(problem), error=str(problem)[:300])
                message = {"error": {"message": str(problem), "type": type(problem).__name__, "code": entry["status"]}}
                yield f"data: {json.dumps(message)}\n\n"
            finally:
                self.record(entry, outcome, started)
                self.metrics.latency.labels(group, "true").observe(time.perf_counter() - started)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    # ------------------------------------------------------------------------------ helpers

    def cache_use(self, body: Mapping[str, Any], request: Request) -> bool:
        """Whether this request may be answered from the cache (and stored in it)."""
        cache = self.settings.cache
        temperature = body.get("temperature")
        sampled = temperature is not None and float(temperature) > cache.max_temperature
        refused = "no-cache" in request.headers.get("cache-control", "").lower()
        return cache.enabled and not sampled and not refused

    def summary(self, group: str, outcome: Outcome, cache: bool) -> dict[str, Any]:
        return {
            "group": group,
            "deployment": outcome.deployment,
            "cache": "hit" if outcome.cache_hit else ("miss" if cache else "off"),
            "cost_usd": round(outcome.cost_usd, 14),
        }

    def refuse(self, entry: dict[str, Any], response: JSONResponse, limit: str | None = None) -> JSONResponse:
        entry["status"] = response.status_code
        if limit:
            entry["limit"] = limit
        self.metrics.requests.labels(entry["key"], entry.get("group", "none"), str(response.status_code)).inc()
        log.info(json.dumps({"event": "request", **entry}))
        return response

    def failed(self, entry: dict[str, Any], outcome: Outcome, started: float, problem: Exception) -> JSONResponse:
        status = _status(problem)
        entry.update(status=status, error=str(problem)[:300])
        self.record(entry, outcome, started)
        return error(status, str(problem), type(problem).__name__)


def _status(problem: Exception) -> int:
    status = getattr(problem, "status_code", None)
    return int(status) if isinstance(status, int) and 400 <= status < 600 else 502


def _usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total,
    }


LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def quiet_litellm(env: Mapping[str, str]) -> None:
    """LiteLLM's loggers print through a handler of their own and then through the root's (every line
    twice), and at INFO they log four lines per call beside the gateway's one: their own handler only,
    at WARNING unless $LITELLM_LOG names another level."""
    wanted = env.get("LITELLM_LOG", "WARNING").upper()
    level = wanted if wanted in logging.getLevelNamesMapping() else "WARNING"
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        logger.propagate = False
        logger.setLevel(level)


def create_app(
    settings: GatewaySettings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    platform_: Platform | None = None,
    profile_: Profile | None = None,
    alert: Callable[[str], None] = send_alert,
) -> FastAPI:
    """The gateway app for this project's platform.yaml (or the given settings)."""
    import redis.asyncio as aioredis

    # uvicorn's workers configure only uvicorn's loggers: the request log lines need a handler
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    env = dict(os.environ if env is None else env)
    quiet_litellm(env)
    current = platform_ or platform()
    settings = settings or load(current, env)
    chosen = profile_ or profile()
    keys = api_keys(settings, env)
    if not keys and settings.auth.required.get(chosen, True):
        raise GatewayConfigError(
            f"the {chosen} profile requires API keys: set ${settings.auth.keys_env} (name=secret,...)"
        )
    url = redis_url(settings, chosen, env)
    built = build(settings, redis_url=url, profile_=chosen, env=env, platform_=current)
    if not built.groups:
        raise GatewayConfigError(f"no deployment is on in the {chosen} profile: {built.off}")
    redis = aioredis.from_url(url)
    gateway = Gateway(settings, built, redis, keys=keys, alert=alert)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name, why in built.off.items():
            log.info(json.dumps({"event": "deployment_off", "deployment": name, "why": why}))
        freeze_startup_heap()  # LiteLLM's 400,000 startup objects out of every full collection
        yield
        await redis.aclose()

    app = FastAPI(title="LLM gateway", lifespan=lifespan)
    app.state.gateway = gateway

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await gateway.chat(request)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        names = [settings.routing.auto_model, *built.groups]
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "gateway"} for name in names]}

    @app.get("/metrics")
    async def metrics() -> Response:
        spent = await gateway.ledger.spent()
        gateway.metrics.spend_today.set(spent)
        gateway.metrics.budget_exceeded.set(1 if accounting.state(spent, settings.budget) == "exceeded" else 0)
        return Response(gateway.metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.get("/health")
    async def health() -> Response:
        try:
            await redis.ping()
        except Exception as problem:
            return error(503, f"redis: {problem}", "unavailable")
        return JSONResponse({"status": "ok", "groups": built.groups, "off": built.off})

    return app
