"""Generation heads: a text generator and a retrieve-then-generate search head around the intent router.

The generation family's core model routes a prompt (its hashed token counts, text.py) to an intent
(question, summarize, draft, chat). The heads add what the production models do after that:

- `text_generator` (text_generation) writes an answer with a per-intent **bigram language model**:
  the prompt is routed by the core, then `max_words` words are sampled from the routed intent's
  bigram model, starting from the prompt's last in-vocabulary word (or the start token).
- `retriever` (search_rag) embeds the query with latent semantic analysis (the `text_embedding`
  head's TF-IDF + top singular vectors of the training rows), returns the `k` most similar training
  rows of its index by cosine, and writes an answer with the same bigram models, conditioned on the
  majority intent of the retrieved documents (retrieve-then-generate).

The training rows are hashed counts: they carry no words, let alone word order. The bigram models
are therefore fitted on a synthetic corpus composed like the sample data (data/sample.py): one prompt
per training row with that row's intent label, 6-20 words, about 60% from the intent's word list
and the rest common words, over the fixed vocabulary below. Those prompts are bags of words, so the
fitted bigrams mostly learn each intent's word mix: the heads write topical word sequences, not
language. Fitted on a real corpus, the same code would learn word order.

Generation samples, but deterministically: the random stream of each request is seeded with the
CRC32 of its text, so the same prompt always gives the same answer, whatever else is in the batch,
in-process and in Triton alike.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

from . import (
    TEXT_KINDS,
    Arrays,
    Core,
    FloatArray,
    Head,
    TaskEvaluation,
    decode_text,
    encode_text,
    register,
    require_input,
)
from .embedding import TextEmbedding, hashed
from .text import tokens
from .vocabulary import COMMON_WORDS, TOPIC_WORDS

IntArray = npt.NDArray[np.int64]

# The generation family's intent words and the common words (vocabulary.py, which data/sample.py
# writes the sample prompts from). The vocabulary is a module constant because params hold arrays only.
INTENT_WORDS: dict[str, tuple[str, ...]] = {
    name: TOPIC_WORDS[name] for name in ("question", "summarize", "draft", "chat")
}
COMMON: tuple[str, ...] = COMMON_WORDS
VOCABULARY: tuple[str, ...] = tuple(dict.fromkeys([*(w for words in INTENT_WORDS.values() for w in words), *COMMON]))
WORD_INDEX: dict[str, int] = {word: index for index, word in enumerate(VOCABULARY)}
START = len(VOCABULARY)  # the start token: row START of a bigram table is the first word's distribution
VOCABULARY_CRC = zlib.crc32(" ".join(VOCABULARY).encode("utf-8"))

# Synthetic prompts (fit corpus, examples): like data/sample.py.
TOPICAL_SHARE = 0.6
PROMPT_WORDS = (6, 20)
QUERY_WORDS = (4, 12)
CORPUS_ROWS = 20_000  # at most this many synthetic prompts fit the bigram models
EVALUATION_REQUESTS = 400


def intent_words(intent: str) -> tuple[str, ...]:
    """The intent's own words (empty for an intent without a word list: its prompts are common words)."""
    return INTENT_WORDS.get(intent, ())


def compose_tokens(
    intents: IntArray, classes: tuple[str, ...], rng: np.random.Generator, lengths: tuple[int, int]
) -> tuple[IntArray, IntArray]:
    """Synthetic prompts as vocabulary ids [n, longest] (valid up to `length` [n]) for intent indices [n].

    Each word is one of the intent's words with probability TOPICAL_SHARE, else a common word.
    """
    shortest, longest = lengths
    count = len(intents)
    own = [[WORD_INDEX[word] for word in intent_words(name)] for name in classes]
    sizes = np.asarray([len(ids) for ids in own], dtype=np.int64)
    table = np.zeros((len(classes), max(1, int(sizes.max(initial=0)))), dtype=np.int64)
    for index, ids in enumerate(own):
        table[index, : len(ids)] = ids
    common = np.asarray([WORD_INDEX[word] for word in COMMON], dtype=np.int64)
    length = rng.integers(shortest, longest + 1, count)
    topical = (rng.random((count, longest)) < TOPICAL_SHARE) & (sizes[intents] > 0)[:, None]
    pick = np.floor(rng.random((count, longest)) * np.maximum(sizes[intents], 1)[:, None]).astype(np.int64)
    words = np.where(topical, table[intents[:, None], pick], common[rng.integers(0, len(common), (count, longest))])
    return np.asarray(words, dtype=np.int64), np.asarray(length, dtype=np.int64)


def compose_texts(
    intents: IntArray, classes: tuple[str, ...], rng: np.random.Generator, lengths: tuple[int, int]
) -> list[str]:
    """Synthetic prompts as texts (see compose_tokens)."""
    words, length = compose_tokens(intents, classes, rng, lengths)
    return [
        " ".join(VOCABULARY[i] for i in row[:size]) for row, size in zip(words.tolist(), length.tolist(), strict=True)
    ]


def fit_bigrams(
    y: npt.NDArray[np.int64], classes: tuple[str, ...], rng: np.random.Generator, smoothing: float
) -> FloatArray:
    """Add-k smoothed bigram counts [intents, V+1, V+1] of a synthetic corpus: one prompt per row of `y`.

    Row t of an intent's table counts the words that followed token t (START: the first word);
    every word column gets `smoothing` extra, the START column stays 0 (never generated).
    """
    labels = np.asarray(y, dtype=np.int64)
    if len(labels) > CORPUS_ROWS:
        labels = labels[rng.choice(len(labels), size=CORPUS_ROWS, replace=False)]
    size = START + 1
    words, length = compose_tokens(labels, classes, rng, PROMPT_WORDS)
    previous = np.concatenate([np.full((len(words), 1), START, dtype=np.int64), words[:, :-1]], axis=1)
    used = np.arange(words.shape[1])[None, :] < length[:, None]
    intent = np.broadcast_to(labels[:, None], words.shape)[used]
    flat = (intent * size + previous[used]) * size + words[used]
    counts = np.bincount(flat, minlength=len(classes) * size * size).astype(np.float64)
    bigrams = counts.reshape(len(classes), size, size)
    bigrams[:, :, :START] += smoothing
    return bigrams.astype(np.float32)


def bigram_params(
    y: npt.NDArray[np.int64], classes: tuple[str, ...], rng: np.random.Generator, options: dict[str, Any]
) -> Arrays:
    """The bigram language models and their generation settings, as params arrays."""
    smoothing = float(options.get("smoothing", 0.01))
    max_words = int(options.get("max_words", 12))
    if smoothing <= 0 or max_words < 1:
        raise ValueError(f"generation needs smoothing > 0 and max_words >= 1; got {smoothing}, {max_words}")
    return {
        "bigrams": fit_bigrams(y, classes, rng, smoothing),
        "smoothing": np.asarray(smoothing, dtype=np.float32),
        "max_words": np.asarray(max_words, dtype=np.int64),
        "vocabulary_crc": np.asarray(VOCABULARY_CRC, dtype=np.int64),
    }


def seen_contexts(params: Arrays) -> npt.NDArray[np.bool_]:
    """[intents, V+1]: whether the intent's corpus had the token as a context (a count beyond smoothing)."""
    bigrams, smoothing = params["bigrams"], float(params["smoothing"])
    return np.asarray(bigrams[:, :, :START].astype(np.float64).sum(axis=2) - smoothing * START >= 0.5)


def start_tokens(texts: list[str], intents: IntArray, params: Arrays) -> IntArray:
    """Per text: its last in-vocabulary word when the routed intent's model has seen that word as a
    context (backing off to the start token otherwise)."""
    seen = seen_contexts(params)
    starts = np.full(len(texts), START, dtype=np.int64)
    for row, (text, intent) in enumerate(zip(texts, intents.tolist(), strict=True)):
        known = [WORD_INDEX[token] for token in tokens(text) if token in WORD_INDEX]
        if known and seen[intent, known[-1]]:
            starts[row] = known[-1]
    return starts


def generate_words(texts: list[str], intents: IntArray, params: Arrays) -> list[list[str]]:
    """`max_words` words per text from its intent's bigram model, sampled with a stream seeded by the
    text's CRC32 (same text and intent -> same words, independent of the batch). A context the
    intent's corpus never had (another intent's word) backs off to the start row."""
    if int(params["vocabulary_crc"]) != VOCABULARY_CRC:
        raise ValueError("the bigram params were fitted over another vocabulary; refit the head")
    bigrams = params["bigrams"]
    if bigrams.shape[1:] != (START + 1, START + 1):
        raise ValueError(f"bigrams have shape {list(bigrams.shape)}; expected [intents, {START + 1}, {START + 1}]")
    count, steps = len(texts), int(params["max_words"])
    if count == 0:
        return []
    weights = bigrams[:, :, :START].astype(np.float64)
    unseen = ~seen_contexts(params)  # back off to the start row: a smoothed unseen row is uniform noise
    weights[unseen] = np.broadcast_to(weights[:, START, None, :], weights.shape)[unseen]
    cdf = np.cumsum(weights, axis=2) / weights.sum(axis=2, keepdims=True)
    cdf[:, :, -1] = 1.0
    uniform = np.stack([np.random.default_rng(zlib.crc32(text.encode("utf-8"))).random(steps) for text in texts])
    previous = start_tokens(texts, intents, params)
    words = np.zeros((count, steps), dtype=np.int64)
    for step in range(steps):
        rows = cdf[intents, previous]  # [n, V]
        chosen = np.minimum(np.sum(rows <= uniform[:, step, None], axis=1), START - 1)
        words[:, step] = chosen
        previous = chosen
    return [[VOCABULARY[i] for i in row] for row in words.tolist()]


def join_words(words: list[str], width: int) -> str:
    """Words joined by spaces, cut at a word boundary to fit `width` UTF-8 bytes."""
    text = ""
    for word in words:
        candidate = f"{text} {word}" if text else word
        if len(candidate.encode("utf-8")) > width:
            break
        text = candidate
    return text


def topic_metrics(
    answers: list[list[str]], intents: npt.NDArray[np.int64], classes: tuple[str, ...]
) -> dict[str, float]:
    """on_topic: per answer, the share of its non-common words that are the true intent's words (an
    answer of common words only scores 0); distinct_words: distinct / generated words. Means."""
    common = set(COMMON)
    on_topic, distinct = [], []
    for words, intent in zip(answers, np.asarray(intents).tolist(), strict=True):
        own = set(intent_words(classes[intent]))
        content = [word for word in words if word not in common]
        on_topic.append(sum(word in own for word in content) / len(content) if content else 0.0)
        distinct.append(len(set(words)) / len(words) if words else 0.0)
    return {
        "on_topic": float(np.mean(on_topic)) if on_topic else 0.0,
        "distinct_words": float(np.mean(distinct)) if distinct else 0.0,
    }


def uniform_words(count: int, length: int, rng: np.random.Generator) -> list[list[str]]:
    """The baseline generator: words drawn uniformly from the whole vocabulary."""
    return [[VOCABULARY[i] for i in row] for row in rng.integers(0, START, (count, length)).tolist()]


def route(core: Core, counts: FloatArray, classes: int) -> IntArray:
    """The core's intent (argmax) per row of counts: one core call, also for zero rows."""
    scores = np.asarray(core(counts), dtype=np.float32)
    if len(counts) == 0:
        return np.zeros(0, dtype=np.int64)
    if scores.shape != (len(counts), classes):
        raise ValueError(f"the core returned scores of shape {list(scores.shape)}; expected [{len(counts)}, {classes}]")
    return np.asarray(np.argmax(scores, axis=1), dtype=np.int64)


def sample_intents(y: npt.NDArray[np.int64], count: int, classes: int, rng: np.random.Generator) -> IntArray:
    """`count` intents following the label mix of `y` (uniform when y is empty)."""
    labels = np.asarray(y, dtype=np.int64)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if len(labels) == 0:
        return np.asarray(rng.integers(0, classes, count), dtype=np.int64)
    return labels[rng.choice(len(labels), size=count, replace=count > len(labels))]


class _GenerationHead(Head):
    """Options shared by both heads."""

    @property
    def text_bytes(self) -> int:
        """Width of the text tensors: UTF-8 bytes, zero-padded (longer texts are cut)."""
        return int(self.options.get("text_bytes", 256))

    @property
    def max_words(self) -> int:
        return int(self.options.get("max_words", 12))

    def answers(self, texts: list[str], intents: IntArray, params: Arrays) -> npt.NDArray[np.uint8]:
        words = generate_words(texts, intents, params)
        return encode_text([join_words(row, self.text_bytes) for row in words], self.text_bytes)


@register
class TextGenerator(_GenerationHead):
    """Text generation smoke head: route the prompt with the core, then write `max_words` words with
    the routed intent's bigram model (fitted on a synthetic corpus: see the module docstring)."""

    name = "text_generator"

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        del core  # the router is the core itself; the head learns the bigram models
        params = bigram_params(y, self.classes, rng, self.options)
        params["buckets"] = np.asarray(x.shape[1], dtype=np.int64)
        return params

    def respond(self, core: Core, params: Arrays, texts: list[str]) -> tuple[IntArray, list[list[str]]]:
        """Routed intents [n] and generated words per prompt (one core call)."""
        intents = route(core, hashed(texts, int(params["buckets"])), len(self.classes))
        return intents, generate_words(texts, intents, params)

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        texts = decode_text(require_input(inputs, "prompt", (self.text_bytes,), TEXT_KINDS))
        _, words = self.respond(core, params, texts)
        return {"text": encode_text([join_words(row, self.text_bytes) for row in words], self.text_bytes)}

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, Any]:
        """Synthetic prompts [count, text_bytes] following the rows' intent mix (the rows are counts,
        not texts); truth is the intent index per prompt."""
        del x
        intents = sample_intents(y, count, len(self.classes), rng)
        texts = compose_texts(intents, self.classes, rng, PROMPT_WORDS)
        return {"prompt": encode_text(texts, self.text_bytes)}, intents

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        count = min(len(y), EVALUATION_REQUESTS)
        requests, truth = self.examples(x, y, rng, count)
        intents, words = self.respond(core, params, decode_text(requests["prompt"]))
        metrics = topic_metrics(words, truth, self.classes)
        metrics["intent_accuracy"] = float(np.mean(intents == truth)) if count else 0.0
        steps = int(params["max_words"])
        baseline = topic_metrics(uniform_words(count, steps, rng), truth, self.classes)
        majority = float(np.bincount(truth).max() / count) if count else 0.0
        baseline["intent_accuracy"] = majority
        return TaskEvaluation(
            primary="on_topic",
            metrics=metrics,
            baseline=baseline,
            examples=count,
            notes=[
                f"{count} synthetic prompts (6-20 words, ~60% intent words) following the held-out intent mix",
                "on_topic: share of generated non-common words from the prompt's true intent (routing errors count)",
                f"baseline: {steps} words drawn uniformly from the {START}-word vocabulary; its intent_accuracy is "
                "the majority intent's share",
                "the bigram models are fitted on a synthetic bag-of-words corpus: topical words, not language",
            ],
        )


@register
class Retriever(_GenerationHead):
    """Search/RAG smoke head: LSA embeddings of the query, the `k` most similar indexed training rows
    by cosine, and an answer from the bigram model of the retrieved documents' majority intent
    (ties broken by the core's routing of the query)."""

    name = "retriever"

    def __init__(self, classes: tuple[str, ...], options: dict[str, Any]) -> None:
        super().__init__(classes, options)
        if self.k < 1 or self.index_size < 1:
            raise ValueError(f"retriever needs k >= 1 and index_size >= 1; got {self.k}, {self.index_size}")
        self.embedding = TextEmbedding(classes, {"dims": self.dims, "text_bytes": self.text_bytes})

    @property
    def k(self) -> int:
        return int(self.options.get("k", 4))

    @property
    def index_size(self) -> int:
        return int(self.options.get("index_size", 1000))

    @property
    def dims(self) -> int:
        return int(self.options.get("dims", 8))

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        params = self.embedding.fit(core, x, y, rng)  # idf, components (unsupervised, deterministic)
        rows = np.arange(len(x), dtype=np.int64)
        if len(x) > self.index_size:
            rows = np.sort(rng.choice(len(x), size=self.index_size, replace=False)).astype(np.int64)
        params["index"] = self.embedding.embed_counts(params, np.asarray(x, dtype=np.float32)[rows])
        params["index_labels"] = np.asarray(y, dtype=np.int64)[rows]
        params["index_rows"] = rows
        params.update(bigram_params(y, self.classes, rng, self.options))
        return params

    def search(self, core: Core, params: Arrays, texts: list[str]) -> tuple[Arrays, IntArray]:
        """documents [n, k] (-1 past the index), scores [n, k] and the answer intent [n]; one core call."""
        count, k = len(texts), self.k
        counts = hashed(texts, int(params["idf"].size))
        routing = route(core, counts, len(self.classes))
        index, labels = params["index"], np.asarray(params["index_labels"], dtype=np.int64)
        documents = np.full((count, k), -1, dtype=np.int32)
        similarity = np.zeros((count, k), dtype=np.float32)
        intents = np.zeros(count, dtype=np.int64)
        if count == 0:
            return {"documents": documents, "scores": similarity}, intents
        cosine = self.embedding.embed_counts(params, counts) @ index.T  # [n, index rows]
        if cosine.shape[1] > k:  # the k best (any order), then sorted by descending cosine
            best = np.argpartition(-cosine, k - 1, axis=1)[:, :k]
            order = np.take_along_axis(best, np.argsort(-np.take_along_axis(cosine, best, 1), 1, kind="stable"), 1)
        else:
            order = np.argsort(-cosine, axis=1, kind="stable")
        found = order.shape[1]
        documents[:, :found] = order
        similarity[:, :found] = np.take_along_axis(cosine, order, axis=1)
        votes = np.zeros((count, len(self.classes)), dtype=np.float64)
        np.add.at(votes, (np.repeat(np.arange(count), found), labels[order].reshape(-1)), 1.0)
        votes[np.arange(count), routing] += 0.5  # a tie between intents goes to the core's routing
        intents = np.asarray(np.argmax(votes, axis=1), dtype=np.int64)
        return {"documents": documents, "scores": similarity}, intents

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        texts = decode_text(require_input(inputs, "query", (self.text_bytes,), TEXT_KINDS))
        outputs, intents = self.search(core, params, texts)
        outputs["text"] = self.answers(texts, intents, params)
        return outputs

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, Any]:
        """Synthetic queries [count, text_bytes] (4-12 words, ~60% intent words) following the rows'
        intent mix; truth is the intent index per query."""
        del x
        intents = sample_intents(y, count, len(self.classes), rng)
        texts = compose_texts(intents, self.classes, rng, QUERY_WORDS)
        return {"query": encode_text(texts, self.text_bytes)}, intents

    @staticmethod
    def retrieval_metrics(documents: npt.NDArray[np.int32], labels: IntArray, truth: IntArray) -> dict[str, float]:
        """precision_at_k: share of retrieved documents with the query's intent; recall_at_1: share of
        queries whose top document has it (missing documents count as wrong)."""
        if len(truth) == 0 or len(labels) == 0:
            return {"precision_at_k": 0.0, "recall_at_1": 0.0}
        hits = (documents >= 0) & (labels[np.maximum(documents, 0)] == truth[:, None])
        return {"precision_at_k": float(hits.mean()), "recall_at_1": float(hits[:, 0].mean())}

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        count = min(len(y), EVALUATION_REQUESTS)
        requests, truth = self.examples(x, y, rng, count)
        texts = decode_text(requests["query"])
        outputs, intents = self.search(core, params, texts)
        labels = np.asarray(params["index_labels"], dtype=np.int64)
        metrics = self.retrieval_metrics(outputs["documents"], labels, truth)
        metrics["answer_on_topic"] = topic_metrics(generate_words(texts, intents, params), truth, self.classes)[
            "on_topic"
        ]
        size, k = len(labels), self.k
        random_documents = np.full((count, k), -1, dtype=np.int32)
        for row in range(count):
            picked = rng.permutation(size)[:k]
            random_documents[row, : len(picked)] = picked
        baseline = self.retrieval_metrics(random_documents, labels, truth)
        baseline["answer_on_topic"] = topic_metrics(
            uniform_words(count, int(params["max_words"]), rng), truth, self.classes
        )["on_topic"]
        return TaskEvaluation(
            primary="precision_at_k",
            metrics=metrics,
            baseline=baseline,
            examples=count,
            notes=[
                f"{count} synthetic queries (4-12 words, ~60% intent words) against an index of {size} training rows",
                f"precision_at_k: share of the top {k} documents with the query's intent; recall_at_1: the top one",
                "answer_on_topic: the generated answer's non-common words from the query's intent",
                f"baseline: {k} random documents per query; uniformly random words for the answer",
            ],
        )
