"""Answers written by a causal language model from the retrieved chunks, with checked citations.

    generator = load(index_folder, manifest["generator"])   # None: answers are extractive
    checked = generator.answer(question, hits)              # checked.answer None: serve extractive

The prompt numbers the top chunks ([1] ... [n]) and the model answers with the markers of the chunks
it used. Its answer is served only when every marker names a chunk of the prompt and enough of its
words come from the cited chunks (`rag.generator.min_support`); otherwise the service falls back to
the extractive answer and says why, so a wrong or unsupported generation never reaches a user as a
cited fact. The model is the shared transformers code path (lm/model.py): a small Llama trained on
the corpus locally, the production checkpoint (rag.generator.checkpoint) in the cloud. With
`rag.generator.backend: api` the same prompt goes to hosted models through LiteLLM (ApiGenerator),
the first whose key is set; without a key it stays off and the index's model answers.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .corpus import Chunk, Question
from .retrieval import Answer, Citation
from .settings import Generation

GENERATOR = "generator"  # the model folder: on the training run, and in a published index
_MARKER = re.compile(r"\s*\[(\d+)\]")
_WORD = re.compile(r"[a-z0-9]+(?:[.,:$%/-][a-z0-9]+)*")
NO_CONTEXT = "(no passages)"


@dataclass(frozen=True)
class Checked:
    """A generation after the citation check: the answer to serve, or why it is not served."""

    answer: Answer | None
    reason: str  # "" when served
    raw: str  # what the model wrote


def passage(marker: int, chunk: Chunk, max_words: int) -> str:
    words = chunk.text.split()
    text = " ".join(words[:max_words]) + (" ..." if len(words) > max_words else "")
    return f"[{marker}] {chunk.heading}: {text}"


def prompt(question: str, chunks: Sequence[Chunk], max_words: int) -> str:
    """The numbered passages, then the question: what the model reads (training and serving alike)."""
    passages = "\n".join(passage(marker, chunk, max_words) for marker, chunk in enumerate(chunks, 1))
    return f"Passages:\n{passages or NO_CONTEXT}\nQuestion: {question}\nAnswer:"


def target(answer: str, marker: int) -> str:
    """A labelled answer as the model learns to write it: the answer, then its chunk's marker."""
    return f"{answer} [{marker}]"


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def markers(text: str) -> list[int]:
    return [int(found) for found in _MARKER.findall(text)]


def check(raw: str, hits: Sequence[tuple[Chunk, float]], context: int, min_support: float) -> Checked:
    """Serve `raw` only if it cites, every marker is one of the prompt's `context` passages, and at
    least `min_support` of its words appear in the cited chunks."""
    text = " ".join(raw.split())
    cited = sorted(set(markers(text)))
    said = words(_MARKER.sub(" ", text))
    if not said:
        return Checked(None, "the generation is empty", raw)
    if not cited:
        return Checked(None, "the generation cites no passage", raw)
    shown = min(context, len(hits))
    if any(marker < 1 or marker > shown for marker in cited):
        return Checked(None, f"the generation cites {cited}, but the prompt had passages 1-{shown}", raw)
    source = set(words(" ".join(f"{hits[m - 1][0].heading} {hits[m - 1][0].text}" for m in cited)))
    support = sum(1 for word in said if word in source) / len(said)
    if support < min_support:
        return Checked(None, f"{support:.0%} of its words are in the cited passages (min_support {min_support})", raw)
    citations = tuple(
        Citation(m, hits[m - 1][0].id, hits[m - 1][0].document, hits[m - 1][0].heading, hits[m - 1][1]) for m in cited
    )
    return Checked(Answer(text, citations), "", raw)


def gold_chunk(question: Question, chunks: Sequence[Chunk]) -> Chunk | None:
    """The chunk of the question's section that holds its labelled answer (the first one otherwise)."""
    section = [c for c in chunks if (c.document, c.section) == (question.document, question.section)]
    holding = [c for c in section if question.answer.lower() in c.text.lower()]
    found = holding or section
    return found[0] if found else None


def with_gold(ranked: Sequence[Chunk], gold: Chunk, context: int) -> list[Chunk]:
    """The top `context` chunks of a ranking, the gold chunk in the last place when it was not there:
    the model learns to find the answer among what retrieval really returns, at any position."""
    top = list(ranked[:context])
    if gold.id not in {chunk.id for chunk in top}:
        top = [*top[: context - 1], gold]
    return top


def training_pairs(
    questions: Sequence[Question],
    chunks: Sequence[Chunk],
    ranked: Sequence[Sequence[Chunk]],
    context: int,
    max_words: int,
) -> list[tuple[str, str]]:
    """(prompt, target) per question: its retrieved chunks (the gold one included) and its answer cited."""
    pairs = []
    for question, found in zip(questions, ranked, strict=True):
        gold = gold_chunk(question, chunks)
        if gold is None:
            continue
        shown = with_gold(found, gold, context)
        marker = 1 + [chunk.id for chunk in shown].index(gold.id)
        pairs.append((prompt(question.question, shown, max_words), target(question.answer, marker)))
    return pairs


@dataclass(frozen=True)
class Shape:
    """The prompt and the check every backend shares, as an index's manifest records them (published)."""

    context: int  # passages the prompt shows
    max_words: int  # words of each passage
    min_support: float
    max_tokens: int

    @classmethod
    def of(cls, settings: dict[str, Any]) -> Shape:
        return cls(
            int(settings["context_chunks"]),
            int(settings["passage_words"]),
            float(settings["min_support"]),
            int(settings["max_tokens"]),
        )

    def prompt(self, question: str, chunks: Sequence[Chunk]) -> str:
        return prompt(question, chunks[: self.context], self.max_words)

    def check(self, raw: str, hits: Sequence[tuple[Chunk, float]]) -> Checked:
        return check(raw, hits, self.context, self.min_support)


class Generator:
    """The generation model of a published index, with the settings it was published with."""

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        from ..lm import model
        from ..lm.params import Sampling

        self._model = model
        self.lm = model.load(folder, device="auto")  # a GPU where the serving pod has one
        self.shape = Shape.of(settings)
        self.sampling = Sampling(max_tokens=self.shape.max_tokens, temperature=0.0)

    def write(self, question: str, chunks: Sequence[Chunk]) -> str:
        return str(self._model.generate(self.lm, self.shape.prompt(question, chunks), self.sampling))

    def answer(self, question: str, hits: Sequence[tuple[Chunk, float]]) -> Checked:
        return self.shape.check(self.write(question, [chunk for chunk, _ in hits]), hits)


SYSTEM = (
    "Answer the question from the numbered passages only. Write a short answer and put the number of "
    "each passage you used in square brackets after it, like [1]. If the passages do not answer it, say so."
)


class ApiGenerator:
    """The same prompt sent to hosted models through LiteLLM (OpenAI's chat API shape), checked the
    same way. Models are tried in order, skipping those whose key is not set; when none has a key the
    index's own model answers (`fallback`), so a project without provider keys still generates."""

    def __init__(self, settings: dict[str, Any], fallback: Generator | None) -> None:
        self.models: list[dict[str, Any]] = list(settings["api"])
        self.shape = Shape.of(settings)
        self.timeout = float(settings.get("api_timeout_s", 30.0))
        self.retries = int(settings.get("api_retries", 2))
        self.fallback = fallback

    def available(self) -> list[dict[str, Any]]:
        return [m for m in self.models if not m.get("api_key_env") or os.environ.get(m["api_key_env"])]

    def write(self, model: dict[str, Any], question: str, chunks: Sequence[Chunk]) -> str:
        # LiteLLM fetches its price map from GitHub at import unless told to use its bundled copy
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        key_env = model.get("api_key_env")
        response: Any = litellm.completion(
            model=model["model"],
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": self.shape.prompt(question, chunks)},
            ],
            api_key=os.environ[key_env] if key_env else "none",  # an OpenAI-compatible server may need none
            api_base=model.get("api_base"),
            max_tokens=self.shape.max_tokens,
            temperature=0.0,
            timeout=self.timeout,
            num_retries=self.retries,
        )
        return str(response.choices[0].message.content or "")

    def answer(self, question: str, hits: Sequence[tuple[Chunk, float]]) -> Checked:
        models = self.available()
        if not models:
            if self.fallback is not None:
                return self.fallback.answer(question, hits)
            keys = ", ".join(sorted({str(m["api_key_env"]) for m in self.models}))
            return Checked(None, f"no rag.generator.api model has its key set ({keys})", "")
        failures = []
        for model in models:
            try:
                raw = self.write(model, question, [chunk for chunk, _ in hits])
            except Exception as error:  # LiteLLM maps every provider's failure to its own exceptions
                failures.append(f"{model['name']}: {type(error).__name__}")
                continue
            return self.shape.check(raw, hits)
        return Checked(None, f"the generation API failed ({'; '.join(failures)})", "")


class Answerer(Protocol):
    def answer(self, question: str, hits: Sequence[tuple[Chunk, float]]) -> Checked: ...


def published(settings: Generation, backend: str = "model") -> dict[str, Any]:
    """What an index's manifest records of the generation settings (serving reads them from there):
    the prompt's shape, the check, and the backend of the profile the index was published in."""
    recorded = settings.model_dump(
        include={"context_chunks", "passage_words", "max_tokens", "min_support", "api_timeout_s", "api_retries"}
    )
    recorded["backend"] = backend
    recorded["api"] = [model.model_dump() for model in settings.api] if backend == "api" else []
    return recorded


def load(folder: Path, settings: dict[str, Any] | None) -> Answerer | None:
    """The index's answer generator: its own model (`<folder>/generator`) or, with the api backend,
    the hosted models in front of it; None when there is neither (an index published before
    generation, or rag.generator.enabled off): the service answers extractively then."""
    if not settings:
        return None
    own = Generator(folder / GENERATOR, settings) if (folder / GENERATOR / "config.json").is_file() else None
    if settings.get("backend") == "api":
        return ApiGenerator(settings, own)
    return own


# ------------------------------------------------------------------------------ train and evaluate


def train(
    settings: Generation, chunks: Sequence[Chunk], pairs: Sequence[tuple[str, str]], checkpoint: str, folder: Path
) -> dict[str, float]:
    """Build the model (the corpus's tokenizer and a small Llama, or `checkpoint`), fine-tune it on the
    chunks' text and the (prompt, cited answer) pairs, save it to `folder`; the training metrics."""
    from ..lm import model

    texts = [chunk.passage() for chunk in chunks]
    lm = model.build(checkpoint, texts + [f"{p} {a}" for p, a in pairs], settings.local_model, settings.training.seed)
    print(f"training the answer generator ({checkpoint}) on {len(pairs)} cited answers", flush=True)
    result = model.fit(lm, texts, settings.training, pairs)
    model.save(lm, folder)
    return {**result, "parameters": float(sum(p.numel() for p in lm.model.parameters()))}


def perplexity(score: Callable[[str, str], tuple[float, int]], pairs: Sequence[tuple[str, str]]) -> float:
    nll = tokens = 0.0
    for prompt_, answer in pairs:
        value, count = score(prompt_, answer)
        nll, tokens = nll + value, tokens + count
    return math.exp(nll / max(tokens, 1.0))


def evaluate(
    generator: Generator, questions: Sequence[Question], chunks: Sequence[Chunk], ranked: Sequence[Sequence[Chunk]]
) -> dict[str, float]:
    """On held-out questions and their served rankings: the labelled answers' perplexity with the
    passages and without any (their ratio is the gate), and what greedy generation does: the share
    served (citations pass the check), the share whose answer holds the label, and the share citing
    the question's section."""
    from ..lm import model

    with_passages, without = [], []
    served = matched = cited_gold = 0
    for question, found in zip(questions, ranked, strict=True):
        shown = list(found[: generator.shape.context])
        section = (question.document, question.section)
        gold = next((i + 1 for i, c in enumerate(shown) if (c.document, c.section) == section), 0)
        answer = target(question.answer, gold or 1)
        with_passages.append((generator.shape.prompt(question.question, shown), answer))
        without.append((generator.shape.prompt(question.question, []), answer))
        checked = generator.answer(question.question, [(chunk, 0.0) for chunk in shown])
        served += checked.answer is not None
        matched += question.answer.lower() in checked.raw.lower()
        cited_gold += gold in markers(checked.raw)
    score = lambda p, a: model.answer_nll(generator.lm, p, a)  # noqa: E731
    ppl, ppl_without = perplexity(score, with_passages), perplexity(score, without)
    count = max(len(questions), 1)
    return {
        "perplexity": ppl,
        "perplexity_without_passages": ppl_without,
        "context_perplexity_ratio": ppl / ppl_without,
        "served_share": served / count,
        "answer_match": matched / count,
        "cites_gold_section": cited_gold / count,
    }
