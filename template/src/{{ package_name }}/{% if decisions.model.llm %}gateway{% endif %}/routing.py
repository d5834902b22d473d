"""Which model group answers a request: the one it names, else the first routing rule that holds
(gateway.routing.rules: prompt length, answer length, capabilities, keywords), else the default.

Pure functions over the request body, so the rule is data in platform.yaml and tested without servers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .settings import Routing, Rule


class RoutingError(LookupError):
    """No group can take the request; the message says which model names exist."""


@dataclass(frozen=True)
class Features:
    prompt_chars: int
    max_tokens: int | None
    text: str  # the conversation's text, lower case (keywords match in it)
    capabilities: frozenset[str]


@dataclass(frozen=True)
class Route:
    group: str
    reason: str  # "requested", "rule:<name>", "default", or "<why> -> fallback"


def message_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def features(body: Mapping[str, Any]) -> Features:
    messages: Sequence[Mapping[str, Any]] = body.get("messages") or []
    text = "\n".join(message_text(message.get("content")) for message in messages)
    capabilities = set()
    if body.get("tools") or body.get("functions"):
        capabilities.add("tools")
    if (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
        capabilities.add("json")
    if body.get("logprobs") or body.get("top_logprobs"):
        capabilities.add("logprobs")
    if any(
        isinstance(part, dict) and part.get("type") in ("image_url", "input_image")
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
    ):
        capabilities.add("images")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    return Features(len(text), int(limit) if limit is not None else None, text.lower(), frozenset(capabilities))


def holds(rule: Rule, found: Features) -> bool:
    """Whether any condition of the rule holds for the request."""
    return (
        (rule.min_prompt_chars is not None and found.prompt_chars >= rule.min_prompt_chars)
        or (rule.min_max_tokens is not None and (found.max_tokens or 0) >= rule.min_max_tokens)
        or bool(found.capabilities.intersection(rule.capabilities))
        or any(keyword.lower() in found.text for keyword in rule.keywords)
    )


def choose(routing: Routing, model: str, found: Features, available: Iterable[str]) -> Route:
    """The group for a request asking for `model`; a group with no deployment on passes the request to
    its first fallback that has one."""
    groups = set(available)
    if model == routing.auto_model:
        rule = next((rule for rule in routing.rules if holds(rule, found)), None)
        route = Route(rule.to, f"rule:{rule.name}") if rule else Route(routing.default, "default")
    elif model in routing.fallbacks or model in groups or model == routing.default:
        route = Route(model, "requested")
    else:
        names = ", ".join(sorted({routing.auto_model, *groups}))
        raise RoutingError(f"model {model!r} does not exist; this gateway serves {names}")
    if route.group in groups:
        return route
    spare = next((group for group in routing.fallbacks.get(route.group, ()) if group in groups), None)
    if spare is None:
        raise RoutingError(f"no deployment of group {route.group!r} is on, nor of its fallbacks")
    return Route(spare, f"{route.reason} -> fallback ({route.group} has no deployment on)")
