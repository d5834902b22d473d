"""The training loop: images of the data intervals -> a trained SSD-family detector.

    samples = load_samples(iter_samples(interval_dirs, settings.classes), settings)
    result = fit(samples, settings)            # prints one progress line per epoch
    found = predict(result.model, settings, [s.pixels for s in test])

Images are resized to the square input once (the same `preprocess` serving uses) and kept in memory;
the local set is a few hundred small images. Training is deterministic for a seed on the CPU.
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

from .inference import Detections, postprocess, preprocess
from .model import build_model, export_module
from .settings import VisionSettings

# AdamW trains the from-scratch detector faster than SGD on the small local set; SGD with momentum is
# the usual choice to fine-tune a pretrained checkpoint (vision.weights set).
OPTIMIZERS = ("adamw", "sgd")
WARMUP_EPOCHS = 1  # linear warm-up, then cosine decay to 5% of the learning rate
WEIGHT_DECAY = 1e-4
GRAD_CLIP = 10.0  # SSD's box loss spikes in the first steps from scratch

Progress = Callable[[str], None]


class TrainingDataError(ValueError):
    """The images cannot be trained on (none, unreadable); the message says which and what to do."""


@dataclass(frozen=True)
class Sample:
    """One image ready for the model: FP32 [3, S, S] pixels, boxes in S x S pixels, and the original."""

    image_id: int
    pixels: npt.NDArray[np.float32]
    truth: Detections  # boxes xyxy in ORIGINAL pixels, 0-based classes
    orig_hw: tuple[int, int]

    def scaled_boxes(self, size: int) -> npt.NDArray[np.float32]:
        height, width = self.orig_hw
        scale = np.array([size / width, size / height, size / width, size / height], dtype=np.float32)
        return self.truth.boxes * scale


@dataclass
class TrainResult:
    model: nn.Module
    epochs: int
    seconds: float
    losses: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, bbox_regression, classification
    optimizer: str = "adamw"


def load_samples(items: Iterable[tuple[int, Path, Any]], settings: VisionSettings) -> list[Sample]:
    """Decode and resize (image_id, path, annotation with .boxes/.classes) triples, e.g. images.iter_samples."""
    samples: list[Sample] = []
    for image_id, path, annotation in items:
        try:
            pixels, orig_hw = preprocess(Path(path).read_bytes(), settings.image_size)
        except (OSError, ValueError) as error:
            raise TrainingDataError(
                f"image {image_id} ({path}) cannot be read: {error}; validate the interval"
            ) from error
        samples.append(Sample(int(image_id), pixels, Detections.truth(annotation.boxes, annotation.classes), orig_hw))
    return samples


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _targets(batch: Sequence[Sample], size: int, flips: Sequence[bool]) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    images: list[Tensor] = []
    targets: list[dict[str, Tensor]] = []
    for sample, flip in zip(batch, flips, strict=True):
        pixels = torch.from_numpy(sample.pixels)
        boxes = torch.from_numpy(sample.scaled_boxes(size))
        if flip:  # horizontal flip: the shapes are symmetric, their classes do not change
            pixels = pixels.flip(-1)
            boxes = torch.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], dim=1)
        images.append(pixels)
        # torchvision keeps label 0 for the background: classes shift by one
        targets.append({"boxes": boxes.reshape(-1, 4), "labels": torch.from_numpy(sample.truth.classes) + 1})
    return images, targets


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
        sums: dict[str, float] = {}
        for first in range(0, len(order), batch_size):
            batch = [samples[index] for index in order[first : first + batch_size]]
            images, targets = _targets(batch, settings.image_size, (rng.random(len(batch)) < 0.5).tolist())
            parts: dict[str, Tensor] = net(images, targets)
            loss = sum(parts.values(), torch.zeros(()))
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
            for key, value in {"loss": loss, **parts}.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(batch)
        means = {key: value / len(samples) for key, value in sums.items()}
        result.losses.append(means)
        if progress is not None:
            details = ", ".join(f"{key} {value:.3f}" for key, value in means.items() if key != "loss")
            progress(
                f"epoch {epoch}/{settings.epochs}: loss {means['loss']:.3f} ({details}), "
                f"lr {scheduler.get_last_lr()[0]:.2e}, {time.perf_counter() - began:.1f} s"
            )
    result.seconds = time.perf_counter() - started
    net.eval()
    return result


def predict(model: nn.Module, settings: VisionSettings, samples: Sequence[Sample]) -> list[Detections]:
    """In-process PyTorch predictions of the export wrapper + postprocess (what ONNX serving computes)."""
    wrapper = export_module(model, settings)
    found: list[Detections] = []
    with torch.no_grad():
        for first in range(0, len(samples), 32):
            chunk = samples[first : first + 32]
            boxes, scores = wrapper(torch.from_numpy(np.stack([sample.pixels for sample in chunk])))
            for index, sample in enumerate(chunk):
                found.append(
                    postprocess(
                        boxes[index].numpy(),
                        scores[index].numpy(),
                        sample.orig_hw,
                        settings.image_size,
                        score_threshold=settings.score_threshold,
                        iou_threshold=settings.iou_threshold,
                        max_detections=settings.max_detections,
                    )
                )
    return found
