"""`make smoke`'s gateway stage (projects with the language model; the platform's stages are smoke/stages.py).

gateway: the LLM gateway as `make gateway-serve` runs it (a process: LiteLLM's Router behind FastAPI, with
a local redis-server for its cache, limits and spend), over the Triton the smoke started, asked by OpenAI's
own Python client. Held-out questions asked for `auto` must come back equal to LlmClient's answers straight
from Triton, routed as routing.rules say (a plain question and one the rules send elsewhere), each priced
from platform.yaml's prices; the same question again is a cache hit that costs nothing; a streamed answer
equals the plain one; and where gateway.redaction is on, the model answers the masked question.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from ..smoke.runner import SmokeContext, Stage
from ..smoke.stages import StageError

QUESTIONS = 3  # held-out questions asked for `auto`
SAMPLING = {"temperature": 0.0, "max_tokens": 24}  # greedy: the answer is the model's one answer, and cacheable
COMPLEX = "Explain why, step by step: "  # a prefix the shipped rules route to the strong group (rule:complex)
PERSONAL = "jane.doe@example.com"


def stages(base: dict[str, Stage]) -> dict[str, tuple[Stage, ...]]:
    """The gateway stage after the language model's drift check, so its prompts are not in that check."""
    stage = Stage("gateway", "OpenAI chat completions through the LiteLLM gateway to Triton", gateway)
    return {"llm-drift": (base["llm-drift"], stage)}


def gateway(ctx: SmokeContext) -> str:
    import openai

    from ..config import platform
    from ..llm.client import LlmClient
    from ..llm.settings import load as load_llm
    from ..serving.local_redis import redis_server
    from ..serving.settings import ServingSettings
    from .process import GatewayStartError, running
    from .settings import load

    settings, llm, serving = load(), load_llm(), ServingSettings.from_platform()
    grpc = str(ctx.values["triton"]["ports"]["grpc"])
    direct = LlmClient(f"{serving.host}:{grpc}", llm.model_name, defaults=llm.sampling.model_dump())
    questions = held_out(QUESTIONS)
    log = ctx.log_dir / "smoke-gateway.out"
    with redis_server("smoke-gateway-redis-") as redis_url:
        env = {
            **os.environ,
            "PLATFORM_CONFIG": str(platform().path),
            "PLATFORM_PROFILE": "local",
            "GATEWAY_REDIS_URL": redis_url,
            "SERVING_GRPC_PORT": grpc,  # the smoke's Triton (it may run on free ports)
        }
        try:
            with running(env, log, platform().path.parent) as served:
                client = openai.OpenAI(base_url=f"{served.url}/v1", api_key="smoke", max_retries=0, timeout=120)
                answer_of = functools.cache(lambda question: expected(direct, llm.prompt, question))
                figures = ask_all(client, settings, questions, answer_of)
        except GatewayStartError as error:
            raise StageError(str(error)) from error
    return figures


def ask_all(client: Any, settings: Any, questions: list[str], answer_of: Any) -> str:
    """The checks of the stage docstring; the key figure."""
    from .redaction import redact

    routes, spent, tokens = [], 0.0, 0
    cache = "miss" if settings.cache.enabled else "off"
    for question in [*questions, COMPLEX + questions[0]]:
        answer, headers = chat(client, question)
        check_answer(question, answer, headers, answer_of(question), settings)
        if headers["x-gateway-cache"] != cache:
            raise StageError(f"a first question was a cache {headers['x-gateway-cache']}, not a {cache}")
        spent += float(headers["x-gateway-cost-usd"])
        tokens += answer.usage.prompt_tokens + answer.usage.completion_tokens
        routes.append(f"{headers['x-gateway-route']}->{headers['x-gateway-group']}")
    hit = "cache off (gateway.cache.enabled)"
    if settings.cache.enabled:
        started = time.perf_counter()
        again, headers = chat(client, questions[0])
        hit = f"cache hit {(time.perf_counter() - started) * 1000.0:.0f} ms"
        if headers["x-gateway-cache"] != "hit" or float(headers["x-gateway-cost-usd"]) != 0.0:
            raise StageError(f"the same question again was not a free cache hit: {headers}")
        if again.choices[0].message.content != answer_of(questions[0]):
            raise StageError("the cache hit's answer differs from the first answer")
    streamed = stream(client, questions[1])
    if streamed != answer_of(questions[1]):
        raise StageError(f"the streamed answer {streamed!r} differs from the plain one {answer_of(questions[1])!r}")
    masked = ""
    if settings.redaction.enabled and "email" in settings.redaction.kinds:
        personal = f"{questions[2]} My email is {PERSONAL}."
        answer, _ = chat(client, personal)
        clean, found = redact(personal, settings.redaction.kinds)
        if PERSONAL in clean or answer.choices[0].message.content != answer_of(clean):
            raise StageError(f"the answer to a question with an email is not the model's answer to {clean!r}")
        masked = f"; personal data masked ({', '.join(sorted(found))})"
    return (
        f"{len(routes)} answers equal Triton's ({', '.join(sorted(set(routes)))}), {tokens} tokens for "
        f"${spent:.6f}; {hit}; stream equal{masked}"
    )


def check_answer(question: str, answer: Any, headers: dict[str, str], direct: str, settings: Any) -> None:
    """The answer is Triton's, routed as the rules say, priced from platform.yaml's prices."""
    from .routing import choose, features
    from .settings import groups_on

    got = answer.choices[0].message.content
    if got != direct:
        raise StageError(f"the gateway answered {question!r} with {got!r}, Triton directly with {direct!r}")
    body = {"model": settings.routing.auto_model, "messages": ask(question), **SAMPLING}
    on = groups_on(settings, "local", os.environ)
    route = choose(settings.routing, settings.routing.auto_model, features(body), on)
    group, reason = headers["x-gateway-group"], headers["x-gateway-route"]
    if (group, reason) != (route.group, route.reason):
        raise StageError(f"{question!r} went to {group} ({reason}), the rules say {route.group} ({route.reason})")
    name = headers["x-gateway-deployment"]
    price = settings.prices[settings.deployment(name).price]
    usage = answer.usage
    cost = (usage.prompt_tokens * price.input_per_1k + usage.completion_tokens * price.output_per_1k) / 1000
    if abs(float(headers["x-gateway-cost-usd"]) - cost) > 1e-9 + 1e-6 * cost:
        raise StageError(f"{question!r} cost {headers['x-gateway-cost-usd']} USD; its tokens at {name}'s price: {cost}")


def held_out(count: int) -> list[str]:
    """The first `count` held-out questions of llm.questions (the test split)."""
    from ..llm.data import load_pairs
    from ..llm.settings import load, resolve

    pairs = [pair for pair in load_pairs(resolve(load().questions)) if pair.split == "test"]
    return [pair.question for pair in pairs[:count]]


def expected(direct: Any, template: str, question: str) -> str:
    """Triton's greedy answer to the question in llm.prompt, straight from LlmClient."""
    text: str = direct.complete(template.format(question=question), SAMPLING).text
    return text


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def chat(client: Any, question: str) -> tuple[Any, dict[str, str]]:
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=ask(question), **SAMPLING)
    return raw.parse(), {key: value for key, value in raw.headers.items() if key.startswith("x-gateway-")}


def stream(client: Any, question: str) -> str:
    """A streamed answer, its pieces joined (the cache refused, so Triton streams it)."""
    chunks = client.chat.completions.create(
        model="auto", messages=ask(question), stream=True, extra_headers={"cache-control": "no-cache"}, **SAMPLING
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
