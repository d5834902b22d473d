"""The vision model step on the cloud GPU pool: Triton's onnxruntime backend with the TensorRT
execution accelerator at the served precision (the precision gate's choice, vision/precision.py).

    fp32  the FP32 ONNX, TensorRT precision_mode FP32
    fp16  the FP16 ONNX (FP32 I/O), precision_mode FP16
    int8  the QDQ INT8 ONNX, precision_mode INT8: the scales are in the model's Q/DQ nodes, so no
          calibration table is given (onnxruntime_backend README: a table with Q/DQ nodes fails the
          session)

The config is Triton's own protobuf (tritonclient.grpc.model_config_pb2): a wrong field or enum fails
when it is built. Triton's name for the model is set by the repository builder (vision/triton.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tritonclient.grpc import model_config_pb2 as pb  # type: ignore[import-untyped]

from .settings import PRECISIONS, VisionConfigError, VisionSettings
from .task import task_module

INPUT = "images"  # the model step's input (the model contract: FP32 [B,3,S,S], RGB 0..1)

TENSORRT_PRECISION_MODE = {"fp32": "FP32", "fp16": "FP16", "int8": "INT8"}
TENSORRT_WORKSPACE_BYTES = 1 << 30
# engines are built when the model loads (minutes on a big model); the cache spares a rebuild when the
# model reloads in the same pod (an emptyDir there)
TENSORRT_ENGINE_CACHE = "/tmp/tensorrt-engines"


def cloud_model_config(
    settings: VisionSettings,
    precision: str,
    max_batch_size: int,
    instances: int,
    queue_delay_us: int,
    *,
    dims: Mapping[str, Sequence[int]] | None = None,
    anchors: int = -1,
) -> pb.ModelConfig:
    """The model step's config: platform onnxruntime_onnx on KIND_GPU, dynamic batching, TensorRT at
    `precision`. Outputs are the task's (task.OUTPUTS, task.output_dims); `dims` overrides them with the
    ONNX graph's fixed sizes (vision.triton.model_output_dims): Triton's onnxruntime backend refuses a -1
    in the config where the model has a fixed size. `anchors` fills every remaining -1 (the detector's
    fixed anchor count, anchor_count(onnx))."""
    if precision not in PRECISIONS:
        raise VisionConfigError(
            f"precision must be one of {', '.join(PRECISIONS)} (vision.precision), got {precision!r}"
        )
    if max_batch_size < 1:
        raise VisionConfigError(f"max_batch_size must be >= 1 for a batching model step, got {max_batch_size}")
    if instances < 1:
        raise VisionConfigError(f"instances (GPU model instances, decisions.batching) must be >= 1, got {instances}")
    if queue_delay_us < 0:
        raise VisionConfigError(f"queue_delay_us (max_queue_delay_microseconds) must be >= 0, got {queue_delay_us}")
    size = settings.image_size
    config = pb.ModelConfig(platform="onnxruntime_onnx", max_batch_size=max_batch_size)
    config.input.add(name=INPUT, data_type=pb.TYPE_FP32, dims=[3, size, size])
    task = task_module(settings)
    shapes = dict(dims) if dims is not None else task.output_dims(settings)
    for name in task.OUTPUTS:
        config.output.add(
            name=name, data_type=pb.TYPE_FP32, dims=[anchors if value == -1 else value for value in shapes[name]]
        )
    config.dynamic_batching.max_queue_delay_microseconds = queue_delay_us
    config.instance_group.add(count=instances, kind=pb.ModelInstanceGroup.KIND_GPU)
    tensorrt = config.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
    shape = f"3x{size}x{size}"
    for key, value in {
        "precision_mode": TENSORRT_PRECISION_MODE[precision],
        "max_workspace_size_bytes": str(TENSORRT_WORKSPACE_BYTES),
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": TENSORRT_ENGINE_CACHE,
        # one engine for every batch the dynamic batcher forms, instead of one per new batch size
        "trt_profile_min_shapes": f"{INPUT}:1x{shape}",
        "trt_profile_opt_shapes": f"{INPUT}:{max_batch_size}x{shape}",
        "trt_profile_max_shapes": f"{INPUT}:{max_batch_size}x{shape}",
    }.items():
        tensorrt.parameters[key] = value
    # the engine is built during warmup, so the model reports READY only when it can answer in time
    add_zeros_warmup(config, size)
    return config


def add_zeros_warmup(config: pb.ModelConfig, image_size: int) -> None:
    """One image of zeros through every instance of the model step before Triton reports it READY
    (`model_warmup`): a session's first run allocates its buffers (onnxruntime on CPU: about 25 ms of a
    fresh local server's first answers) or builds its TensorRT engine (minutes), and without a warmup
    the first requests after every start or scale-up pay for it."""
    warmup = config.model_warmup.add(name="zeros", batch_size=1)
    zeros = warmup.inputs[INPUT]
    zeros.data_type = pb.TYPE_FP32
    zeros.dims.extend([3, image_size, image_size])
    zeros.zero_data = True


def anchor_count(onnx_path: Path, settings: VisionSettings | None = None) -> int:
    """The first fixed size the ONNX graph declares at axis 1 of an output, last output first (detection:
    `scores` [B, A, C], whose anchor count A exporters fix more often than the decoded boxes'), or -1
    where the graph leaves it symbolic: Triton compares the config with the declared shape, not the
    run-time one. The outputs are the task's (default VisionSettings(): detection)."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    outputs: dict[str, Any] = {value.name: value for value in graph.output}
    for name in reversed(task_module(settings or VisionSettings()).OUTPUTS):
        if name in outputs:
            found = outputs[name].type.tensor_type.shape.dim
            if len(found) > 1 and found[1].HasField("dim_value"):
                return int(found[1].dim_value)
    return -1
