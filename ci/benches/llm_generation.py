"""LLM generation bench: the champion language model streamed through Triton against the same model's
in-process generation, at concurrency 1 and N, in one process and one run.

    uv run python ci/benches/llm_generation.py --project build/stack/use_case_text_generation \
        [--prompts 16] [--concurrency 1 8] [--rounds 3]

The project's registry champion (after `make llm-train` or `make smoke`) is staged into a fresh
model repository (llm.serving.stage_model) and served by a local Triton; the held-out questions are
the prompts, answered greedily. Each round runs (a) Triton over gRPC streams (llm.client.LlmClient)
and (b) in process (llm.streaming.stream, one thread per concurrent request) back to back at each
concurrency; every Triton text must equal the in-process one. The table gives the median over rounds
of the time to first token (p50 and p95 over requests, ms), the aggregate generated tokens/s and
the ratio a/b.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject


def timed_streams(prompts: list[str], workers: int, stream: Any) -> tuple[list[str], list[float], float]:
    """Run `stream(prompt) -> iterator of pieces` for every prompt, `workers` at a time; the texts,
    each request's time to first piece, and the wall time."""

    def one(prompt: str) -> tuple[str, float]:
        began, first, pieces = time.perf_counter(), float("nan"), []
        for piece in stream(prompt):
            if not pieces:
                first = time.perf_counter() - began
            pieces.append(piece)
        return "".join(pieces), first

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(one, prompts))
    return [text for text, _ in done], [first for _, first in done], time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def add_arguments(parser: Any) -> None:
    parser.add_argument("--prompts", type=int, default=None)
    parser.add_argument("--concurrency", type=int, nargs="+", default=None)
    parser.add_argument("--rounds", type=int, default=None)


def run(args: Any) -> int:
    settings = inproject.defaults("llm_generation")
    count = args.prompts or int(settings["prompts"])
    levels = args.concurrency or [int(level) for level in settings["concurrency"]]
    rounds = args.rounds or int(settings["rounds"])
    llm_settings = inproject.module(args.project, "llm.settings").load()
    data = inproject.module(args.project, "llm.data")
    model = inproject.module(args.project, "lm.model")
    streaming = inproject.module(args.project, "llm.streaming")
    steps = inproject.module(args.project, "llm.steps")
    serving = inproject.module(args.project, "llm.serving")
    client_module = inproject.module(args.project, "llm.client")
    server = inproject.module(args.project, "serving.server")
    pairs = [p for p in data.load_pairs(args.project / llm_settings.questions) if p.split == "test"][:count]
    prompts = [pair.prompt(llm_settings.prompt) for pair in pairs]
    greedy = llm_settings.sampling.model_copy(update={"temperature": 0.0})
    streams: dict[str, Any] = {}
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="llm-bench-") as tmp:
        folder = steps.champion_folder(Path(tmp) / "champion")
        if folder is None:
            raise inproject.BenchError("no champion language model: run `make llm-train` in the project first")
        lm = model.load(folder)
        serving.stage_model(Path(tmp) / "repo", folder, inproject.package(args.project), defaults=greedy)
        with server.LocalTriton(Path(tmp) / "repo", state_dir=Path(tmp) / "triton") as triton:
            client = client_module.LlmClient(triton.grpc_url, timeout=120)
            expected = [model.generate(lm, prompt, greedy) for prompt in prompts]
            tokens = sum(len(lm.tokenizer.encode(text, add_special_tokens=False)) for text in expected)
            streams = {
                "a: Triton (gRPC stream)": lambda p: iter(client.stream(p, {"temperature": 0.0}).pieces),
                "b: in process (streaming.stream)": lambda p: streaming.stream(lm, p, greedy),
            }
            for _ in range(rounds):
                for level in levels:
                    for name, stream in streams.items():
                        texts, firsts, seconds = timed_streams(prompts, level, stream)
                        if texts != expected:
                            raise inproject.BenchError(f"{name} at concurrency {level}: texts differ from generate()")
                        row = (percentile(firsts, 0.5) * 1000, percentile(firsts, 0.95) * 1000, tokens / seconds)
                        results.setdefault((name, level), []).append(row)
    print(f"\n{len(prompts)} held-out prompts, {tokens} generated tokens per pass, median of {rounds} rounds\n")
    rows = []
    for level in levels:
        medians = {
            name: [statistics.median(values[i] for values in results[(name, level)]) for i in range(3)]
            for name in streams
        }
        a, b = (medians[name] for name in streams)
        for name, (p50, p95, rate) in medians.items():
            rows.append([name, level, p50, p95, rate, a[2] / b[2] if name.startswith("a:") else None])
    headers = ["target", "concurrency", "TTFT p50 ms", "TTFT p95 ms", "tokens/s", "a/b tokens/s"]
    print(inproject.table(rows, headers, floatfmt=["", "", ".1f", ".1f", ".0f", ".2f"]))
    return 0


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, add_arguments))
