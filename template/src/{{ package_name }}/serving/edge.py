"""Edge pattern: the champion's ONNX export, quantized to the decided precision and checked against
the device budget, run by onnxruntime on the device with the same `predict()` contract as the Triton
client, and a sync step that keeps devices and the cloud in step.

    bundle = export_bundle(settings)                 # model.onnx + manifest.json from models:/...@champion
    publish_bundle(bundle, settings.edge_sync_uri)   # cloud side (CI): <sync_uri>/latest/
    runner = EdgeRunner.from_bundle(bundle, logs_dir=Path(".local/inference_log"))  # device side
    scores = runner.predict(frame)                   # logged to logs_dir for the drift job
    boxes = runner.infer_task({"image": images})     # use cases with a production contract (tasks.yaml)
    report = sync_to_cloud(bundle, sync_uri, logs_dir=Path(".local/inference_log"), device_id="store-42")

`export_bundle` quantizes the champion with onnxruntime's tools (`serving.edge.precision`), then
measures the quantized artifact on this machine's CPU, which stands in for the device: file size,
the resident memory the runner adds, and the p95 latency of one request. It fails, writing nothing
into the bundle folder, when the artifact is over `serving.edge.device_budget` or when it picks a
different top class than the champion on more than 1 - `serving.edge.min_agreement` of the
family's sample rows. The numbers go into the manifest.

`sync_to_cloud` pulls a newer published model (checked against its sha256, swapped in atomically)
and pushes the device's inference-log files that were not uploaded yet. Remote locations are a
local folder, file://, or object storage that pyarrow.fs opens (s3://, gs://, abfs://).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort  # type: ignore[import-untyped]
import pyarrow.fs as pafs

from ..monitoring.inference_log import InferenceLogger, LogSettings
from ..tasks.contract import TaskContract, load_params, task_for
from ..tasks.heads import Head, guarded_core
from .errors import BadInputError, RepositoryError, ServingError
from .inputs import InputData, to_batch, to_frame
from .model_config import INPUT_NAME, OUTPUT_NAME
from .repository import MODEL_FILE, download_task_params, resolve_model, sha256_file
from .settings import EdgeSettings, ServingSettings

MANIFEST = "manifest.json"
SYNCED = ".synced.json"
TASK_PARAMS = "task_params.npz"  # the fitted task head, for use cases with a production contract
SAMPLE_ROWS = 512  # the family's sample rows the quantized model must agree on
REGRESSION_TOLERANCE = 0.05  # regression: within 5% of the champion's output spread (std) counts as agreeing
WARMUP_RUNS = 5
LATENCY_MAX_SECONDS = 10.0  # the latency loop stops here (after at least MIN_LATENCY_RUNS runs)
MIN_LATENCY_RUNS = 20
# What the device's inference log uses when the manifest does not say (monitoring.inference_log)
LOG_DEFAULTS: dict[str, float] = {
    "sample_rate": 1.0,
    "flush_rows": 1000,
    "flush_seconds": 10.0,
    "max_buffered_rows": 100_000,
}


class EdgeExportError(ServingError):
    """The quantized bundle is over the device budget or disagrees with the champion; nothing was written."""


def read_manifest(bundle: Path) -> dict[str, Any]:
    path = bundle / MANIFEST
    if not path.is_file():
        raise RepositoryError(f"{path} is missing; export the bundle first (export_bundle)")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# -- quantization -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantized:
    """What `quantize` wrote: the precision the artifact really has, and how it got there."""

    precision: str  # int8 | fp16 | fp32
    method: str


def _pruned(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` without the nodes and initializers no graph output depends on (exports that drop an
    output, such as the label of a classifier, leave them behind and the quantizer refuses them)."""
    graph = model.graph
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [tensor for tensor in graph.initializer if tensor.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    return model


def _weights_of_type(model: onnx.ModelProto, types: set[int]) -> int:
    return sum(1 for tensor in model.graph.initializer if tensor.data_type in types)


class _QuietPreprocessHint(logging.Filter):
    """quantize_dynamic logs a hint to run its shape pre-processing on every call; the agreement
    check below is what tells whether the result is good enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    hint = _QuietPreprocessHint()
    root = logging.getLogger()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


def quantize(source: Path, target: Path, precision: str) -> Quantized:
    """Write the ONNX model `source` at `precision` to `target` with onnxruntime's own tools.

    - int8: `onnxruntime.quantization.quantize_dynamic`, INT8 weights (per tensor), activations
      quantized to UINT8 at run time (MatMul, Gemm, Conv, attention, LSTM ...).
    - int4: onnxruntime's 4-bit quantizer (MatMulNBits) needs the onnx-ir package, which this
      project does not install; int8 is used instead and the manifest says so.
    - fp16: `onnxruntime.transformers.float16.convert_float_to_float16`, inputs and outputs kept
      FP32 so the contract does not change.
    - fp32: the champion's export as it is.

    A model with nothing the tool converts (tree ensembles have no weight tensors to quantize), or
    an FP16 graph onnxruntime's CPU provider cannot run, is shipped as the FP32 export, and
    `Quantized.precision` says fp32.
    """
    if precision == "fp32":
        shutil.copyfile(source, target)
        return Quantized("fp32", "none: the champion's FP32 export as it is (serving.edge.precision: fp32)")
    model = _pruned(onnx.load(str(source)))
    kept = "the FP32 export is shipped"
    if precision in ("int8", "int4"):
        from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

        note = ""
        if precision == "int4":
            note = (
                "int4 asked, but onnxruntime's 4-bit quantizer (MatMulNBits) needs the onnx-ir package, which this "
                "project does not install: quantized to int8 instead; "
            )
        with tempfile.TemporaryDirectory() as scratch:
            pruned = Path(scratch) / "pruned.onnx"
            onnx.save(model, str(pruned))
            with _quiet_quantizer():
                quantize_dynamic(str(pruned), str(target), weight_type=QuantType.QInt8)
        count = _weights_of_type(onnx.load(str(target)), {onnx.TensorProto.INT8, onnx.TensorProto.UINT8})
        if count == 0:
            shutil.copyfile(source, target)
            return Quantized(
                "fp32",
                f"{note}int8 asked, but the model has no operator onnxruntime's dynamic quantizer converts "
                f"(MatMul, Gemm, Conv ...; tree ensembles have none): {kept}",
            )
        return Quantized(
            "int8",
            f"{note}onnxruntime.quantization.quantize_dynamic: {count} weight tensors to INT8 (per tensor), "
            "activations quantized to UINT8 at run time",
        )
    from onnxruntime.transformers.float16 import convert_float_to_float16  # type: ignore[import-untyped]

    converted = convert_float_to_float16(model, keep_io_types=True)
    count = _weights_of_type(converted, {onnx.TensorProto.FLOAT16})
    if count == 0:
        shutil.copyfile(source, target)
        return Quantized("fp32", f"fp16 asked, but the model has no FP32 weight tensors to convert: {kept}")
    try:
        ort.InferenceSession(converted.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as error:  # e.g. an operator without an FP16 kernel on the CPU provider
        shutil.copyfile(source, target)
        reason = str(error).strip().splitlines()[0][:200]
        return Quantized(
            "fp32", f"fp16 asked, but onnxruntime's CPU provider cannot run the FP16 graph ({reason}): {kept}"
        )
    onnx.save(converted, str(target))
    return Quantized(
        "fp16",
        f"onnxruntime.transformers.float16.convert_float_to_float16: {count} weight tensors to FP16, "
        "inputs and outputs kept FP32",
    )


# -- measuring the artifact -------------------------------------------------------------------------


def sample_rows(settings: ServingSettings, rows: int = SAMPLE_ROWS, seed: int = 11) -> tuple[np.ndarray[Any, Any], Any]:
    """Feature rows (and labels) of the family's sample data: realistic inputs for the checks."""
    from ..data.families import get_family
    from ..data.sample import generate

    family = get_family(settings.contract.family)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    frame = generate(family, start, start + timedelta(days=1), rows=rows, seed=seed)
    return frame[list(settings.contract.features)].to_numpy(dtype=np.float32), frame[family.label].to_numpy()


@dataclass(frozen=True)
class Agreement:
    """How closely the quantized model follows the champion on the sample rows."""

    metric: str
    share: float
    rows: int
    max_abs_diff: float


def agreement(champion: np.ndarray[Any, Any], candidate: np.ndarray[Any, Any], *, classifier: bool) -> Agreement:
    """Classifiers: the share of rows with the same top class. Regression: the share of rows within
    REGRESSION_TOLERANCE of the champion's output spread (its standard deviation)."""
    reference = np.asarray(champion, dtype=np.float64).reshape(len(champion), -1)
    other = np.asarray(candidate, dtype=np.float64).reshape(len(candidate), -1)
    if reference.shape != other.shape:
        raise EdgeExportError(
            f"the quantized model returns {other.shape[1:]} scores per row, the champion {reference.shape[1:]}"
        )
    difference = np.abs(reference - other)
    if classifier and reference.shape[1] > 1:
        same = reference.argmax(axis=1) == other.argmax(axis=1)
        metric = "same top class as the champion"
    else:
        tolerance = REGRESSION_TOLERANCE * (float(reference.std()) or 1.0)
        same = difference.max(axis=1) <= tolerance
        metric = f"within {tolerance:.3g} (5% of the champion's output std) of the champion"
    return Agreement(metric, float(same.mean()) if len(same) else 1.0, len(same), float(difference.max(initial=0.0)))


# Run in a fresh interpreter, so that nothing this process allocated before hides in the number.
_SESSION_MEMORY = """
import os, sys
import numpy as np
import onnxruntime as ort

def resident_mb():
    with open("/proc/self/statm", encoding="utf-8") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

path, threads, rows, width, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
before = resident_mb()
options = ort.SessionOptions()
options.intra_op_num_threads = threads
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
batch = np.random.default_rng(0).random((rows, width), dtype=np.float32)
for _ in range(3):
    session.run(None, {name: batch})
print(resident_mb() - before)
"""


def session_memory_mb(model: Path, rows: int, n_features: int) -> float | None:
    """Resident memory an onnxruntime session of `model` adds once it has run `rows` rows: measured
    in a fresh interpreter (Linux /proc); None where that cannot be measured."""
    if not Path("/proc/self/statm").is_file():
        return None
    arguments = [str(model), str(runner_threads()), str(rows), str(n_features), INPUT_NAME]
    command = [sys.executable, "-c", _SESSION_MEMORY, *arguments]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
        return round(max(0.0, float(done.stdout.strip().splitlines()[-1])), 2)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def p95_latency_ms(call: Callable[[], Any], runs: int) -> tuple[float, int]:
    """p95 of `call()` in ms over `runs` runs after WARMUP_RUNS, or as many as fit in
    LATENCY_MAX_SECONDS (at least MIN_LATENCY_RUNS); returns (p95, runs timed)."""
    for _ in range(WARMUP_RUNS):
        call()
    timings: list[float] = []
    deadline = time.perf_counter() + LATENCY_MAX_SECONDS
    while len(timings) < runs and (len(timings) < MIN_LATENCY_RUNS or time.perf_counter() < deadline):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000.0)
    return float(np.percentile(timings, 95)), len(timings)


def _mb(size_bytes: int) -> float:
    return round(size_bytes / 2**20, 4)


def _log_settings() -> dict[str, float]:
    """monitoring.inference_log of this project, for the device's log (it has no platform.yaml)."""
    try:
        current = LogSettings.from_platform()
    except Exception:  # no platform.yaml here: the defaults
        return dict(LOG_DEFAULTS)
    return {
        "sample_rate": current.sample_rate,
        "flush_rows": current.flush_rows,
        "flush_seconds": current.flush_seconds,
        "max_buffered_rows": current.max_buffered_rows,
    }


def _check(
    settings: ServingSettings,
    staged: Path,
    champion_onnx: Path,
    quantized: Quantized,
    version: str,
) -> dict[str, Any]:
    """Measure the staged bundle against the budget and the champion; the manifest's numbers, or
    EdgeExportError naming every number that fails."""
    edge: EdgeSettings = settings.edge
    budget = edge.budget
    task = settings.production_contract
    x, y = sample_rows(settings)
    runner = EdgeRunner(staged / MODEL_FILE, settings.contract.features, version=version)
    if task is not None:
        runner.attach_task(task, settings.contract.classes, staged / TASK_PARAMS)
        assert runner.head is not None
        inputs, _ = runner.head.examples(x, np.asarray(y, dtype=np.int64), np.random.default_rng(5), 1)
        request = f"one {task.use_case} request ({', '.join(sorted(inputs))})"
        latency_ms, runs = p95_latency_ms(lambda: runner.infer_task(inputs), edge.latency_runs)
    else:
        request = "one row"
        one_row = x[:1]
        latency_ms, runs = p95_latency_ms(lambda: runner.predict(one_row), edge.latency_runs)
    rows_per_request = max(1, runner.last_core_rows)
    session_mb = session_memory_mb(staged / MODEL_FILE, rows_per_request, len(settings.contract.features))
    quantized_scores = runner.scores(x)
    champion = EdgeRunner(champion_onnx, settings.contract.features)
    match = agreement(champion.scores(x), quantized_scores, classifier=settings.contract.task != "regression")
    artifact_bytes = (staged / MODEL_FILE).stat().st_size
    artifact_mb = _mb(artifact_bytes)
    memory_mb = max(artifact_mb, session_mb or 0.0)
    problems = []
    if memory_mb > budget.memory_mb:
        problems.append(
            f"it needs {memory_mb:.4g} MB (file {artifact_mb:.4g} MB, onnxruntime session {session_mb} MB) against "
            f"the device budget of {budget.memory_mb:g} MB ({budget.device})"
        )
    if latency_ms > budget.latency_ms:
        problems.append(
            f"the p95 latency of {request} is {latency_ms:.3g} ms on this machine's CPU (the device's stand-in) "
            f"against the device budget of {budget.latency_ms:g} ms"
        )
    fixes = []
    if problems:
        lower = ", a lower precision (serving.edge.precision: int8)" if edge.precision in ("fp32", "fp16") else ""
        fixes.append(
            f"export a smaller model (training.model_params){lower}, or relax the budget (serving.edge.device_budget; "
            "the latency budget follows the answer latency_p95_ms: copier update --trust --defaults "
            "--data latency_p95_ms=<ms>)"
        )
    if match.share < edge.min_agreement:
        problems.append(
            f"the {quantized.precision} model agrees with the champion on {match.share:.1%} of {match.rows} sample "
            f"rows ({match.metric}), below serving.edge.min_agreement {edge.min_agreement:.1%}"
        )
        fixes.append(
            "use a higher precision (serving.edge.precision: fp16 or fp32), or lower serving.edge.min_agreement "
            "if that loss is acceptable"
        )
    if problems:
        raise EdgeExportError(f"{'; '.join(problems)}. Fix: {'; or '.join(fixes)}")
    return {
        "precision": edge.precision,
        "quantized_to": quantized.precision,
        "quantization": quantized.method,
        "fp32_bytes": champion_onnx.stat().st_size,
        "fp32_mb": _mb(champion_onnx.stat().st_size),
        "artifact_bytes": artifact_bytes,
        "artifact_mb": artifact_mb,
        "session_mb": session_mb,
        "memory_mb": memory_mb,
        "latency_p95_ms": round(latency_ms, 4),
        "latency_runs": runs,
        "latency_request": request,
        "measured_on": (
            f"this machine's CPU ({platform.machine()}, {os.cpu_count()} cores; onnxruntime {ort.__version__} "
            f"CPUExecutionProvider, {runner_threads()} threads), standing in for the device"
        ),
        "agreement": {
            "metric": match.metric,
            "share": round(match.share, 4),
            "rows": match.rows,
            "min": edge.min_agreement,
            "max_abs_diff": round(match.max_abs_diff, 6),
        },
        "budget": {"device": budget.device, "memory_mb": budget.memory_mb, "latency_ms": budget.latency_ms},
        "within_budget": True,
    }


def export_bundle(settings: ServingSettings, *, model_uri: str | None = None, out: Path | None = None) -> Path:
    """Write `<out>/model.onnx` (quantized to serving.edge.precision) and `<out>/manifest.json` for the
    champion (or `model_uri`), after checking the artifact against the device budget and the champion.

    Everything is staged beside `out` and moved in only when every check passes: on EdgeExportError
    the bundle folder is left exactly as it was.
    """
    uri = model_uri or settings.model_uri
    bundle = out or settings.edge_bundle_dir
    bundle.parent.mkdir(parents=True, exist_ok=True)
    task = settings.production_contract
    with tempfile.TemporaryDirectory(dir=bundle.parent, prefix=f".{bundle.name}-export-") as scratch_name:
        scratch = Path(scratch_name)
        staged = scratch / "bundle"
        staged.mkdir()
        resolved = resolve_model(uri, scratch / "champion")
        quantized = quantize(resolved.onnx_path, staged / MODEL_FILE, settings.edge.precision)
        if task is not None:
            download_task_params(resolved, task, scratch, staged / TASK_PARAMS)
        try:
            checked = _check(settings, staged, resolved.onnx_path, quantized, resolved.version)
        except EdgeExportError as error:
            raise EdgeExportError(f"edge export of {uri} refused, {bundle} left as it was: {error}") from None
        manifest = {
            "model_uri": uri,
            "model_version": resolved.version,
            "features": list(settings.contract.features),
            "classes": list(settings.contract.classes),
            "max_batch_size": settings.max_batch_size,
            "sha256": sha256_file(staged / MODEL_FILE),
            "use_case": None if task is None else task.use_case,
            "task_sha256": None if task is None else sha256_file(staged / TASK_PARAMS),
            **checked,
            "inference_log": _log_settings(),
            "exported_at": time.time(),
        }
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        bundle.mkdir(parents=True, exist_ok=True)
        if task is None:
            (bundle / TASK_PARAMS).unlink(missing_ok=True)
        for name in (MODEL_FILE, TASK_PARAMS, MANIFEST):  # each file swapped in atomically, the manifest last
            if (staged / name).is_file():
                os.replace(staged / name, bundle / name)
    return bundle


def runner_threads() -> int:
    """onnxruntime intra-op threads of the runner: up to 4 of this machine's cores."""
    return max(1, min(4, os.cpu_count() or 1))


class EdgeRunner:
    """onnxruntime on the device: `predict()` takes and returns what TritonClient.predict() does.

    With `logs_dir`, every request's rows go to the inference log there (the layout the drift job
    reads, pushed by `sync_to_cloud`): `predict()` logs the rows and scores, `infer_task()` the rows
    the core model scored for the request (e.g. every window of an image) and their scores.
    """

    def __init__(
        self,
        onnx_path: Path,
        features: list[str] | tuple[str, ...],
        *,
        max_batch_size: int | None = None,
        version: str = "",
        logs_dir: Path | None = None,
        log_settings: dict[str, Any] | None = None,
    ) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = runner_threads()
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.features = tuple(features)
        self.max_batch_size = max_batch_size
        self.version = version
        self.task: TaskContract | None = None
        self.head: Head | None = None
        self.params: dict[str, Any] = {}
        self.last_core_rows = 0  # rows the core model scored for the last request
        self.logger: InferenceLogger | None = None
        if logs_dir is not None:
            merged = {**LOG_DEFAULTS, **(log_settings or {})}
            self.logger = InferenceLogger(
                settings=LogSettings(
                    uri=str(logs_dir),
                    sample_rate=min(1.0, max(0.0, float(merged["sample_rate"]))),
                    flush_rows=max(1, int(merged["flush_rows"])),
                    flush_seconds=max(0.0, float(merged["flush_seconds"])),
                    max_buffered_rows=max(1, int(merged["max_buffered_rows"])),
                )
            )

    @classmethod
    def from_bundle(cls, bundle: Path, *, logs_dir: Path | None = None) -> EdgeRunner:
        manifest = read_manifest(bundle)
        if sha256_file(bundle / MODEL_FILE) != manifest["sha256"]:
            raise RepositoryError(f"{bundle / MODEL_FILE} does not match its manifest's sha256; sync again")
        runner = cls(
            bundle / MODEL_FILE,
            manifest["features"],
            max_batch_size=manifest.get("max_batch_size"),
            version=str(manifest["model_version"]),
            logs_dir=logs_dir,
            log_settings=manifest.get("inference_log"),
        )
        use_case = manifest.get("use_case")
        task = task_for(str(use_case)) if use_case else None
        if task is not None:
            if sha256_file(bundle / TASK_PARAMS) != manifest.get("task_sha256"):
                raise RepositoryError(f"{bundle / TASK_PARAMS} does not match its manifest's task_sha256; sync again")
            runner.attach_task(task, tuple(manifest["classes"]), bundle / TASK_PARAMS)
        return runner

    def attach_task(self, task: TaskContract, classes: tuple[str, ...], params: Path) -> None:
        """Serve `task`'s production contract with the head fitted in `params` (task_params.npz)."""
        self.task = task
        self.head = task.build_head(tuple(classes))
        self.params = load_params(params)

    def scores(self, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The core model's scores [rows, n_outputs] for FP32 feature rows (no checks, no log)."""
        (scores,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(rows, dtype=np.float32)})
        self.last_core_rows += len(rows)
        return np.asarray(scores, dtype=np.float32).reshape(len(rows), -1)

    def infer_task(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The production contract on the device: takes and returns what TritonClient.infer_task() does."""
        if self.task is None or self.head is None:
            raise RepositoryError("this bundle serves the flat feature contract only (no tasks.yaml entry)")
        try:
            arrays = self.task.encode_inputs(inputs)
        except ValueError as error:
            raise BadInputError(str(error)) from error
        scored: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []

        def core_scores(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            result = self.scores(rows)
            if self.logger is not None:
                scored.append((rows, result))
            return result

        started = time.perf_counter()
        self.last_core_rows = 0
        core = guarded_core(core_scores, max(1, len(self.head.classes)))  # one score per class
        outputs = self.task.decode_outputs(self.head.infer(core, self.params, arrays))
        if scored:
            rows = np.concatenate([part for part, _ in scored])
            self._log(rows, np.concatenate([part for _, part in scored]), started)
        return outputs

    def predict(self, data: InputData) -> np.ndarray[Any, Any]:
        batch = to_batch(data, self.features, self.max_batch_size)
        started = time.perf_counter()
        self.last_core_rows = 0
        scores = self.scores(batch)
        self._log(batch, scores, started)
        return scores

    def _log(self, rows: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], started: float) -> None:
        if self.logger is not None:  # log() never raises and never waits for storage
            latency_ms = (time.perf_counter() - started) * 1000.0
            self.logger.log(to_frame(rows, self.features), scores, self.version, latency_ms)

    def flush_inference_log(self) -> bool:
        """Write the rows logged so far (before a sync or reading the log back); True when all are written."""
        return True if self.logger is None else self.logger.flush()

    def close(self) -> None:
        """Flush the inference log and stop its writer thread."""
        if self.logger is not None:
            self.logger.close()

    def __enter__(self) -> EdgeRunner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


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
