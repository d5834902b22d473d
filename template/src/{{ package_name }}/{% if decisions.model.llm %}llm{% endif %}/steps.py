"""The language model's pipeline steps (pipelines/llm_pipeline.py runs them as Kubeflow components).

    build_training_set -> train -> evaluate -> register -> promote

The same five functions, with the same signatures, as every other family's steps module, so the
shared components (training/components.py) and promotion rule (training/promotion.py) serve the
language model too: the corpus is checked and written as training text, the model is trained in an
MLflow run, its perplexity on the held-out answers is scored against a unigram baseline, it is
registered with MLflow's transformers flavour, and it becomes the champion only past the gate and
below the champion's perplexity.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from ..config import Platform
from ..lm import model
from ..training import promotion
from ..training.errors import TrainingError
from ..training.settings import TrainingSettings, for_pipeline, load_settings
from ..training.tracking import connect, experiment_id
from . import data
from .data import Pair
from .settings import LlmConfigError, LlmSettings, checkpoint, resolve
from .settings import load as load_llm

MODEL_ARTIFACT = "language-model"  # the trained model folder (save_pretrained) on the training run
REGISTERED_ARTIFACT = "model"  # the transformers flavour model that is registered
METRIC = "perplexity"  # the promotion metric: perplexity of the held-out answers (lower is better)
OVERRIDABLE = ("epochs", "batch_size", "learning_rate", "seed")
SHOWN_ANSWERS = 5  # greedy answers written into the evaluation report


def _llm(settings: LlmSettings | None, platform_: Platform | None) -> LlmSettings:
    try:
        return settings or load_llm(platform_)
    except LlmConfigError as error:
        raise TrainingError(str(error)) from error


def training_settings(llm: LlmSettings, platform_: Platform | None = None) -> TrainingSettings:
    """The project's training settings pointed at the language model's registry entry and experiment."""
    return for_pipeline(load_settings(platform_), llm.registered_model, "llm")


@contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


# ---------------------------------------------------------------------------------- training set


def build_training_set(
    output_dir: Path, *, settings: LlmSettings | None = None, platform_: Platform | None = None
) -> dict[str, Any]:
    """Check the corpus and the question/answer pairs; write documents.json and pairs.jsonl."""
    llm = _llm(settings, platform_)
    try:
        documents = data.load_documents(resolve(llm.corpus, platform_))
        pairs = data.load_pairs(resolve(llm.questions, platform_))
    except data.DataError as error:
        raise TrainingError(str(error)) from error
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "documents.json").write_text(json.dumps(documents), encoding="utf-8")
    rows = "".join(json.dumps(dataclasses.asdict(pair)) + "\n" for pair in pairs)
    (output_dir / "pairs.jsonl").write_text(rows, encoding="utf-8")
    return {
        "documents": len(documents),
        "words": sum(len(text.split()) for text in documents),
        **{f"{split}_pairs": sum(1 for pair in pairs if pair.split == split) for split in data.SPLITS},
    }


def read_training_set(folder: Path) -> tuple[list[str], list[Pair]]:
    paths = [folder / "documents.json", folder / "pairs.jsonl"]
    for path in paths:
        if not path.is_file():
            raise TrainingError(f"{path} is missing; run build_training_set first")
    documents = json.loads(paths[0].read_text(encoding="utf-8"))
    lines = paths[1].read_text(encoding="utf-8").splitlines()
    return documents, [Pair(**json.loads(line)) for line in lines if line]


# ------------------------------------------------------------------------------------------ train


def train(
    training_set_dir: Path,
    *,
    tracking_uri: str | None = None,
    overrides: dict[str, Any] | None = None,
    settings: LlmSettings | None = None,
    platform_: Platform | None = None,
) -> str:
    """Train the language model in a new MLflow run (params, loss, the model folder); the run id."""
    llm = _llm(settings, platform_)
    unknown = sorted(set(overrides or {}) - set(OVERRIDABLE))
    if unknown:
        raise TrainingError(f"model_params {unknown} are not llm.training settings; allowed: {', '.join(OVERRIDABLE)}")
    tuned = llm.training.model_copy(update=overrides or {})
    training = training_settings(llm, platform_)
    uri, _ = connect(training, tracking_uri)
    documents, pairs = read_training_set(training_set_dir)
    texts = data.training_texts(documents, pairs, llm.prompt)
    source = checkpoint(llm)
    experiment = experiment_id(training.experiment, uri, training.artifact_root())
    with mlflow.start_run(experiment_id=experiment, run_name=f"llm-{time.strftime('%Y%m%d-%H%M%S')}") as run:
        mlflow.set_tags({"pipeline": "llm", "family": training.family, "registered_model_name": llm.registered_model})
        local = (
            {f"local.{key}": value for key, value in llm.local_model.model_dump().items()} if source == "local" else {}
        )
        mlflow.log_params(
            {"checkpoint": source, **local, **tuned.model_dump(), "prompt": llm.prompt, "dataset.texts": len(texts)}
        )
        lm = model.build(source, texts, llm.local_model, tuned.seed)
        parameters = sum(p.numel() for p in lm.model.parameters())
        print(
            f"training the language model ({source}, {parameters:,} parameters) for {tuned.epochs} epochs", flush=True
        )
        started = time.perf_counter()
        result = model.fit(lm, texts, tuned)
        result["train_seconds"] = time.perf_counter() - started
        mlflow.log_metrics({key: value for key, value in result.items() if value == value} | {"parameters": parameters})
        with _scratch("llm-train-") as tmp:
            mlflow.log_artifacts(str(model.save(lm, tmp / MODEL_ARTIFACT)), artifact_path=MODEL_ARTIFACT)
        return str(run.info.run_id)


def _download_model(client: Any, run_id: str, target: Path) -> model.LanguageModel:
    try:
        return model.load(client.download_artifacts(run_id, MODEL_ARTIFACT, str(target)))
    except (MlflowException, OSError) as error:
        raise TrainingError(f"run {run_id} has no {MODEL_ARTIFACT}/ folder; run the train step first") from error


# --------------------------------------------------------------------------------------- evaluate


Scorer = Callable[[str, str], tuple[float, int]]


def unigram_nll(lm: model.LanguageModel, texts: Sequence[str]) -> Scorer:
    """The lexical baseline: add-one smoothed token frequencies of `texts`; a scorer like lm.model.answer_nll."""
    counts: Counter[int] = Counter()
    for row in model.windows(lm, texts):
        counts.update(row[1:])
    total = sum(counts.values()) + len(lm.tokenizer)

    def score(prompt: str, answer: str) -> tuple[float, int]:
        _, target = model.answer_token_ids(lm, prompt, answer)
        return sum(-math.log((counts[token] + 1) / total) for token in target), len(target)

    return score


def perplexity(scorer: Scorer, pairs: Sequence[Pair], prompt: str) -> float:
    """exp(mean negative log-likelihood per answer token), over every pair's answer tokens."""
    nll, tokens = 0.0, 0
    for pair in pairs:
        value, count = scorer(pair.prompt(prompt), pair.answer)
        nll, tokens = nll + value, tokens + count
    return math.exp(nll / max(tokens, 1))


def answer_match(
    lm: model.LanguageModel, pairs: Sequence[Pair], llm: LlmSettings
) -> tuple[float, list[dict[str, str]]]:
    """Share of pairs whose greedy completion contains the labelled answer (case-insensitive), and
    what the model said."""
    greedy = llm.sampling.model_copy(update={"temperature": 0.0})
    said = [model.generate(lm, pair.prompt(llm.prompt), greedy) for pair in pairs]
    hits = sum(pair.answer.lower() in text.lower() for pair, text in zip(pairs, said, strict=True))
    shown = [{"question": p.question, "answer": p.answer, "model": t.strip()} for p, t in zip(pairs, said, strict=True)]
    return hits / max(len(pairs), 1), shown


def gate(score: float, baseline: float, llm: LlmSettings) -> tuple[bool, list[str]]:
    """Pass when the perplexity is at most max_perplexity_ratio of the unigram baseline's."""
    limit = baseline * llm.gate.max_perplexity_ratio
    if score <= limit:
        return True, []
    return False, [
        f"perplexity {score:.2f} is above {limit:.2f} ({llm.gate.max_perplexity_ratio} x the unigram's {baseline:.2f})"
    ]


def evaluate(
    training_set_dir: Path,
    run_id: str,
    *,
    tracking_uri: str | None = None,
    settings: LlmSettings | None = None,
    platform_: Platform | None = None,
) -> dict[str, Any]:
    """Perplexity of the held-out answers against the unigram baseline; greedy answer match; the gate."""
    llm = _llm(settings, platform_)
    training = training_settings(llm, platform_)
    _, client = connect(training, tracking_uri)
    documents, pairs = read_training_set(training_set_dir)
    test = [pair for pair in pairs if pair.split == "test"]
    train_pairs = [pair for pair in pairs if pair.split == "train"]
    with _scratch("llm-evaluate-") as tmp:
        lm = _download_model(client, run_id, tmp)
        started = time.perf_counter()
        score = perplexity(lambda q, a: model.answer_nll(lm, q, a), test, llm.prompt)
        unigram = unigram_nll(lm, data.training_texts(documents, pairs, llm.prompt))
        baseline = perplexity(unigram, test, llm.prompt)
        test_match, shown = answer_match(lm, test, llm)
        train_match, _ = answer_match(lm, train_pairs, llm)
        seconds = time.perf_counter() - started
    passed, reasons = gate(score, baseline, llm)
    report: dict[str, Any] = {
        "primary_metric": METRIC,
        "score": round(score, 4),
        "baseline": "unigram",
        "baseline_score": round(baseline, 4),
        # the shared evaluate component logs these two to the pipeline's Metrics artifact
        "metrics": {METRIC: score, "answer_match": test_match},
        "baseline_metrics": {METRIC: baseline},
        "test_pairs": len(test),
        "train_answer_match": round(train_match, 4),
        "examples": shown[:SHOWN_ANSWERS],
        "quality_gate": {"passed": passed, "reasons": reasons},
        "eval_seconds": round(seconds, 2),
    }
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(
            {
                METRIC: score,
                "unigram_perplexity": baseline,
                "answer_match": test_match,
                "train_answer_match": train_match,
            }
        )
        mlflow.log_dict(report, "evaluation/report.json")
        lines = [
            f"# Language model on {len(test)} held-out questions (run {run_id})",
            "",
            "| model | answer perplexity | greedy answer contains the label |",
            "|---|---|---|",
            f"| trained | {score:.2f} | {test_match:.0%} (training questions: {train_match:.0%}) |",
            f"| unigram baseline | {baseline:.2f} | - |",
            "",
            f"Gate: {'passed' if passed else 'failed: ' + '; '.join(reasons)}",
            "",
            *(f"- {row['question']} -> {row['model']!r} (label {row['answer']!r})" for row in shown[:SHOWN_ANSWERS]),
            "",
        ]
        mlflow.log_text("\n".join(lines), "evaluation/report.md")
        mlflow.set_tags({promotion.GATE_TAG: "passed" if passed else "failed"})
    return report


# --------------------------------------------------------------------------------------- register


def register(
    run_id: str,
    *,
    tracking_uri: str | None = None,
    settings: LlmSettings | None = None,
    platform_: Platform | None = None,
) -> str:
    """Log the model with MLflow's transformers flavour (text-generation) and register it as the challenger."""
    llm = _llm(settings, platform_)
    training = training_settings(llm, platform_)
    _, client = connect(training, tracking_uri)
    promotion.evaluated_tags(client, run_id)
    with _scratch("llm-register-") as tmp:
        lm = _download_model(client, run_id, tmp)
        with mlflow.start_run(run_id=run_id):
            info = mlflow.transformers.log_model(
                {"model": lm.model, "tokenizer": lm.tokenizer},
                name=REGISTERED_ARTIFACT,
                task="text-generation",
                pip_requirements=["transformers", "torch", "tokenizers"],  # listed: inferring imports the model
            )
    tags = {"family": training.family, "pipeline": "llm"}
    return promotion.register_challenger(client, training, run_id, info.model_uri, tags)


# ---------------------------------------------------------------------------------------- promote


def promote(
    training_set_dir: Path | None,
    run_id: str,
    version: str,
    *,
    tracking_uri: str | None = None,
    settings: LlmSettings | None = None,
    platform_: Platform | None = None,
) -> dict[str, Any]:
    """Champion alias only past the gate and strictly below the champion's perplexity (training.promotion).
    `training_set_dir` is not read; it keeps the signature every steps module shares."""
    llm = _llm(settings, platform_)
    training = training_settings(llm, platform_)
    _, client = connect(training, tracking_uri)
    return promotion.promote_on(client, training, run_id, version, METRIC, higher_is_better=False)


# --------------------------------------------------------------------------------------- champion


def champion_folder(target: Path, *, platform_: Platform | None = None) -> Path | None:
    """The registry's champion saved into `target` (save_pretrained: model and tokenizer); None
    before the first promotion."""
    llm = _llm(None, platform_)
    training = training_settings(llm, platform_)
    _, client = connect(training)
    if promotion.champion(client, training) is None:
        return None
    uri = f"models:/{llm.registered_model}@{training.champion_alias}"
    components = mlflow.transformers.load_model(uri, return_type="components")
    return model.save(model.LanguageModel(components["model"], components["tokenizer"]), target)
