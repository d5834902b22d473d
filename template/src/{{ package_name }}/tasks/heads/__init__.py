"""Task heads: what turns the family's trained core model into the use case's production contract.

The core model (training/models.py) maps the family's flat features to class scores, e.g. hashed
token counts to intent probabilities. A use case whose production model has another contract (a
text to an embedding, a spectrogram to a transcript) gets a *head*: pre-processing that turns a
production request into core inputs, and post-processing (CTC-style collapse, ...)
that turns core scores into the production outputs. Heads are fitted and evaluated by the training
pipeline and served by Triton as a python model around the core (platform.yaml `decisions.task` says
which head this project's use case gets, the head modules it needs and the tensors it serves).

A project holds only its own head: `heads/<head>.py` plus the family helpers it imports
(embedding.py, generation.py, text.py, vocabulary.py), as `decisions.task.modules` lists them.

This package imports NumPy and the standard library only: the repository builder copies it next to
the Triton python model, where the project package is not installed.

Conventions every head follows
- `core(x)` takes FP32 features [n, n_features] (contract.yaml order) and returns FP32 scores
  [n, n_classes]; heads may call it with any n (including 0 rows).
- Inputs and outputs are dicts of batched arrays: the first axis is the request batch. FP32 as
  float32, INT32 as int32, UTF8 (text) as uint8 [n, width] zero-padded UTF-8 (`encode_text`).
  Shapes after the batch axis are the `dims` of decisions.task in platform.yaml.
- `params` is a flat dict of NumPy arrays (saved with `np.savez`, so no objects).
- Everything random takes the `rng` it is given, so a seed reproduces fits and evaluations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Arrays = dict[str, npt.NDArray[Any]]
Core = Callable[[FloatArray], FloatArray]


@dataclass(frozen=True)
class TaskEvaluation:
    """A head's held-out result: its metrics, the same metrics of a trivial baseline, and which one
    decides (`primary`, higher is better). `examples` counts the production-shaped requests built."""

    primary: str
    metrics: dict[str, float]
    baseline: dict[str, float]
    examples: int
    notes: list[str] = field(default_factory=list)

    @property
    def beats_baseline(self) -> bool:
        return self.metrics[self.primary] > self.baseline[self.primary]


class Head(ABC):
    """One production contract built on a family's core model."""

    name: ClassVar[str]

    def __init__(self, classes: tuple[str, ...], options: dict[str, Any]) -> None:
        self.classes = tuple(classes)
        self.options = dict(options)

    @abstractmethod
    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        """Fit what the head learns (thresholds, projections) on training rows; returns params."""

    @abstractmethod
    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        """Serve one batch of production requests (the tensors of decisions.task)."""

    @abstractmethod
    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, Any]:
        """`count` production-shaped requests built from rows (x, y), and their ground truth."""

    @abstractmethod
    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        """Metrics on production-shaped requests built from held-out rows, against a baseline."""


_REGISTRY: dict[str, type[Head]] = {}


def register(cls: type[Head]) -> type[Head]:
    """Class decorator: make a head available to `get_head` under its `name`."""
    _REGISTRY[cls.name] = cls
    return cls


def get_head(name: str, classes: tuple[str, ...], options: dict[str, Any]) -> Head:
    """The head `name` (platform.yaml decisions.task.head): imported from its module, heads/<name>.py.

    A project holds only its own head's modules (decisions.task.modules), so another head's name
    fails with a KeyError that says so; a module without the registered head is a KeyError too."""
    if name not in _REGISTRY:
        try:
            import_module(f".{name}", __name__)  # relative: the copy inside Triton loads it too
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # the head's module exists, but something it imports does not
            raise KeyError(
                f"no task head {name!r} in this project (tasks/heads/{name}.py): the project was rendered "
                f"for another use case; tasks/heads/ holds {available_heads()}"
            ) from error
    if name not in _REGISTRY:
        raise KeyError(f"tasks/heads/{name}.py registers no head named {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name](classes, options)


def available_heads() -> list[str]:
    """The head modules present in this copy of the package (helpers included)."""
    return sorted(path.stem for path in Path(__file__).parent.glob("*.py") if path.stem != "__init__")


FLOAT_KINDS = "f"
TEXT_KINDS = "u"


def encode_text(texts: list[str], width: int) -> npt.NDArray[np.uint8]:
    """A text tensor [n, width]: each text's UTF-8 bytes, zero-padded (cut at a character boundary).

    Text travels as UINT8 rather than Triton's BYTES type: the python-backend stub bundled with
    the local Triton cannot pass BYTES tensors under NumPy 2 (they arrive corrupted, like every
    `as_numpy()` tensor), while UINT8 goes through DLPack like the other tensors.
    """
    array = np.zeros((len(texts), width), dtype=np.uint8)
    for index, text in enumerate(texts):
        data = text.encode("utf-8")[:width]
        data = data.decode("utf-8", errors="ignore").encode("utf-8")  # drop a cut multi-byte character
        array[index, : len(data)] = np.frombuffer(data, dtype=np.uint8)
    return array


def decode_text(array: npt.NDArray[Any]) -> list[str]:
    """Texts from a text tensor [n, width] (trailing zero bytes are padding)."""
    rows = np.asarray(array, dtype=np.uint8).reshape(len(array), -1) if len(array) else np.zeros((0, 0), np.uint8)
    return [bytes(row).rstrip(b"\0").decode("utf-8", errors="replace") for row in rows]


def require_input(inputs: Arrays, name: str, dims: tuple[int, ...], kinds: str) -> npt.NDArray[Any]:
    """The batched input `name`, checked against its dims (after the batch axis) and dtype kind.

    Triton checks shapes against config.pbtxt, but the head also runs outside Triton (training,
    tests), and a wrong shape must fail with a message naming the tensor, not deep in NumPy.
    """
    expected = f"[batch, {', '.join(str(size) for size in dims)}]"
    if name not in inputs:
        raise ValueError(f"missing input {name!r} (expected {expected}); got {sorted(inputs)}")
    array = np.asarray(inputs[name])
    if array.ndim != len(dims) + 1 or tuple(array.shape[1:]) != dims:
        raise ValueError(f"input {name!r} has shape {list(array.shape)}; expected {expected}")
    if array.dtype.kind not in kinds:
        wanted = "UTF-8 bytes (uint8)" if kinds == TEXT_KINDS else "floating point"
        raise ValueError(f"input {name!r} has dtype {array.dtype}; expected {wanted} {expected}")
    return array


def guarded_core(predict: Callable[[FloatArray], Any], n_outputs: int) -> Core:
    """`predict` as a head's core: FP32 in and out, and zero rows answered without calling it (the
    heads may ask for zero rows, which scikit-learn and some runtimes refuse)."""

    def core(x: FloatArray) -> FloatArray:
        if len(x) == 0:
            return np.zeros((0, n_outputs), dtype=np.float32)
        return np.asarray(predict(np.ascontiguousarray(x, dtype=np.float32)), dtype=np.float32)

    return core


def l2_normalise(vectors: npt.NDArray[np.floating[Any]]) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)
