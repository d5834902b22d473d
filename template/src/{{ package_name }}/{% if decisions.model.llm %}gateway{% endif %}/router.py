"""LiteLLM's Router over the deployments that are on: one model group per gateway group, retries
with LiteLLM's exponential backoff, fallbacks between groups, cooldowns of failing deployments, and
the response cache in Redis.

    built = build(settings, redis_url="redis://127.0.0.1:6379/1")
    response = await built.router.acompletion(model="cheap", messages=[...])

Each deployment carries its price (gateway.prices, per token) as LiteLLM's custom pricing, so
LiteLLM's own cost agrees with the gateway's accounting. The Router shares its cooldowns through the
same Redis, so a deployment one process found down is skipped by the others too.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import litellm
from litellm.caching.caching import Cache
from litellm.router import Router
from litellm.types.caching import LiteLLMCacheType

from ..config import Platform, platform
from .provider import PROVIDER, Target, TritonProvider, register
from .settings import TRITON, Deployment, GatewaySettings, Profile, enabled

# LiteLLM imports these the first time a response comes from the cache (litellm/caching/caching_handler.py
# asks whether the hit replays as a stream), with dozens of modules behind them: 0.1 s added to that one
# request in every gateway process. build() imports them at start instead (tests/gateway checks that a
# first hit imports nothing).
CACHE_HIT_IMPORTS = ("litellm.llms.anthropic.messages.native.response_cache", "litellm.responses.streaming_iterator")


@dataclass(frozen=True)
class Built:
    router: Router
    provider: TritonProvider
    deployments: dict[str, Deployment]  # the deployments that are on, by name
    groups: dict[str, list[str]]  # group -> its deployments that are on
    off: dict[str, str]  # deployment -> why it is off


def triton_url(deployment: Deployment, env: Mapping[str, str], platform_: Platform) -> str:
    """The deployment's gRPC address: url_env, url, else serving.host:serving.ports.grpc."""
    if deployment.url_env and env.get(deployment.url_env):
        return env[deployment.url_env]
    if deployment.url:
        return deployment.url
    serving = platform_.section("serving")
    port = env.get("SERVING_GRPC_PORT") or serving["ports"]["grpc"]
    return f"{env.get('SERVING_HOST') or serving['host']}:{port}"


def target(deployment: Deployment, settings: GatewaySettings, env: Mapping[str, str], platform_: Platform) -> Target:
    llm = platform_.section("llm")
    tokenizer = None
    if deployment.tokenizer:
        tokenizer = Path(deployment.tokenizer)
        tokenizer = tokenizer if tokenizer.is_absolute() else platform_.path.parent / tokenizer
    return Target(
        url=triton_url(deployment, env, platform_),
        model_name=deployment.model,
        prompt_format=deployment.prompt_format,
        question_template=str(llm.get("prompt", "{question}")),
        defaults=dict(llm.get("sampling") or {}),
        timeout=deployment.timeout_seconds or settings.routing.timeout_seconds,
        tokenizer=tokenizer,
    )


def litellm_params(deployment: Deployment, settings: GatewaySettings, env: Mapping[str, str]) -> dict[str, Any]:
    price = settings.prices[deployment.price]
    params: dict[str, Any] = {
        "input_cost_per_token": price.input_per_1k / 1000,
        "output_cost_per_token": price.output_per_1k / 1000,
        "timeout": deployment.timeout_seconds or settings.routing.timeout_seconds,
    }
    if deployment.provider == TRITON:
        return {"model": f"{PROVIDER}/{deployment.name}", **params}
    params["model"] = f"{deployment.provider}/{deployment.model}"
    if deployment.api_key_env:
        params["api_key"] = env[deployment.api_key_env]
    url = env.get(deployment.url_env, "") if deployment.url_env else ""
    if url or deployment.url:
        params["api_base"] = url or deployment.url
    return params


def model_list(
    settings: GatewaySettings, profile_: Profile, env: Mapping[str, str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """LiteLLM's deployments (the ones that are on) and why each other one is off."""
    deployments, off = [], {}
    for group, members in settings.groups.items():
        for deployment in members:
            on, why = enabled(deployment, profile_, env)
            if not on:
                off[deployment.name] = why
                continue
            deployments.append(
                {
                    "model_name": group,
                    "litellm_params": litellm_params(deployment, settings, env),
                    "model_info": {"id": deployment.name},
                }
            )
    return deployments, off


def build(
    settings: GatewaySettings,
    *,
    redis_url: str,
    profile_: Profile = "local",
    env: Mapping[str, str] | None = None,
    platform_: Platform | None = None,
) -> Built:
    env = dict(os.environ if env is None else env)
    current = platform_ or platform()
    deployments, off = model_list(settings, profile_, env)
    on = {item["model_info"]["id"]: settings.deployment(item["model_info"]["id"]) for item in deployments}
    provider = TritonProvider(
        {name: target(d, settings, env, current) for name, d in on.items() if d.provider == TRITON}
    )
    register(provider)
    if settings.cache.enabled:
        # LiteLLM's cache is process-wide (litellm.cache); the Router reads it for every call.
        litellm.cache = Cache(
            type=LiteLLMCacheType.REDIS,
            url=redis_url,
            ttl=settings.cache.ttl_seconds,
            namespace=settings.cache.namespace,
        )
        for module in CACHE_HIT_IMPORTS:
            with contextlib.suppress(ImportError):  # moved in another LiteLLM release: only the warm-up is lost
                importlib.import_module(module)
    groups: dict[str, list[str]] = {}
    for item in deployments:
        groups.setdefault(item["model_name"], []).append(item["model_info"]["id"])
    routing = settings.routing
    router = Router(
        model_list=deployments,
        redis_url=redis_url,  # cooldowns and usage shared by every gateway process
        cache_responses=settings.cache.enabled,
        num_retries=routing.num_retries,
        retry_after=int(routing.retry_after_seconds),
        timeout=routing.timeout_seconds,
        fallbacks=[
            {group: [g for g in to if g in groups]} for group, to in routing.fallbacks.items() if group in groups
        ],
        allowed_fails=routing.allowed_fails,
        cooldown_time=routing.cooldown_seconds,
    )
    return Built(router, provider, on, groups, off)
