"""Edge pattern: the champion's ONNX export run by onnxruntime on the device, with the same
`predict()` contract as the Triton client, and a sync step that keeps devices and the cloud in step.

    bundle = export_bundle(settings)                 # model.onnx + manifest.json from models:/...@champion
    publish_bundle(bundle, settings.edge_sync_uri)   # cloud side (CI): <sync_uri>/latest/
    runner = EdgeRunner.from_bundle(bundle)          # device side
    scores = runner.predict(frame)
    boxes = runner.infer_task({"image": images})     # use cases with a production contract (tasks.yaml)
    report = sync_to_cloud(bundle, sync_uri, logs_dir=".local/inference_log", device_id="store-42")

`sync_to_cloud` pulls a newer published model (checked against its sha256, swapped in atomically)
and pushes the device's inference-log files that were not uploaded yet. Remote locations are a
local folder, file://, or object storage that pyarrow.fs opens (s3://, gs://, abfs://).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import pyarrow.fs as pafs

from ..tasks.contract import TaskContract, load_params, task_for
from ..tasks.heads import Head, guarded_core
from .errors import BadInputError, RepositoryError
from .inputs import InputData, to_batch
from .repository import INPUT_NAME, MODEL_FILE, OUTPUT_NAME, download_task_params, resolve_model, sha256_file
from .settings import ServingSettings

MANIFEST = "manifest.json"
SYNCED = ".synced.json"
TASK_PARAMS = "task_params.npz"  # the fitted task head, for use cases with a production contract


def read_manifest(bundle: Path) -> dict[str, Any]:
    path = bundle / MANIFEST
    if not path.is_file():
        raise RepositoryError(f"{path} is missing; export the bundle first (export_bundle)")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def export_bundle(settings: ServingSettings, *, model_uri: str | None = None, out: Path | None = None) -> Path:
    """Write `<out>/model.onnx` and `<out>/manifest.json` for the champion (or `model_uri`)."""
    uri = model_uri or settings.model_uri
    bundle = out or settings.edge_bundle_dir
    bundle.mkdir(parents=True, exist_ok=True)
    task = settings.production_contract
    with tempfile.TemporaryDirectory() as scratch:
        resolved = resolve_model(uri, Path(scratch))
        shutil.copyfile(resolved.onnx_path, bundle / MODEL_FILE)
        if task is not None:
            download_task_params(resolved, task, Path(scratch), bundle / TASK_PARAMS)
    manifest = {
        "model_uri": uri,
        "model_version": resolved.version,
        "features": list(settings.contract.features),
        "classes": list(settings.contract.classes),
        "max_batch_size": settings.max_batch_size,
        "sha256": sha256_file(bundle / MODEL_FILE),
        "use_case": None if task is None else task.use_case,
        "task_sha256": None if task is None else sha256_file(bundle / TASK_PARAMS),
        "exported_at": time.time(),
    }
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return bundle


class EdgeRunner:
    """onnxruntime on the device: `predict()` takes and returns what TritonClient.predict() does."""

    def __init__(
        self,
        onnx_path: Path,
        features: list[str] | tuple[str, ...],
        *,
        max_batch_size: int | None = None,
        version: str = "",
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.features = tuple(features)
        self.max_batch_size = max_batch_size
        self.version = version
        self.task: TaskContract | None = None
        self.head: Head | None = None
        self.params: dict[str, Any] = {}

    @classmethod
    def from_bundle(cls, bundle: Path) -> EdgeRunner:
        manifest = read_manifest(bundle)
        if sha256_file(bundle / MODEL_FILE) != manifest["sha256"]:
            raise RepositoryError(f"{bundle / MODEL_FILE} does not match its manifest's sha256; sync again")
        runner = cls(
            bundle / MODEL_FILE,
            manifest["features"],
            max_batch_size=manifest.get("max_batch_size"),
            version=str(manifest["model_version"]),
        )
        use_case = manifest.get("use_case")
        task = task_for(str(use_case)) if use_case else None
        if task is not None:
            if sha256_file(bundle / TASK_PARAMS) != manifest.get("task_sha256"):
                raise RepositoryError(f"{bundle / TASK_PARAMS} does not match its manifest's task_sha256; sync again")
            runner.task = task
            runner.head = task.build_head(tuple(manifest["classes"]))
            runner.params = load_params(bundle / TASK_PARAMS)
        return runner

    def _scores(self, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        (scores,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: rows})
        return np.asarray(scores, dtype=np.float32).reshape(len(rows), -1)

    def infer_task(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The production contract on the device: takes and returns what TritonClient.infer_task() does."""
        if self.task is None or self.head is None:
            raise RepositoryError("this bundle serves the flat feature contract only (no tasks.yaml entry)")
        try:
            arrays = self.task.encode_inputs(inputs)
        except ValueError as error:
            raise BadInputError(str(error)) from error
        core = guarded_core(self._scores, max(1, len(self.head.classes)))  # one score per class
        return self.task.decode_outputs(self.head.infer(core, self.params, arrays))

    def predict(self, data: InputData) -> np.ndarray[Any, Any]:
        batch = to_batch(data, self.features, self.max_batch_size)
        (scores,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        return np.asarray(scores, dtype=np.float32).reshape(len(batch), -1)


def _remote(uri: str) -> tuple[pafs.FileSystem, str]:
    if "://" in uri:
        filesystem, root = pafs.FileSystem.from_uri(uri)
        return filesystem, root.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(uri).resolve())


def _read(filesystem: pafs.FileSystem, path: str) -> bytes | None:
    if filesystem.get_file_info(path).type != pafs.FileType.File:
        return None
    with filesystem.open_input_stream(path) as stream:
        data: bytes = stream.read()
        return data


def _write(filesystem: pafs.FileSystem, path: str, data: bytes) -> None:
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with filesystem.open_output_stream(path) as stream:
        stream.write(data)


def publish_bundle(bundle: Path, remote_uri: str) -> str:
    """Cloud side: upload the bundle as `<remote>/latest/` (model first, manifest last)."""
    filesystem, root = _remote(remote_uri)
    manifest = read_manifest(bundle)
    _write(filesystem, f"{root}/latest/{MODEL_FILE}", (bundle / MODEL_FILE).read_bytes())
    if manifest.get("task_sha256"):
        _write(filesystem, f"{root}/latest/{TASK_PARAMS}", (bundle / TASK_PARAMS).read_bytes())
    _write(filesystem, f"{root}/latest/{MANIFEST}", json.dumps(manifest, indent=2).encode())
    return str(manifest["model_version"])


@dataclass
class SyncReport:
    pulled_version: str | None = None
    uploaded: list[str] = field(default_factory=list)
    current_version: str = ""


def sync_to_cloud(
    bundle: Path, remote_uri: str, *, logs_dir: Path | None = None, device_id: str = "device"
) -> SyncReport:
    """Pull a newer published model into `bundle`, push new inference-log files; safe to rerun."""
    filesystem, root = _remote(remote_uri)
    report = SyncReport()
    bundle.mkdir(parents=True, exist_ok=True)
    local = read_manifest(bundle) if (bundle / MANIFEST).is_file() else {}
    raw = _read(filesystem, f"{root}/latest/{MANIFEST}")
    if raw is not None:
        published = json.loads(raw)
        if published.get("sha256") != local.get("sha256") or published.get("task_sha256") != local.get("task_sha256"):
            model = _read(filesystem, f"{root}/latest/{MODEL_FILE}")
            if model is None or hashlib.sha256(model).hexdigest() != published["sha256"]:
                raise RepositoryError(f"{remote_uri}/latest: the model does not match its manifest; not installed")
            files = {MODEL_FILE: model}
            if published.get("task_sha256"):
                params = _read(filesystem, f"{root}/latest/{TASK_PARAMS}")
                if params is None or hashlib.sha256(params).hexdigest() != published["task_sha256"]:
                    raise RepositoryError(f"{remote_uri}/latest: the task head does not match its manifest")
                files[TASK_PARAMS] = params
            for name, data in files.items():  # each file swapped in atomically, the manifest last
                staged = bundle / f".{name}.new"
                staged.write_bytes(data)
                os.replace(staged, bundle / name)
            (bundle / MANIFEST).write_text(json.dumps(published, indent=2) + "\n", encoding="utf-8")
            report.pulled_version = str(published["model_version"])
            local = published
    report.current_version = str(local.get("model_version", ""))
    if logs_dir is not None and logs_dir.is_dir():
        synced_path = bundle / SYNCED
        synced: set[str] = set(json.loads(synced_path.read_text(encoding="utf-8"))) if synced_path.is_file() else set()
        for path in sorted(p for p in logs_dir.rglob("*") if p.is_file()):
            relative = path.relative_to(logs_dir).as_posix()
            if relative in synced:
                continue
            _write(filesystem, f"{root}/logs/{device_id}/{relative}", path.read_bytes())
            synced.add(relative)
            report.uploaded.append(relative)
        synced_path.write_text(json.dumps(sorted(synced)), encoding="utf-8")
    return report
