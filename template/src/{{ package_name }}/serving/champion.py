"""Where the served model comes from: the champion's ONNX export (and fitted head) in MLflow.

`resolve_model` turns a model URI (models:/<name>@<alias>, models:/<name>/<version>, or an .onnx
file) into a local ONNX file and the registry version it came from. The repository builder
(repository.py) lays it out for Triton.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RepositoryError
from .model_config import INPUT_NAME, OUTPUT_NAME

ONNX_ARTIFACT = "onnx/model.onnx"


@dataclass(frozen=True)
class ResolvedModel:
    """The champion's ONNX file on disk and where it came from."""

    onnx_path: Path
    uri: str
    version: str
    run_id: str = ""


def _tracking_setup() -> None:
    from ..config import mlflow_tracking_uri, use_mlflow

    use_mlflow(mlflow_tracking_uri())


def _find_onnx(folder: Path) -> Path | None:
    preferred = folder / ONNX_ARTIFACT
    if preferred.is_file():
        return preferred
    found = sorted(folder.rglob("*.onnx"))
    return found[0] if found else None


def resolve_model(model_uri: str, dst: Path) -> ResolvedModel:
    """Download the ONNX export of `model_uri` (models:/name@alias, models:/name/version, or an .onnx path)."""
    local = Path(model_uri)
    if model_uri.endswith(".onnx") and local.is_file():
        return ResolvedModel(onnx_path=local, uri=str(local.resolve()), version="local")
    if not model_uri.startswith("models:/"):
        raise RepositoryError(
            f"model URI {model_uri!r}: expected models:/<name>@<alias>, models:/<name>/<version> or a .onnx file"
        )
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    _tracking_setup()
    client = MlflowClient()
    name, _, ref = model_uri.removeprefix("models:/").partition("@")
    try:
        if ref:
            version = client.get_model_version_by_alias(name, ref)
        else:
            name, _, number = model_uri.removeprefix("models:/").partition("/")
            version = client.get_model_version(name, number)
    except MlflowException as error:
        raise RepositoryError(
            f"{model_uri} not found in the MLflow registry at {mlflow.get_tracking_uri()}: {error.message}. "
            "Train and promote a champion first (make train), or set serving.model_uri / $SERVING_MODEL_URI"
        ) from error
    dst.mkdir(parents=True, exist_ok=True)
    attempts: list[str] = []
    sources: list[tuple[str, dict[str, Any]]] = []
    if version.run_id:
        sources.append(
            (
                f"run {version.run_id} artifact {ONNX_ARTIFACT}",
                {"run_id": version.run_id, "artifact_path": ONNX_ARTIFACT},
            )
        )
    if version.source:
        sources.append((f"model version source {version.source}", {"artifact_uri": version.source}))
    model_id = getattr(version, "model_id", None)
    if model_id:
        sources.append((f"logged model {model_id}", {"artifact_uri": f"models:/{model_id}"}))
    if version.run_id:
        sources.append((f"run {version.run_id} artifacts", {"run_id": version.run_id, "artifact_path": ""}))
    for index, (label, kwargs) in enumerate(sources):
        target = dst / f"source{index}"
        try:
            downloaded = Path(mlflow.artifacts.download_artifacts(dst_path=str(target), **kwargs))
        except Exception as error:
            attempts.append(f"{label}: {error}")
            continue
        onnx = downloaded if downloaded.suffix == ".onnx" else _find_onnx(downloaded)
        if onnx is not None:
            return ResolvedModel(
                onnx_path=onnx, uri=model_uri, version=str(version.version), run_id=version.run_id or ""
            )
        attempts.append(f"{label}: no .onnx file")
    raise RepositoryError(
        f"{model_uri} (version {version.version}) has no ONNX export; the training layer must log "
        f"`{ONNX_ARTIFACT}` (input `{INPUT_NAME}` FP32 [None, n], output `{OUTPUT_NAME}`). Looked at: "
        + "; ".join(attempts)
    )
