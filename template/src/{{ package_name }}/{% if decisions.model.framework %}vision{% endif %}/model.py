"""The detection model: a torchvision SSD-family network built from VisionSettings, and the export
wrapper whose outputs are the model contract (inference.py).

    model = build_model(settings)            # nn.Module in train mode, input side settings.image_size
    step = ExportWrapper(model, settings)    # [B, 3, S, S] RGB 0..1 -> boxes [B, A, 4], scores [B, A, C]

Locally `vision.weights` is empty and the model trains from scratch. In the cloud it names the
architecture's pretrained weights (e.g. COCO_V1) or a checkpoint file (a state_dict saved with
torch.save); both load through `load_checkpoint`, which keeps the classification head fresh when the
checkpoint was trained on a different number of classes.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .settings import VisionConfigError, VisionSettings

HEAD_PREFIX = "head.classification_head."  # the only weights allowed to differ from a checkpoint
# torchvision's SSDlite sets batch-norm momentum 0.03 for long COCO schedules; a few hundred steps on the
# local set leave such running statistics behind the weights, and eval mode (export) reads them.
BATCH_NORM_MOMENTUM = 0.1


class ModelError(RuntimeError):
    """The model cannot be built or loaded as configured; the message names the setting."""


def build_model(settings: VisionSettings, *, load_weights: bool = True) -> nn.Module:
    """The SSD-family detector for settings.classes (+ background) at settings.image_size, with the
    pretrained checkpoint loaded when settings.weights names one (and `load_weights`)."""
    from torchvision.models import get_model, list_models  # type: ignore[import-untyped]
    from torchvision.models.detection.ssd import SSD  # type: ignore[import-untyped]

    if settings.architecture not in list_models():
        raise VisionConfigError(
            f"vision.architecture {settings.architecture!r} is not a torchvision model; "
            "use an SSD-family detector such as ssdlite320_mobilenet_v3_large"
        )
    # weights=None here: a pretrained checkpoint has its own class count, so it is loaded below.
    model = get_model(settings.architecture, weights=None, weights_backbone=None, num_classes=settings.num_classes + 1)
    if not isinstance(model, SSD):
        raise VisionConfigError(
            f"vision.architecture {settings.architecture!r} is not an SSD-family detector (the export wrapper "
            "decodes SSD anchors); use ssdlite320_mobilenet_v3_large or ssd300_vgg16"
        )
    size = settings.image_size
    # The SSD builders fix their input side (320 or 300); the transform resizes to settings.image_size instead.
    model.transform.fixed_size = (size, size)
    model.transform.min_size = (size,)
    model.transform.max_size = size
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = BATCH_NORM_MOMENTUM
    if settings.weights and load_weights:
        load_checkpoint(model, settings)
    built: nn.Module = model
    return built


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
    from torchvision.models import get_model_weights

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
    """Load settings.weights into `model`; returns the keys kept fresh (the classification head when
    the checkpoint has another number of classes). Any other mismatch is an error."""
    state = checkpoint_state(settings)
    own = model.state_dict()
    matching = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
    fresh = sorted(key for key in own if key not in matching)
    foreign = [key for key in fresh if not key.startswith(HEAD_PREFIX)]
    if foreign:
        raise ModelError(
            f"vision.weights {settings.weights!r} does not fit {settings.architecture}: {len(foreign)} weights "
            f"outside the classification head differ (first: {foreign[0]}); use a checkpoint of that architecture"
        )
    model.load_state_dict(matching, strict=False)
    return fresh


class ExportWrapper(nn.Module):
    """The served model step: normalisation, backbone, head, anchors decoded with the model's box
    coder, softmax without the background class. No NMS (that is postprocess's job)."""

    mean: Tensor
    std: Tensor
    anchors: Tensor

    def __init__(self, model: nn.Module, settings: VisionSettings) -> None:
        super().__init__()
        from torchvision.models.detection.image_list import ImageList  # type: ignore[import-untyped]

        ssd: Any = model  # torchvision is untyped: its SSD attributes are Any
        size = settings.image_size
        self.backbone: nn.Module = ssd.backbone
        self.head: nn.Module = ssd.head
        self.box_coder: Any = ssd.box_coder
        transform = ssd.transform
        self.register_buffer("mean", torch.tensor(transform.image_mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(transform.image_std, dtype=torch.float32).view(1, 3, 1, 1))
        # Anchors depend only on the input side and the feature-map sizes: computed once, a constant.
        with torch.no_grad():
            probe = torch.zeros(1, 3, size, size)
            features = self._features(probe)
            anchors = ssd.anchor_generator(ImageList(probe, [(size, size)]), features)[0]
        self.register_buffer("anchors", anchors.detach().clone())

    def _features(self, pixels: Tensor) -> list[Tensor]:
        features = self.backbone(pixels)
        if isinstance(features, Tensor):
            features = OrderedDict([("0", features)])
        return list(features.values())

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        pixels = (images - self.mean) / self.std
        outputs = self.head(self._features(pixels))
        codes = outputs["bbox_regression"]  # [B, A, 4]
        batch, count = codes.shape[0], codes.shape[1]
        # decode_single reads codes as [A, 4k] (k boxes per anchor): the batch rides in k.
        stacked = codes.permute(1, 0, 2).reshape(count, -1)
        boxes = self.box_coder.decode_single(stacked, self.anchors).reshape(count, batch, 4).permute(1, 0, 2)
        scores = torch.softmax(outputs["cls_logits"], dim=-1)[..., 1:]
        return boxes, scores


def export_module(model: nn.Module, settings: VisionSettings) -> ExportWrapper:
    """The wrapper in eval mode (batch-norm running statistics, no dropout)."""
    model.eval()
    return ExportWrapper(model, settings).eval()


def save_state(model: nn.Module, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def load_state(settings: VisionSettings, path: Path) -> nn.Module:
    """A model with the trained state_dict at `path` (no pretrained checkpoint involved), in eval mode."""
    model = build_model(settings, load_weights=False)
    state: Any = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
