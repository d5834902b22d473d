"""The `make smoke` stages of the language model (the platform's own stages are smoke/stages.py).

Before the model repository is built, `llm-train` runs the language model's pipeline on kfp.local,
so the repository build stages the `llm` model beside the champion's. After the task stage,
`llm-generate` streams greedy answers to held-out questions through Triton over gRPC, one at a time
and `CONCURRENCY` at a time: every text must equal what the champion generates in process, Triton's
metrics must count the tokens it streamed, and the time to first token and tokens/s of both are
reported. `llm-drift` reads those prompts back from the prompt log and runs the PSI check.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..smoke.runner import CONCURRENCY, SmokeContext, Stage
from ..smoke.stages import StageError, _python, champion_report, run_logged

PROMPTS = int(os.environ.get("SMOKE_LLM_PROMPTS", "16"))


def stages(base: dict[str, Stage]) -> dict[str, tuple[Stage, ...]]:
    """Where the language model's stages go among the platform's: before build-serving, after predict."""
    return {
        "build-serving": (
            Stage("llm-train", "language model: Kubeflow pipeline, unigram gate, MLflow", llm_train),
            base["build-serving"],
        ),
        "predict": (
            base["predict"],
            Stage("llm-generate", "streamed answers from Triton, checked in process", llm_generate),
            Stage("llm-drift", "Evidently PSI of the served prompts", llm_drift),
        ),
    }


def llm_train(ctx: SmokeContext) -> str:
    """pipelines/llm_pipeline.py run: train, score against the unigram baseline, register, promote."""
    from mlflow.tracking import MlflowClient

    from .settings import load
    from .steps import training_settings

    run_logged(ctx, "llm-train", _python("pipelines/llm_pipeline.py", "run"))
    training = training_settings(load())
    champion, report = champion_report(ctx, training)
    client = MlflowClient(tracking_uri=training.tracking_uri())
    seconds = client.get_run(str(champion.run_id)).data.metrics.get("train_seconds", float("nan"))
    return (
        f"v{champion.version} @champion; answer perplexity {report['score']:.1f} (unigram "
        f"{report['baseline_score']:.1f}); trained in {seconds:.0f} s; greedy answer matches: training "
        f"{report['train_answer_match']:.0%}, held out {report['metrics']['answer_match']:.0%}"
    )


def _prompts() -> list[str]:
    from .data import load_pairs
    from .settings import load, resolve

    llm = load()
    pairs = [pair for pair in load_pairs(resolve(llm.questions)) if pair.split == "test"][:PROMPTS]
    return [pair.prompt(llm.prompt) for pair in pairs]


def _in_process(prompts: list[str]) -> tuple[Any, list[str], list[float], float]:
    """The champion's greedy texts, with each stream's time to first token and the total seconds."""
    from ..lm import model
    from .settings import load
    from .steps import champion_folder
    from .streaming import stream

    sampling = load().sampling.model_copy(update={"temperature": 0.0})
    with tempfile.TemporaryDirectory(prefix="llm-smoke-") as tmp:
        folder = champion_folder(Path(tmp) / "champion")
        if folder is None:
            raise StageError("the registry has no champion language model; llm-train must run first")
        lm = model.load(folder)
    texts, firsts = [], []
    started = time.perf_counter()
    for prompt in prompts:
        began, pieces = time.perf_counter(), list[str]()
        for piece in stream(lm, prompt, sampling):
            if not pieces:
                firsts.append(time.perf_counter() - began)
            pieces.append(piece)
        texts.append("".join(pieces))
    return lm, texts, firsts, time.perf_counter() - started


def _generated_tokens(metrics_url: str) -> float:
    """Triton's vllm:generation_tokens_total for the llm model (0 before the first request)."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode("utf-8")
    found = re.findall(r'^vllm:generation_tokens_total\{[^}]*model="llm"[^}]*\} (\S+)$', text, flags=re.MULTILINE)
    return sum(float(value) for value in found)


def llm_generate(ctx: SmokeContext) -> str:
    """Greedy answers to held-out questions through Triton (gRPC stream) at concurrency 1 and
    CONCURRENCY, equal to the champion's in process; Triton's token counter must agree."""
    from ..serving.settings import ServingSettings
    from .client import Generation, LlmClient

    prompts = _prompts()
    lm, expected, local_firsts, local_seconds = _in_process(prompts)
    settings = ServingSettings.from_platform()
    ports = ctx.values["triton"]["ports"]
    client = LlmClient.from_settings(url=f"{settings.host}:{ports['grpc']}")
    metrics_url = f"http://{settings.host}:{ports['metrics']}/metrics"
    before = _generated_tokens(metrics_url)
    greedy = {"temperature": 0.0}

    def served(workers: int) -> tuple[list[Generation], float]:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda prompt: client.stream(prompt, greedy), prompts))
        return results, time.perf_counter() - started

    runs = {workers: served(workers) for workers in (1, CONCURRENCY)}
    tokens = [len(lm.tokenizer.encode(text, add_special_tokens=False)) for text in expected]
    for workers, (results, _) in runs.items():
        for index, result in enumerate(results):
            if result.text != expected[index]:
                raise StageError(
                    f"at concurrency {workers}, Triton's answer to prompt {index} differs from the champion's "
                    f"in process: {result.text!r} != {expected[index]!r}"
                )
    counted = _generated_tokens(metrics_url) - before
    if counted != 2 * sum(tokens):
        raise StageError(f"Triton's vllm:generation_tokens_total grew by {counted:g}, not {2 * sum(tokens)}")
    ctx.values["llm_generated_tokens"] = 2 * sum(tokens)
    ctx.values["llm_prompts_served"] = 2 * len(prompts)

    def summary(firsts: list[float], seconds: float) -> str:
        return f"TTFT p50 {statistics.median(firsts) * 1000:.0f} ms, {sum(tokens) / seconds:.0f} tokens/s"

    one, many = runs[1], runs[CONCURRENCY]
    return (
        f"{len(prompts)} prompts x 2 equal to in-process; Triton x1: "
        f"{summary([r.time_to_first_token or 0.0 for r in one[0]], one[1])}; x{CONCURRENCY}: "
        f"{summary([r.time_to_first_token or 0.0 for r in many[0]], many[1])}; in process: "
        f"{summary(local_firsts, local_seconds)}"
    )


def llm_drift(ctx: SmokeContext) -> str:
    """The prompts Triton just answered (its prompt log) against the champion's reference, by PSI."""
    from ..monitoring.text_drift import TextLog, summary
    from .monitoring import PROMPT_LOG, check
    from .settings import load, resolve

    folder = resolve(load().monitoring_dir)
    served = int(ctx.values.get("llm_prompts_served", 0))
    held = TextLog(folder / PROMPT_LOG).wait_for(served, ctx.values["started_at"])  # Triton writes it in batches
    if held != served:
        raise StageError(f"the prompt log {folder / PROMPT_LOG} holds {held} prompts for the {served} served")
    result = check(folder, since=ctx.values["started_at"])
    return summary(result, "prompts")
