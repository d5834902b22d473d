"""The training loop of every vision task: images of the data intervals -> a trained model.

    samples = load_samples(iter_samples(interval_dirs, settings.classes), settings)
    result = fit(samples, settings)            # prints one progress line per epoch
    found = predict(result.model, settings, test_samples)   # the task's Predictions

Images are resized to the square input once (the same `preprocess` serving uses) and kept in memory;
the local set is a few hundred small images. The loss is the task's (task.training_loss); the loop,
the schedule and the augmentation (random horizontal flips: the synthetic shapes are symmetric, their
classes do not change) are the same for every task. Training is deterministic for a seed on the CPU.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from .images import Annotation
from .inference import MAX_BATCH, batches, preprocess
from .model import build_model, export_module
from .settings import VisionSettings
from .task import stack_outputs, task_module

# AdamW trains the from-scratch detector faster than SGD on the small local set; SGD with momentum is
# the usual choice to fine-tune a pretrained checkpoint (vision.weights set).
OPTIMIZERS = ("adamw", "sgd")
WARMUP_EPOCHS = 1  # linear warm-up, then cosine decay to 5% of the learning rate
WEIGHT_DECAY = 1e-4
GRAD_CLIP = 10.0  # e.g. SSD's box loss spikes in the first steps from scratch

Progress = Callable[[str], None]


class TrainingDataError(ValueError):
    """The images cannot be trained on (none, unreadable); the message says which and what to do."""


@dataclass(frozen=True)
class Sample:
    """One image ready for the model: FP32 [3, S, S] pixels, its annotation in ORIGINAL pixels, and
    the original (height, width)."""

    image_id: int
    pixels: npt.NDArray[np.float32]
    annotation: Annotation
    orig_hw: tuple[int, int]

    def scaled(self, size: int) -> Annotation:
        """The annotation in the S x S input's pixels."""
        height, width = self.orig_hw
        return self.annotation.scaled(size / width, size / height)


@dataclass
class TrainResult:
    model: nn.Module
    epochs: int
    seconds: float
    losses: list[dict[str, float]] = field(default_factory=list)  # per epoch: {"loss": mean loss}
    optimizer: str = "adamw"


def load_samples(items: Iterable[tuple[int, Path, Annotation]], settings: VisionSettings) -> list[Sample]:
    """Decode and resize (image_id, path, annotation) triples, e.g. images.iter_samples."""
    samples: list[Sample] = []
    for image_id, path, annotation in items:
        try:
            pixels, orig_hw = preprocess(Path(path).read_bytes(), settings.image_size)
        except (OSError, ValueError) as error:
            raise TrainingDataError(
                f"image {image_id} ({path}) cannot be read: {error}; validate the interval"
            ) from error
        samples.append(Sample(int(image_id), pixels, annotation, orig_hw))
    return samples


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batch(batch: Sequence[Sample], size: int, flips: Sequence[bool]) -> tuple[Tensor, list[Annotation]]:
    """The pixels [B, 3, S, S] and the annotations in S px, each flipped horizontally where `flips` says."""
    images: list[Tensor] = []
    annotations: list[Annotation] = []
    for sample, flip in zip(batch, flips, strict=True):
        pixels = torch.from_numpy(sample.pixels)
        annotation = sample.scaled(size)
        if flip:
            pixels = pixels.flip(-1)
            annotation = annotation.flipped(size)
        images.append(pixels)
        annotations.append(annotation)
    return torch.stack(images), annotations


def _schedule(epochs: int, steps_per_epoch: int) -> Callable[[int], float]:
    total, warmup = max(1, epochs * steps_per_epoch), min(WARMUP_EPOCHS, max(epochs - 1, 0)) * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return 0.1 + 0.9 * step / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def make_optimizer(name: str, parameters: Iterable[nn.Parameter], learning_rate: float) -> torch.optim.Optimizer:
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=WEIGHT_DECAY)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=learning_rate, momentum=0.9, weight_decay=WEIGHT_DECAY)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def default_optimizer(settings: VisionSettings) -> str:
    return "sgd" if settings.weights else "adamw"


def fit(
    samples: Sequence[Sample],
    settings: VisionSettings,
    *,
    optimizer: str | None = None,
    progress: Progress | None = print,
    model: nn.Module | None = None,
) -> TrainResult:
    """Train settings.epochs epochs over `samples` (shuffled per epoch, random horizontal flips)."""
    if not samples:
        raise TrainingDataError("no training images: generate or ingest an interval first (`make etl`)")
    seed_everything(settings.seed)
    task = task_module(settings)
    net = model if model is not None else build_model(settings)
    net.train()
    name = optimizer or default_optimizer(settings)
    opt = make_optimizer(name, [p for p in net.parameters() if p.requires_grad], settings.learning_rate)
    batch_size = max(1, min(settings.batch_size, len(samples)))
    steps = math.ceil(len(samples) / batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(settings.epochs, steps))
    rng = np.random.default_rng(settings.seed)
    result = TrainResult(net, settings.epochs, 0.0, optimizer=name)
    started = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        began = time.perf_counter()
        order = rng.permutation(len(samples))
        total = 0.0
        for first in range(0, len(order), batch_size):
            batch = [samples[index] for index in order[first : first + batch_size]]
            pixels, annotations = _batch(batch, settings.image_size, (rng.random(len(batch)) < 0.5).tolist())
            loss = task.training_loss(net, pixels, annotations, settings)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} in epoch {epoch}; lower vision.learning_rate "
                    f"(now {settings.learning_rate})"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(net.parameters(), GRAD_CLIP)
            opt.step()
            scheduler.step()
            total += float(loss.detach()) * len(batch)
        means = {"loss": total / len(samples)}
        result.losses.append(means)
        if progress is not None:
            progress(
                f"epoch {epoch}/{settings.epochs}: loss {means['loss']:.3f}, "
                f"lr {scheduler.get_last_lr()[0]:.2e}, {time.perf_counter() - began:.1f} s"
            )
    result.seconds = time.perf_counter() - started
    net.eval()
    return result


def predict(model: nn.Module, settings: VisionSettings, samples: Sequence[Sample]) -> list[Any]:
    """In-process PyTorch predictions of the export wrapper + the task's postprocess (what ONNX serving
    computes), one task Prediction per sample."""
    task = task_module(settings)
    wrapper = export_module(model, settings)
    found: list[Any] = []
    with torch.no_grad():
        for chunk in batches(samples, MAX_BATCH):
            outputs = stack_outputs(wrapper(torch.from_numpy(np.stack([sample.pixels for sample in chunk]))))
            for index, sample in enumerate(chunk):
                found.append(task.postprocess([output[index] for output in outputs], sample.orig_hw, settings))
    return found
