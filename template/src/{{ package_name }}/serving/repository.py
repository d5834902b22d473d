"""Build the Triton model repository from the champion model (champion.py fetches it from MLflow).

    <repository>/<model_name>/config.pbtxt     generated from platform.yaml (model_config.py)
    <repository>/<model_name>/1/model.onnx     the champion's ONNX export (input `features`, output `scores`)
    <repository>/<model_name>/1/model.py       local profile only: the python-backend model (triton_model.py)
    <repository>/<model_name>/serving.json     what was built from what (model URI, version, sha256)

The configs come from model_config.py (one per profile: local, cloud, cluster-cpu); tree ensembles
use ai.onnx.ml operators, which TensorRT does not run, so they get no TensorRT accelerator.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .champion import resolve_model
from .errors import RepositoryError
from .model_config import INPUT_NAME, OUTPUT_NAME, model_config
from .settings import ServingSettings

MODEL_FILE = "model.onnx"
PYTHON_MODEL = Path(__file__).with_name("triton_model.py")


@dataclass(frozen=True)
class OnnxSignature:
    input_name: str
    output_name: str
    n_features: int | None
    n_outputs: int | None
    ml_operators: bool


def inspect_onnx(path: Path) -> OnnxSignature:
    """Input/output names and widths of an ONNX model, and whether it uses ai.onnx.ml operators."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if len(inputs) != 1:
        raise RepositoryError(f"{path}: expected one input `{INPUT_NAME}`, found {[value.name for value in inputs]}")
    outputs = list(graph.output)
    output = next((value for value in outputs if value.name == OUTPUT_NAME), None)
    if output is None:
        raise RepositoryError(f"{path}: no output named `{OUTPUT_NAME}` (outputs: {[value.name for value in outputs]})")

    def width(value: Any) -> int | None:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 1:
            return 1
        return int(dims[1].dim_value) if len(dims) == 2 and dims[1].HasField("dim_value") else None

    return OnnxSignature(
        input_name=inputs[0].name,
        output_name=output.name,
        n_features=width(inputs[0]),
        n_outputs=width(output),
        ml_operators=any(node.domain == "ai.onnx.ml" for node in graph.node),
    )


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (models can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_repository(
    settings: ServingSettings,
    *,
    model_uri: str | None = None,
    out: Path | None = None,
    profile: str = "local",
) -> Path:
    """Build (or rebuild) the model repository for `profile`; returns the repository folder."""
    default = (
        settings.repository
        if profile == "local"
        else settings.repository.with_name(f"{settings.repository.name}_{profile}")
    )
    repository = out or default
    uri = model_uri or settings.model_uri
    repository.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=repository.parent, prefix=".build-") as scratch_name:
        scratch = Path(scratch_name)
        resolved = resolve_model(uri, scratch / "download")
        signature = inspect_onnx(resolved.onnx_path)
        contract = settings.contract
        if signature.input_name != INPUT_NAME:
            raise RepositoryError(
                f"{uri}: the ONNX input is `{signature.input_name}`, the contract says `{INPUT_NAME}`"
            )
        if signature.n_features not in (None, contract.n_features):
            raise RepositoryError(
                f"{uri}: the model takes {signature.n_features} features, the {contract.name} contract has "
                f"{contract.n_features} ({list(contract.features)})"
            )
        config = model_config(
            settings,
            profile,
            n_features=contract.n_features,
            n_outputs=signature.n_outputs or contract.n_outputs,
            tensorrt_ok=not signature.ml_operators,
            parameters={"mlflow_model_uri": uri, "mlflow_model_version": resolved.version},
        )
        staged = scratch / "repository"
        model_dir = staged / settings.model_name
        (model_dir / "1").mkdir(parents=True)
        shutil.copyfile(resolved.onnx_path, model_dir / "1" / MODEL_FILE)
        if config.backend == "python":
            shutil.copyfile(PYTHON_MODEL, model_dir / "1" / "model.py")
        (model_dir / "config.pbtxt").write_text(config.render(), encoding="utf-8")
        manifest = {
            "model_name": settings.model_name,
            "model_uri": uri,
            "model_version": resolved.version,
            "run_id": resolved.run_id,
            "profile": profile,
            "backend": config.backend,
            "features": list(contract.features),
            "n_outputs": config.n_outputs,
            "sha256": sha256_file(model_dir / "1" / MODEL_FILE),
            "tensorrt_precision_mode": config.tensorrt_precision_mode,
            "task_model": None,
        }
        if settings.has_task:  # the production contract's model beside the core one: src/<package>/tasks/
            tasks = importlib.import_module("..tasks.serving", __package__)
            manifest["task_model"] = tasks.stage_task_model(settings, config, resolved, staged)
        (model_dir / "serving.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if repository.exists():
            shutil.rmtree(repository)
        shutil.move(str(staged), str(repository))
    return repository


def read_manifest(repository: Path, model_name: str) -> dict[str, Any]:
    path = repository / model_name / "serving.json"
    if not path.is_file():
        raise RepositoryError(f"{path} is missing; build the model repository first (make build-serving)")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
