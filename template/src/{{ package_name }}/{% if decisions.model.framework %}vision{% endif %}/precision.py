"""The precision decision applied: FP16 and INT8 variants of the exported model step, each measured
against FP32 on the same images, and a gate that decides what is served.

    report = evaluate_precisions(fp32_onnx, settings, eval_images, truths, calibration_images, out_dir)
    report.served          # vision.precision if it passes its tolerance, else the next wider one that does
    report.path(report.served)

FP16: onnxconverter-common's float16 converter with FP32 inputs/outputs (keep_io_types), so every step
around the model keeps the one contract. INT8: onnxruntime's static quantization in the QDQ format
(per-channel, symmetric int8 weights and activations: what TensorRT's explicit quantization reads; a
task may limit it to some op types, task.INT8_OP_TYPES), calibrated on `calibration_images` after
onnxruntime's quantization pre-processing. What comes after the last weighted op (box decoding,
softmax) stays in float: pixel coordinates and probabilities do not fit 256 levels. The metric is the
task's primary one (task.score: mAP@0.5, accuracy, mean IoU).

Latency is measured here with onnxruntime on the CPU (the local profile); FP16 and INT8 pay off on a
GPU with TensorRT (the cloud profile, triton_cloud.py), where CPU numbers say nothing about speed.
The gate reads the metric only.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .inference import INPUT, ImageInput, OnnxPredictor, preprocess
from .settings import PRECISIONS, VisionConfigError, VisionSettings
from .task import task_module

# narrowest first: a precision that fails its tolerance falls back to the next one on the right
FALLBACK = ("int8", "fp16", "fp32")
LATENCY_BATCHES = (1, 32)
LATENCY_RUNS = 10  # per batch size; the benchmark script runs more
WARMUP_RUNS = 2
CALIBRATION_BATCH = 8
# ops that carry weights: everything downstream of the last of them is post-processing (kept float)
WEIGHTED_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
METRIC = "metric"  # the label when no task is at hand (gate's default); reports use task.METRIC_LABEL
MODEL_FILE = "model_{precision}.onnx"  # in out_dir, one per precision


@dataclass(frozen=True)
class Latency:
    batch: int
    p50_ms: float
    p95_ms: float
    runs: int


@dataclass(frozen=True)
class PrecisionResult:
    precision: str
    path: Path
    size_mb: float
    metric: float  # the task's primary metric on the evaluation images
    loss: float  # FP32's metric minus this one (negative: better than FP32)
    tolerance: float
    passed: bool
    latency: tuple[Latency, ...]

    def latency_at(self, batch: int) -> Latency | None:
        return next((item for item in self.latency if item.batch == batch), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "path": str(self.path),
            "size_mb": round(self.size_mb, 3),
            "metric": round(self.metric, 4),
            "loss": round(self.loss, 4),
            "tolerance": self.tolerance,
            "passed": self.passed,
            "latency": [
                {
                    "batch": item.batch,
                    "p50_ms": round(item.p50_ms, 2),
                    "p95_ms": round(item.p95_ms, 2),
                    "runs": item.runs,
                }
                for item in self.latency
            ],
        }


@dataclass(frozen=True)
class PrecisionReport:
    decided: str  # vision.precision
    served: str  # what the gate lets through
    reason: str
    results: tuple[PrecisionResult, ...]
    images: int  # evaluation images
    calibration_images: int
    provider: str = "CPUExecutionProvider"
    metric: str = METRIC  # the task's METRIC_LABEL

    def result(self, precision: str) -> PrecisionResult:
        for item in self.results:
            if item.precision == precision:
                return item
        raise KeyError(f"no result for precision {precision!r}; have {[item.precision for item in self.results]}")

    def path(self, precision: str | None = None) -> Path:
        """The ONNX file of `precision` (default: the served one)."""
        return self.result(precision or self.served).path

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "decided": self.decided,
            "served": self.served,
            "reason": self.reason,
            "served_path": str(self.path()),
            "images": self.images,
            "calibration_images": self.calibration_images,
            "latency_provider": self.provider,
            "results": [item.to_dict() for item in self.results],
        }

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One row per precision with ratios to FP32 (size, and speed from the largest batch's p50)."""
        base = self.result("fp32")
        batches = sorted({item.batch for result in self.results for item in result.latency})
        rows = []
        for result in self.results:
            row: dict[str, Any] = {
                "precision": result.precision,
                self.metric: f"{result.metric:.3f}",
                "loss vs FP32": f"{_rounded(result.loss):+.3f}",
                "tolerance": "-" if result.precision == "fp32" else f"{result.tolerance:.3f}",
                "gate": ("served" if result.precision == self.served else "pass") if result.passed else "REFUSED",
                "size MB": f"{result.size_mb:.2f}",
                "size x FP32": f"{result.size_mb / base.size_mb:.2f}",
            }
            for batch in batches:
                mine, theirs = result.latency_at(batch), base.latency_at(batch)
                row[f"b{batch} p50 ms"] = f"{mine.p50_ms:.1f}" if mine else "-"
                row[f"b{batch} p95 ms"] = f"{mine.p95_ms:.1f}" if mine else "-"
                row[f"b{batch} speed x FP32"] = f"{theirs.p50_ms / mine.p50_ms:.2f}" if mine and theirs else "-"
            rows.append(row)
        return rows

    def to_markdown(self) -> str:
        from tabulate import tabulate

        runs = max((item.runs for result in self.results for item in result.latency), default=0)
        table = tabulate(self.rows, headers="keys", tablefmt="github", disable_numparse=True)
        return (
            f"{table}\n\n"
            f"decided {self.decided}, served {self.served}: {self.reason}\n"
            f"{self.metric} on {self.images} images; INT8 calibrated on {self.calibration_images} images; "
            f"latency: onnxruntime {self.provider}, {runs} runs per batch size, one run of this report\n"
        )


def tolerance(settings: VisionSettings, precision: str) -> float:
    """How much metric `precision` may lose vs FP32 (vision.tolerance); FP32 is the reference."""
    if precision == "fp32":
        return 0.0
    if precision not in settings.tolerance:
        raise VisionConfigError(
            f"vision.tolerance.{precision} is not set; add it to platform.yaml "
            f"(the {task_module(settings).METRIC_LABEL} that {precision.upper()} may lose against FP32, "
            "e.g. 0.01 for fp16, 0.05 for int8)"
        )
    return float(settings.tolerance[precision])


def _rounded(value: float) -> float:
    return round(value, 3) + 0.0  # no "-0.000" for a loss of -0.0004 (+ 0.0 turns -0.0 into 0.0)


def passes(loss: float, allowed: float) -> bool:
    return loss <= allowed + 1e-9  # metrics are averages of floats: equal is equal


def gate(
    decided: str, losses: Mapping[str, float], tolerances: Mapping[str, float], *, label: str = METRIC
) -> tuple[str, str]:
    """The served precision and why: `decided` when its loss vs FP32 is within its tolerance, else the
    next wider precision (int8 -> fp16 -> fp32) that is. FP32 always passes (it is the reference)."""
    if decided not in PRECISIONS:
        raise VisionConfigError(f"vision.precision must be one of {', '.join(PRECISIONS)}, got {decided!r}")
    refused: list[str] = []
    for precision in FALLBACK[FALLBACK.index(decided) :]:
        if precision == "fp32":
            because = "; ".join(refused) if refused else "decided fp32 (the reference)"
            return "fp32", because + ("; serving fp32" if refused else "")
        loss, allowed = losses[precision], tolerances[precision]
        if passes(loss, allowed):
            verdict = f"{precision} passes: loses {_rounded(loss):.3f} {label} vs FP32 <= tolerance {allowed:.3f}"
            return precision, "; ".join([*refused, verdict])
        refused.append(f"{precision} refused: loses {_rounded(loss):.3f} {label} vs FP32 > tolerance {allowed:.3f}")
    raise AssertionError("unreachable: fp32 ends the fallback")


class CalibrationImages:
    """onnxruntime's CalibrationDataReader over encoded images, through the serving preprocess."""

    def __init__(self, images: Sequence[ImageInput], size: int, batch_size: int = CALIBRATION_BATCH) -> None:
        if not images:
            raise ValueError("INT8 calibration needs images; pass training images (vision.calibration_images)")
        self.images = list(images)
        self.size = size
        self.batch_size = batch_size
        self._batches: Iterator[dict[str, npt.NDArray[np.float32]]] | None = None

    def _make(self) -> Iterator[dict[str, npt.NDArray[np.float32]]]:
        for start in range(0, len(self.images), self.batch_size):
            chunk = self.images[start : start + self.batch_size]
            yield {INPUT: np.stack([preprocess(image, self.size)[0] for image in chunk])}

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        if self._batches is None:
            self._batches = self._make()
        return next(self._batches, None)

    def rewind(self) -> None:
        self._batches = None


def convert_fp16(fp32_onnx: Path, out_path: Path) -> Path:
    """FP16 weights and compute, FP32 inputs and outputs; checked to load and run in onnxruntime."""
    import onnx
    from onnxconverter_common.float16 import convert_float_to_float16  # type: ignore[import-untyped]

    model = onnx.load(str(fp32_onnx))
    # onnxconverter-common 1.15+ re-types a Cast-to-float's output as float16 without changing the Cast
    # (microsoft/onnxconverter-common#320), which onnxruntime refuses to load: keep those Casts in FP32
    casts = [
        node.name
        for node in model.graph.node
        if node.op_type == "Cast" and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in node.attribute)
    ]
    with warnings.catch_warnings():
        # weights below FP16's smallest normal number are truncated to it, and the converter warns per weight
        warnings.filterwarnings("ignore", message="the float32 number", category=UserWarning)
        converted = convert_float_to_float16(model, keep_io_types=True, node_block_list=casts)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(converted, str(out_path))
    smoke_run(out_path)
    return out_path


def post_processing_nodes(model: Any) -> list[str]:
    """Nodes past the last weighted op (box decoding, softmax, reshapes of the head's outputs)."""
    producers = {output: node for node in model.graph.node for output in node.output}
    feeds_weights: set[str] = set()
    stack = [node for node in model.graph.node if node.op_type in WEIGHTED_OPS]
    while stack:
        node = stack.pop()
        for name in node.input:
            parent = producers.get(name)
            if parent is not None and parent.name not in feeds_weights:
                feeds_weights.add(parent.name)
                stack.append(parent)
    return [
        node.name
        for node in model.graph.node
        if node.name and node.op_type not in WEIGHTED_OPS and node.name not in feeds_weights
    ]


def quantize_int8(
    fp32_onnx: Path, out_path: Path, calibration: CalibrationImages, op_types: Sequence[str] | None = None
) -> Path:
    """Static INT8 in the QDQ format, per-channel symmetric weights, calibrated on `calibration`; of
    the ops in `op_types` only when given (the task's INT8_OP_TYPES), else of every op onnxruntime can."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static  # type: ignore[import-untyped]
    from onnxruntime.quantization.shape_inference import quant_pre_process  # type: ignore[import-untyped]

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".quant-") as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(fp32_onnx), str(prepared))  # shape inference + graph optimisation first
        keep_float = post_processing_nodes(onnx.load(str(prepared)))
        quantize_static(
            str(prepared),
            str(out_path),
            calibration,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(op_types) if op_types else None,
            nodes_to_exclude=keep_float,
            # TensorRT reads only symmetric (zero point 0) Q/DQ scales
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
        )
    smoke_run(out_path)
    return out_path


def session(path: Path) -> Any:
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def smoke_run(path: Path) -> None:
    """Load `path` in onnxruntime and run one FP32 batch of two through it (a broken conversion fails here)."""
    runner = session(path)
    shape = [2 if not isinstance(dim, int) else dim for dim in runner.get_inputs()[0].shape]
    outputs = runner.run(None, {INPUT: np.zeros(shape, dtype=np.float32)})
    for output in outputs:
        if np.asarray(output).dtype != np.float32:
            raise RuntimeError(f"{path}: outputs must stay FP32 (the model contract), got {np.asarray(output).dtype}")


def measure_latency(
    path: Path, pixels: npt.NDArray[np.float32], batches: Sequence[int], runs: int
) -> tuple[Latency, ...]:
    """p50/p95 of the model step alone (onnxruntime, CPU) at each batch size, on real preprocessed images."""
    runner = session(path)
    measured = []
    for batch in batches:
        repeat = -(-batch // len(pixels))
        feed = {INPUT: np.ascontiguousarray(np.concatenate([pixels] * repeat)[:batch])}
        for _ in range(WARMUP_RUNS):
            runner.run(None, feed)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            runner.run(None, feed)
            times.append((time.perf_counter() - start) * 1000.0)
        p50, p95 = np.percentile(times, [50, 95])
        measured.append(Latency(batch=batch, p50_ms=float(p50), p95_ms=float(p95), runs=runs))
    return tuple(measured)


def evaluate_precisions(
    fp32_onnx: Path,
    settings: VisionSettings,
    eval_images: Sequence[ImageInput],
    truths: Sequence[Any],
    calibration_images: Sequence[ImageInput],
    out_dir: Path,
    *,
    latency_batches: Sequence[int] = LATENCY_BATCHES,
    latency_runs: int = LATENCY_RUNS,
) -> PrecisionReport:
    """Build FP16 and INT8 from `fp32_onnx` into `out_dir`, measure all three on the same images and
    gate them (vision.tolerance). `truths` are the task's Predictions (task.truth). Writes
    out_dir/model_<precision>.onnx for all three (FP32 copied), and precision.json and precision.md
    beside them."""
    if len(eval_images) != len(truths):
        raise ValueError(f"{len(eval_images)} evaluation images but {len(truths)} ground truths")
    if not eval_images:
        raise ValueError("the precision report needs evaluation images (held-out, with ground truth)")
    out_dir.mkdir(parents=True, exist_ok=True)
    calibration = list(calibration_images)[: settings.calibration_images]
    source = Path(fp32_onnx)
    paths = {precision: out_dir / MODEL_FILE.format(precision=precision) for precision in PRECISIONS}
    if source.resolve() != paths["fp32"].resolve():  # every precision's file side by side, the served one by name
        shutil.copyfile(source, paths["fp32"])
    convert_fp16(source, paths["fp16"])
    task = task_module(settings)
    quantize_int8(source, paths["int8"], CalibrationImages(calibration, settings.image_size), task.INT8_OP_TYPES)
    pixels = np.stack([preprocess(image, settings.image_size)[0] for image in eval_images[: max(latency_batches)]])
    metrics = {
        precision: task.score(OnnxPredictor(path, settings).predict(list(eval_images)), list(truths))
        for precision, path in paths.items()
    }
    losses = {precision: metrics["fp32"] - value for precision, value in metrics.items()}
    tolerances = {precision: tolerance(settings, precision) for precision in PRECISIONS}
    served, reason = gate(settings.precision, losses, tolerances, label=task.METRIC_LABEL)
    results = tuple(
        PrecisionResult(
            precision=precision,
            path=paths[precision],
            size_mb=paths[precision].stat().st_size / 1e6,
            metric=metrics[precision],
            loss=losses[precision],
            tolerance=tolerances[precision],
            passed=passes(losses[precision], tolerances[precision]),
            latency=measure_latency(paths[precision], pixels, latency_batches, latency_runs),
        )
        for precision in PRECISIONS
    )
    report = PrecisionReport(
        decided=settings.precision,
        served=served,
        reason=reason,
        results=results,
        images=len(eval_images),
        calibration_images=len(calibration),
        metric=task.METRIC_LABEL,
    )
    (out_dir / "precision.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    (out_dir / "precision.md").write_text(report.to_markdown(), encoding="utf-8")
    return report
