"""Speech-to-text smoke head: a sound-event transcriber with CTC-style decoding.

The audio core classifies one clip's 16 band energies. A request is a spectrogram of `frames`
such frames; the core labels every frame (one core call per batch), and CTC-style decoding turns
the frame labels into text: merge consecutive repeats, drop the blank class. This is the decoding a
production CTC model (or Whisper's timestamps) needs too, so the post-processing is the real one;
only the frame classifier is a smoke stand-in. It writes sound events ("speech alarm"), not words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import FLOAT_KINDS, Arrays, Core, FloatArray, Head, TaskEvaluation, encode_text, register, require_input

FIT_SEQUENCES = 200  # synthetic training sequences the confidence threshold is chosen on
EVAL_SEQUENCES = 400  # synthetic held-out sequences evaluate scores
THRESHOLD_GRID = 20  # candidate thresholds: quantiles of the frames' top probability
MAX_EVENTS = 3
MAX_EVENT_FRAMES = 3

IntArray = npt.NDArray[np.int64]


def collapse(labels: Sequence[int], blank: int) -> list[int]:
    """CTC decoding of one frame-label sequence: merge consecutive repeats, then drop the blank.

    A blank between two equal labels keeps them apart ([a, blank, a] -> [a, a]); without it they
    are one event ([a, a] -> [a]).
    """
    decoded: list[int] = []
    previous: int | None = None
    for label in labels:
        if label != previous and label != blank:
            decoded.append(int(label))
        previous = label
    return decoded


def collapse_batch(labels: npt.NDArray[np.integer[Any]], blank: int) -> list[list[int]]:
    """`collapse` of every row of [b, frames] frame labels (vectorised keep mask, one list per row)."""
    labels = np.asarray(labels, dtype=np.int64)
    previous = np.concatenate([np.full((len(labels), 1), -1, dtype=np.int64), labels[:, :-1]], axis=1)
    keep = (labels != previous) & (labels != blank)
    return [row[mask].tolist() for row, mask in zip(labels, keep, strict=True)]


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two word sequences (substitutions, insertions, deletions)."""
    row = list(range(len(hypothesis) + 1))
    for index, word in enumerate(reference, start=1):
        diagonal, row[0] = row[0], index
        for column, other in enumerate(hypothesis, start=1):
            diagonal, row[column] = row[column], min(row[column] + 1, row[column - 1] + 1, diagonal + (word != other))
    return row[-1]


def word_metrics(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """word_accuracy: 1 - corpus word error rate (edits / reference words), clipped at 0;
    exact_match: share of transcripts equal to their reference."""
    edits = sum(edit_distance(ref.split(), hyp.split()) for ref, hyp in zip(references, hypotheses, strict=True))
    words = sum(len(ref.split()) for ref in references)
    error_rate = edits / words if words else float(edits > 0)
    exact = [ref.split() == hyp.split() for ref, hyp in zip(references, hypotheses, strict=True)]
    return {"word_accuracy": max(0.0, 1.0 - error_rate), "exact_match": float(np.mean(exact)) if exact else 0.0}


@register
class EventTranscriber(Head):
    """Labels each spectrogram frame with the core, then decodes the labels CTC-style into text.

    fit learns one confidence threshold: a frame whose top class probability is below it counts as
    blank, which suppresses flickering one-frame events where the core is unsure. It is chosen by
    word accuracy on synthetic sequences of training rows (0 = plain argmax, if nothing helps).
    """

    name = "event_transcriber"

    def __init__(self, classes: tuple[str, ...], options: dict[str, Any]) -> None:
        super().__init__(classes, options)
        blank = str(self.options.get("blank", "noise"))
        if blank not in self.classes:
            raise ValueError(f"event_transcriber: blank class {blank!r} is not one of {list(self.classes)}")
        self.blank = self.classes.index(blank)
        self.frames = int(self.options.get("frames", 8))
        if self.frames < 1:
            raise ValueError(f"event_transcriber: frames must be at least 1, got {self.frames}")

    def frame_labels(self, core: Core, params: Arrays, spectrogram: npt.NDArray[np.floating[Any]]) -> IntArray:
        """Class index per frame [b, frames]: one core call on all b*frames frames; unsure frames are blank."""
        batch, frames, bands = spectrogram.shape
        if batch == 0:
            return np.zeros((0, frames), dtype=np.int64)
        scores = np.asarray(core(np.ascontiguousarray(spectrogram, dtype=np.float32).reshape(batch * frames, bands)))
        labels: IntArray = np.argmax(scores, axis=1).astype(np.int64)
        labels[scores.max(axis=1) < float(params["threshold"])] = self.blank
        return labels.reshape(batch, frames)

    def transcripts(self, labels: npt.NDArray[np.integer[Any]]) -> list[str]:
        """Texts of frame labels [b, frames]: class names of the decoded events, space-separated."""
        return [" ".join(self.classes[label] for label in row) for row in collapse_batch(labels, self.blank)]

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        bands = np.asarray(x.shape[1], dtype=np.int64)
        if len(x) == 0:
            return {"threshold": np.asarray(0.0, dtype=np.float32), "bands": bands}
        spectrogram, _, truth = self._sequences(x, y, rng, FIT_SEQUENCES)
        scores = np.asarray(core(spectrogram.reshape(-1, x.shape[1])))
        labels = np.argmax(scores, axis=1).reshape(FIT_SEQUENCES, self.frames)
        confidence = scores.max(axis=1).reshape(FIT_SEQUENCES, self.frames)
        candidates = np.unique(np.quantile(confidence, np.linspace(0.0, 0.5, THRESHOLD_GRID)))
        best, best_accuracy = 0.0, word_metrics(truth, self.transcripts(labels))["word_accuracy"]
        for candidate in candidates.tolist():
            blanked = np.where(confidence < candidate, self.blank, labels)
            accuracy = word_metrics(truth, self.transcripts(blanked))["word_accuracy"]
            if accuracy > best_accuracy:
                best, best_accuracy = float(candidate), accuracy
        return {"threshold": np.asarray(best, dtype=np.float32), "bands": bands}

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        spectrogram = require_input(inputs, "spectrogram", (self.frames, int(params["bands"])), FLOAT_KINDS)
        texts = self.transcripts(self.frame_labels(core, params, spectrogram))
        return {"text": encode_text(texts, int(self.options.get("text_bytes", 64)))}

    def _layout(self, events: list[int], rng: np.random.Generator) -> list[int]:
        """Frame labels of one sequence: 1-3 events of 1-3 frames each, blank frames around them.

        Two equal events in a row get a blank frame between them (else decoding merges them); the
        events are shortened (then dropped) until they fit into `frames`.
        """
        if not events:
            return [self.blank] * self.frames
        chosen = [events[int(rng.integers(len(events)))] for _ in range(int(rng.integers(1, MAX_EVENTS + 1)))]
        lengths = rng.integers(1, MAX_EVENT_FRAMES + 1, len(chosen)).tolist()

        def separators() -> list[int]:
            return [0] + [int(chosen[i] == chosen[i - 1]) for i in range(1, len(chosen))] + [0]

        while sum(lengths) + sum(separators()) > self.frames:
            if max(lengths) > 1:
                lengths[lengths.index(max(lengths))] -= 1
            else:
                chosen.pop()
                lengths.pop()
        gaps = separators()
        for slot in rng.integers(0, len(gaps), self.frames - sum(lengths) - sum(gaps)).tolist():
            gaps[slot] += 1
        layout: list[int] = []
        for gap, event, length in zip(gaps, chosen, lengths, strict=False):
            layout += [self.blank] * gap + [event] * length
        return layout + [self.blank] * gaps[-1]

    def _sequences(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[FloatArray, IntArray, list[str]]:
        """Spectrograms [count, frames, bands] of rows (x, y), their frame labels and transcripts.

        Every frame is a random row of its label's class; blank frames with no blank-class rows
        available fall back to a flat spectrum (equal energy in every band, like noise).
        """
        y = np.asarray(y, dtype=np.int64)
        members = {label: np.flatnonzero(y == label) for label in range(len(self.classes))}
        events = [label for label, rows in members.items() if label != self.blank and len(rows)]
        labels = np.asarray([self._layout(events, rng) for _ in range(count)], dtype=np.int64)
        labels = labels.reshape(count, self.frames)
        spectrogram = np.full((count, self.frames, x.shape[1]), 1.0 / max(1, x.shape[1]), dtype=np.float32)
        for label, rows in members.items():
            where = labels == label
            if len(rows) and where.any():
                spectrogram[where] = x[rows[rng.integers(0, len(rows), int(where.sum()))]]
        return spectrogram, labels, self.transcripts(labels)

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, Any]:
        """Spectrograms [count, frames, bands] made of held-out clips; truth is the transcript per request."""
        spectrogram, _, truth = self._sequences(x, y, rng, count)
        return {"spectrogram": spectrogram}, truth

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        count = EVAL_SEQUENCES if len(x) else 0
        spectrogram, frame_truth, truth = self._sequences(x, y, rng, count)
        labels = self.frame_labels(core, params, spectrogram)
        metrics = word_metrics(truth, self.transcripts(labels))
        baseline = word_metrics(truth, [""] * count)
        metrics["frame_accuracy"] = float(np.mean(labels == frame_truth)) if count else 0.0
        baseline["frame_accuracy"] = float(np.mean(frame_truth == self.blank)) if count else 0.0
        return TaskEvaluation(
            primary="word_accuracy",
            metrics=metrics,
            baseline=baseline,
            examples=count,
            notes=[
                f"{count} synthetic sequences of {self.frames} held-out clips: 1-{MAX_EVENTS} events of "
                f"1-{MAX_EVENT_FRAMES} frames, the other frames {self.classes[self.blank]!r} (the blank)",
                "baseline: the empty transcript (all frames blank)",
                f"confidence threshold (frames below count as blank): {float(params['threshold']):.3f}",
            ],
        )
