"""The `gateway:` section of platform.yaml: model groups and their deployments, the routing rules,
retries and fallbacks, the response cache, per-key rate limits, prices and the daily budget, and
redaction.

Rendered from the decisions (partials/platform/gateway.yaml.jinja) and validated once at load: a
wrong key or a reference to a group or price row that does not exist fails with the key's path.
Which deployments are on is decided here too (`enabled`): a deployment runs in the profiles it
lists, and one that names an API key variable is off until that variable is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import Platform, platform

Profile = Literal["local", "cloud"]
NAME = r"^[A-Za-z0-9_.-]+$"
TRITON = "triton"  # the custom provider over llm.client.LlmClient (gateway/provider.py)
REDIS_ENV = "GATEWAY_REDIS_URL"
PORT_ENV = "GATEWAY_PORT"  # replaces gateway.port: two projects' gateways side by side on one machine
T = TypeVar("T")


def _per_profile(**values: T) -> dict[Profile, T]:
    return {"local" if name == "local" else "cloud": value for name, value in values.items()}


class GatewayConfigError(ValueError):
    """The gateway section is invalid; the message names the key and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Section):
    """USD per 1K tokens (the engine's price table, `api:` rows, or the self-hosted estimate)."""

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)
    source: str = ""


class Deployment(_Section):
    name: str = Field(pattern=NAME, description="Unique; the metrics' and the logs' label")
    provider: str = Field(description="triton (this project's Triton over gRPC) or LiteLLM's: openai, anthropic ...")
    model: str = Field(description="triton: the Triton model name; otherwise the provider's model name")
    url: str | None = Field(default=None, description="triton: host:grpc-port (null: serving.host, serving.ports.grpc)")
    url_env: str | None = Field(default=None, description="A variable that, when set, replaces url")
    api_key_env: str | None = Field(default=None, description="The deployment is off until this variable is set")
    profiles: tuple[Profile, ...] = ("local", "cloud")
    price: str = Field(description="A row of gateway.prices")
    prompt_format: Literal["question", "llama3"] = Field(
        default="question", description="triton: llm.prompt around the last question, or Llama 3's chat format"
    )
    tokenizer: str | None = Field(
        default=None, description="triton: a tokenizer.json to count tokens with (null: LiteLLM's estimate)"
    )
    timeout_seconds: float | None = Field(default=None, gt=0, description="Per attempt; null: routing.timeout_seconds")


class Rule(_Section):
    """Send a request to `to` when any condition given here holds."""

    name: str = Field(pattern=NAME)
    to: str
    min_prompt_chars: int | None = Field(default=None, ge=1, description="The conversation's characters")
    min_max_tokens: int | None = Field(default=None, ge=1, description="The answer length the request asks for")
    keywords: tuple[str, ...] = Field(default=(), description="Words that mark a hard question (any, case-insensitive)")
    capabilities: tuple[Literal["tools", "json", "logprobs", "images"], ...] = ()


class Routing(_Section):
    auto_model: str = Field(default="auto", pattern=NAME, description="The model name that asks the rules to pick")
    default: str = "cheap"
    rules: tuple[Rule, ...] = ()
    fallbacks: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    num_retries: int = Field(default=2, ge=0, le=10, description="Per group, before its fallbacks")
    retry_after_seconds: float = Field(default=0.0, ge=0, description="Least wait before a retry")
    timeout_seconds: float = Field(default=60.0, gt=0)
    allowed_fails: int = Field(default=1, ge=0, description="Failures a minute before a deployment cools down")
    cooldown_seconds: float = Field(default=30.0, ge=0)


class Cache(_Section):
    enabled: bool = True
    ttl_seconds: int = Field(default=3600, ge=1)
    max_temperature: float = Field(default=0.0, ge=0, description="Sampled answers above: no cache")
    namespace: str = Field(default="gateway", pattern=NAME)


class Limit(_Section):
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)


class RateLimits(_Section):
    default: Limit = Limit()
    keys: dict[str, Limit] = Field(default_factory=dict, description="By key name (auth.keys_env)")

    def of(self, key: str) -> Limit:
        return self.keys.get(key, self.default)


class Budget(_Section):
    daily_usd: float = Field(gt=0)
    warn_fraction: float = Field(default=0.8, gt=0, le=1)
    on_exceed: Literal["alert", "block"] = "alert"


class Redaction(_Section):
    enabled: bool = False
    kinds: tuple[Literal["email", "phone", "card", "iban", "ssn", "ipv4"], ...] = ("email", "phone", "card")


class Auth(_Section):
    keys_env: str = Field(default="GATEWAY_API_KEYS", description="name=secret pairs, comma-separated")
    required: dict[Profile, bool] = Field(default_factory=lambda: _per_profile(local=False, cloud=True))


class GatewaySettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8010, ge=0, le=65535)
    redis_url: dict[Profile, str] = Field(default_factory=lambda: _per_profile(local="redis://127.0.0.1:6379/1"))
    auth: Auth = Auth()
    groups: dict[str, tuple[Deployment, ...]] = Field(description="Model groups (cheap, strong ...)")
    routing: Routing = Routing()
    cache: Cache = Cache()
    rate_limits: RateLimits = RateLimits()
    prices: dict[str, Price]
    budget: Budget
    redaction: Redaction = Redaction()

    @property
    def url(self) -> str:
        """http://host:port where `serve` listens; a wildcard bind address is reached on the loopback."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @model_validator(mode="after")
    def _references_exist(self) -> GatewaySettings:
        groups = set(self.groups)
        names = [deployment.name for deployments in self.groups.values() for deployment in deployments]
        if len(names) != len(set(names)):
            raise ValueError(f"deployment names must be unique, got {sorted(names)}")
        for deployment in (d for deployments in self.groups.values() for d in deployments):
            if deployment.price not in self.prices:
                raise ValueError(f"deployment {deployment.name}: price {deployment.price!r} is not in prices")
        wanted = {
            "routing.default": [self.routing.default],
            "routing.rules": [rule.to for rule in self.routing.rules],
            "routing.fallbacks": [*self.routing.fallbacks, *(g for gs in self.routing.fallbacks.values() for g in gs)],
        }
        for where, named in wanted.items():
            for group in named:
                if group not in groups:
                    raise ValueError(f"{where}: group {group!r} is not in groups ({', '.join(sorted(groups))})")
        if self.routing.auto_model in groups:
            raise ValueError(f"routing.auto_model {self.routing.auto_model!r} must differ from the group names")
        return self

    def group_of(self, deployment_name: str) -> str | None:
        return next((g for g, ds in self.groups.items() if any(d.name == deployment_name for d in ds)), None)

    def deployment(self, name: str) -> Deployment:
        return next(d for ds in self.groups.values() for d in ds if d.name == name)


def profile() -> Profile:
    """local | cloud ($PLATFORM_PROFILE, default local)."""
    return "cloud" if os.environ.get("PLATFORM_PROFILE") == "cloud" else "local"


def groups_on(settings: GatewaySettings, profile_: Profile, env: Mapping[str, str]) -> list[str]:
    """The groups with at least one deployment on in `profile_` (what the gateway serves)."""
    return [group for group, members in settings.groups.items() if any(enabled(d, profile_, env)[0] for d in members)]


def enabled(deployment: Deployment, profile_: Profile, env: Mapping[str, str]) -> tuple[bool, str]:
    """Whether a deployment is on, and why not."""
    if profile_ not in deployment.profiles:
        return False, f"not in the {profile_} profile (profiles: {', '.join(deployment.profiles)})"
    if deployment.api_key_env and not env.get(deployment.api_key_env):
        return False, f"${deployment.api_key_env} is not set"
    return True, "on"


def redis_url(settings: GatewaySettings, profile_: Profile, env: Mapping[str, str]) -> str:
    url = env.get(REDIS_ENV) or settings.redis_url.get(profile_)
    if not url:
        raise GatewayConfigError(
            f"no Redis for the {profile_} profile: set gateway.redis_url.{profile_} or ${REDIS_ENV}"
        )
    return url


def api_keys(settings: GatewaySettings, env: Mapping[str, str]) -> dict[str, str]:
    """secret -> key name, from `name=secret,name2=secret2` in auth.keys_env."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in env.get(settings.auth.keys_env, "").split(","))):
        name, separator, secret = item.partition("=")
        if not separator or not name.strip() or not secret.strip():
            raise GatewayConfigError(f"${settings.auth.keys_env}: {item.split('=')[0]!r}... is not name=secret")
        keys[secret.strip()] = name.strip()
    return keys


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"gateway.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}".replace(
            "gateway.: ", "gateway: "
        ).replace("Value error, ", "")
        for item in error.errors()
    )


def parse(section: Mapping[str, object]) -> GatewaySettings:
    """GatewaySettings from platform.yaml's `gateway:` mapping; GatewayConfigError names each wrong key."""
    try:
        return GatewaySettings.model_validate(section)
    except ValidationError as error:
        raise GatewayConfigError(f"platform.yaml {_problems(error)}") from None


def load(platform_: Platform | None = None, env: Mapping[str, str] | None = None) -> GatewaySettings:
    """The gateway section, with $GATEWAY_PORT (when set) in place of gateway.port."""
    settings = parse((platform_ or platform()).section("gateway"))
    port = (os.environ if env is None else env).get(PORT_ENV, "")
    if not port:
        return settings
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise GatewayConfigError(f"${PORT_ENV}={port!r} is not a port (1-65535); unset it to use gateway.port")
    return settings.model_copy(update={"port": int(port)})
