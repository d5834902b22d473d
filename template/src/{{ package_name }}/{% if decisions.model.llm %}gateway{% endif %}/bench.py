"""`python -m <package>.gateway.bench`: what the gateway adds to a request, measured in one run.

For the same prompts, interleaved so both see the same machine: LlmClient straight to Triton, and
OpenAI's chat completions through the gateway (cache off) to the same Triton; the overhead is the
difference of each pair. Then cache hits, and the time to the first streamed piece both ways.

    --triton HOST:PORT   a Triton serving the llm model (default: start one on the registry champion,
                         or on --model-folder, a save_pretrained folder)
    --redis URL          default: start a redis-server in a temporary folder

The gateway runs in this process (uvicorn in a thread) with platform.yaml's gateway section, its
deployments pointed at that Triton.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..serving.errors import ServingError
from ..serving.local_redis import redis_server
from ..serving.server import free_port

WARMUP = 3


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def row(name: str, seconds: list[float]) -> tuple[str, int, float, float]:
    return name, len(seconds), statistics.median(seconds) * 1000, percentile(seconds, 0.95) * 1000


def table(rows: list[tuple[str, int, float, float]]) -> str:
    lines = [f"{'':44} {'n':>4} {'p50 ms':>9} {'p95 ms':>9}"]
    lines += [f"{name:44} {n:>4} {p50:>9.2f} {p95:>9.2f}" for name, n, p50, p95 in rows]
    return "\n".join(lines)


@contextlib.contextmanager
def triton(model_folder: Path | None) -> Iterator[str]:
    """A local Triton serving the language model (the champion unless `model_folder`)."""
    from ..config import platform
    from ..llm import serving
    from ..llm.settings import load
    from ..llm.steps import champion_folder
    from ..serving.server import LocalTriton

    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as scratch:
        folder = model_folder or champion_folder(Path(scratch) / "champion")
        if folder is None:
            raise SystemExit("no champion language model: run `make llm-train`, or pass --model-folder or --triton")
        llm = load()
        serving.stage_model(Path(scratch) / "repo", folder, str(platform().project["package"]), defaults=llm.sampling)
        with LocalTriton(Path(scratch) / "repo", state_dir=Path(scratch) / "triton") as server:
            yield server.grpc_url


@contextlib.contextmanager
def gateway(triton_url: str, redis_url: str, tokenizer: Path | None = None) -> Iterator[str]:
    """The gateway app on a free port (this process), both local deployments on `triton_url`."""
    import uvicorn

    from ..config import platform
    from .app import create_app
    from .settings import parse

    section = json.loads(json.dumps(platform().section("gateway")))
    for members in section["groups"].values():
        for deployment in members:
            if deployment["provider"] == "triton":
                deployment.update(
                    url=triton_url, tokenizer=str(tokenizer) if tokenizer else deployment.get("tokenizer")
                )
    section["rate_limits"] = {"default": {}, "keys": {}}
    section["cache"] = {**section["cache"], "enabled": True, "namespace": f"bench-{uuid.uuid4().hex[:8]}"}
    app = create_app(parse(section), env={"GATEWAY_REDIS_URL": redis_url}, profile_="local", alert=lambda text: None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def measure(
    triton_url: str, gateway_url: str, questions: list[str], max_tokens: int
) -> list[tuple[str, int, float, float]]:
    """The table's rows: direct and gateway latencies of the same prompts, the paired overhead,
    cache hits, and the first streamed piece both ways."""
    import httpx

    from ..llm.client import LlmClient
    from ..llm.settings import load

    llm = load()
    sampling = {"max_tokens": max_tokens, "temperature": 0.0}
    direct = LlmClient(triton_url, llm.model_name, defaults=llm.sampling.model_dump())
    http = httpx.Client(base_url=gateway_url, timeout=120)

    def body(question: str, **extra: Any) -> dict[str, Any]:
        return {"model": "cheap", "messages": [{"role": "user", "content": question}], **sampling, **extra}

    def timed(call: Callable[[], Any]) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    def through_gateway(question: str) -> None:
        answer = http.post("/v1/chat/completions", json=body(question), headers={"cache-control": "no-cache"})
        answer.raise_for_status()

    def first_piece(question: str) -> float:
        started = time.perf_counter()
        with http.stream("POST", "/v1/chat/completions", json=body(question, stream=True)) as answer:
            for line in answer.iter_lines():
                if line.startswith("data: {") and '"content"' in line:
                    return time.perf_counter() - started
        raise RuntimeError("the gateway streamed no text")

    for question in questions[:WARMUP]:
        direct.complete(llm.prompt.format(question=question), sampling)
        through_gateway(question)
    straight, routed, hits, direct_first, routed_first = [], [], [], [], []
    for question in questions:
        prompt = llm.prompt.format(question=question)
        straight.append(timed(lambda prompt=prompt: direct.complete(prompt, sampling)))  # type: ignore[misc]
        routed.append(timed(lambda question=question: through_gateway(question)))  # type: ignore[misc]
    overhead = [g - d for g, d in zip(routed, straight, strict=True)]
    for question in questions:
        unique = f"{question} ({uuid.uuid4().hex[:6]})"
        http.post("/v1/chat/completions", json=body(unique)).raise_for_status()  # stored
        hits.append(timed(lambda unique=unique: http.post("/v1/chat/completions", json=body(unique))))  # type: ignore[misc]
    for question in questions:
        first = direct.stream(llm.prompt.format(question=question), sampling).time_to_first_token
        direct_first.append(first or 0.0)
        routed_first.append(first_piece(f"{question} ({uuid.uuid4().hex[:6]})"))
    http.close()
    return [
        row("LlmClient.complete -> Triton (direct)", straight),
        row("gateway, cache off -> same Triton", routed),
        row("gateway overhead (paired difference)", overhead),
        row("gateway, cache hit (Redis)", hits),
        row("first streamed piece, direct", direct_first),
        row("first streamed piece, through the gateway", routed_first),
    ]


def questions(count: int) -> list[str]:
    from ..llm.data import load_pairs
    from ..llm.settings import load, resolve

    pairs = load_pairs(resolve(load().questions))
    asked = [pair.question for pair in pairs]
    return [asked[i % len(asked)] for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gateway.bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--triton", default=None)
    parser.add_argument("--model-folder", type=Path, default=None)
    parser.add_argument("--redis", default=None)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        try:
            redis_url = args.redis or stack.enter_context(redis_server("gateway-bench-redis-"))
        except ServingError as error:
            raise SystemExit(f"{error}, or pass --redis URL") from error
        triton_url = args.triton or stack.enter_context(triton(args.model_folder))
        tokenizer = args.model_folder / "tokenizer.json" if args.model_folder else None
        gateway_url = stack.enter_context(gateway(triton_url, redis_url, tokenizer))
        rows = measure(triton_url, gateway_url, questions(args.requests), args.max_tokens)
    print(f"gateway benchmark: {args.requests} requests each, max_tokens {args.max_tokens}, greedy")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
