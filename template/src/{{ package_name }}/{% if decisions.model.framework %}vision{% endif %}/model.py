"""The model of any vision task: built by the task module, checkpoints resolved and loaded here.

    model = build_model(settings)            # the task's torchvision model, train mode, side settings.image_size
    step = export_module(model, settings)    # [B, 3, S, S] RGB 0..1 -> the task's OUTPUTS (task.py)

Locally `vision.weights` is empty and the model trains from scratch. In the cloud it names the
architecture's pretrained weights (e.g. COCO_V1, IMAGENET1K_V1) or a checkpoint file (a state_dict saved
with torch.save); both load through `load_checkpoint`, which keeps the task's head (task.HEAD_PREFIXES)
fresh when the checkpoint was trained on a different number of classes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from .settings import VisionConfigError, VisionSettings
from .task import task_module


class ModelError(RuntimeError):
    """The model cannot be built or loaded as configured; the message names the setting."""


def build_model(settings: VisionSettings, *, load_weights: bool = True) -> nn.Module:
    """The task's model for settings.classes at settings.image_size (task.build_model)."""
    return task_module(settings).build_model(settings, load_weights=load_weights)


def export_module(model: nn.Module, settings: VisionSettings) -> nn.Module:
    """The served model step in eval mode (task.export_module)."""
    return task_module(settings).export_module(model, settings)


# torchvision's backbones use batch-norm momentum 0.01-0.03 (long ImageNet/COCO schedules); a few hundred
# steps on the local set would leave the running statistics that eval mode (the export) reads behind the weights.
BATCH_NORM_MOMENTUM = 0.1


def short_schedule_batch_norm(model: nn.Module) -> nn.Module:
    """Every BatchNorm2d of `model` at BATCH_NORM_MOMENTUM (each task's build_model calls it)."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = BATCH_NORM_MOMENTUM
    return model


# ImageNet statistics: what torchvision's classifiers and segmenters (and their checkpoints) expect
# after the 0..1 scaling.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetNormalise(nn.Module):
    """RGB 0..1 -> ImageNet-normalised pixels, as a layer: the exported model step carries it."""

    mean: Tensor
    std: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, pixels: Tensor) -> Tensor:
        return (pixels - self.mean) / self.std


def imagenet_normalise(pixels: Tensor) -> Tensor:
    """The same on a training batch, in its dtype and on its device."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    return (pixels - mean) / std


def checkpoint_state(settings: VisionSettings) -> dict[str, Tensor]:
    """The state_dict that settings.weights names: a file path, or a weights enum member of the
    architecture (downloaded by torchvision into its cache on first use)."""
    assert settings.weights
    candidate = settings.path(settings.weights)
    if candidate.suffix in (".pt", ".pth") or candidate.is_file():
        if not candidate.is_file():
            raise ModelError(f"vision.weights: checkpoint file {candidate} does not exist")
        state = torch.load(candidate, map_location="cpu", weights_only=True)
        return dict(state.get("state_dict", state)) if isinstance(state, dict) else state
    from torchvision.models import get_model_weights  # type: ignore[import-untyped]

    enum = get_model_weights(settings.architecture)
    try:
        weights = enum[settings.weights.split(".")[-1]]
    except KeyError as error:
        names = ", ".join(member.name for member in enum)
        raise VisionConfigError(
            f"vision.weights {settings.weights!r} is not a checkpoint of {settings.architecture} "
            f"(known: {names}) nor a .pt/.pth file"
        ) from error
    return dict(weights.get_state_dict(progress=False, check_hash=True))


def load_checkpoint(model: nn.Module, settings: VisionSettings) -> list[str]:
    """Load settings.weights into `model`; returns the keys kept fresh (the task's head, HEAD_PREFIXES,
    when the checkpoint has another number of classes). Any other mismatch is an error."""
    prefixes = task_module(settings).HEAD_PREFIXES
    state = checkpoint_state(settings)
    own = model.state_dict()
    matching = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
    fresh = sorted(key for key in own if key not in matching)
    foreign = [key for key in fresh if not key.startswith(prefixes)]
    if foreign:
        raise ModelError(
            f"vision.weights {settings.weights!r} does not fit {settings.architecture}: {len(foreign)} weights "
            f"outside the head ({', '.join(prefixes)}) differ (first: {foreign[0]}); use a checkpoint of that "
            "architecture"
        )
    model.load_state_dict(matching, strict=False)
    return fresh


def save_state(model: nn.Module, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path
