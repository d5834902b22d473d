"""`python -m <package>.serving build` for the vision model: the champion's served ONNX as the ensemble.

The champion run logs the served precision's ONNX at the registry's ONNX artifact path
(training/registry.py ONNX_ARTIFACT), so the platform's model resolution (serving/champion.py)
finds it like any other model; vision/triton.py turns it into the preprocess -> model ->
postprocess ensemble.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..config import local_path
from ..serving.champion import resolve_model
from ..serving.settings import ServingSettings
from .settings import VisionSettings
from .triton import build_champion_repository


def build_project_repository(
    serving: ServingSettings, *, model_uri: str | None = None, out: Path | None = None, profile: str = "local"
) -> Path:
    """Resolve `model_uri` (default serving.model_uri: models:/<name>@champion) and build the ensemble."""
    uri = model_uri or serving.model_uri
    vision = VisionSettings.from_platform(profile_="cloud" if profile == "cloud" else "local")
    state = local_path("state_dir")
    state.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=state, prefix=".resolve-") as scratch:
        resolved = resolve_model(uri, Path(scratch))
        precision = served_precision(resolved.run_id)
        return build_champion_repository(
            resolved.onnx_path,
            vision,
            serving,
            out=out,
            profile=profile,
            precision=precision,
            source={"model_uri": resolved.uri, "version": resolved.version, "run_id": resolved.run_id},
        )


def served_precision(run_id: str) -> str:
    """The precision the evaluation gate served for that run (tag `served_precision`); the cloud's
    TensorRT precision_mode must follow it, not vision.precision, when the gate fell back."""
    if not run_id:
        return ""
    from mlflow.tracking import MlflowClient

    return str(MlflowClient().get_run(run_id).data.tags.get("served_precision", ""))
