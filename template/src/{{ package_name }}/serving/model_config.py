"""Triton model configurations (config.pbtxt) from platform.yaml, built as Triton's own protobuf
message (`tritonclient.grpc.model_config_pb2.ModelConfig`) and written in its text format, so a
wrong field or enum value fails when the config is built, not when Triton loads it.

Profiles: `local` runs on the wheel-bundled Triton, which has only the python backend, on CPU
instances (`decisions.batching.cpu_instance_count`); `cloud` uses the onnxruntime backend on GPU
instances (`decisions.batching.instance_count`) with TensorRT where `decisions.precision` asks for
FP16/INT8 and the model's operators allow it; `cluster-cpu` is the stock Triton image on a CPU-only
cluster (the local Kubernetes overlay).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb  # type: ignore[import-untyped]

from .settings import ServingSettings

INPUT_NAME = "features"
OUTPUT_NAME = "scores"
PROFILES = ("local", "cloud", "cluster-cpu")
WARMUP_DIR = "warmup"  # where Triton reads a model_warmup's input_data_file: <model>/warmup/<file>
TENSORRT_MODES = ("FP16", "INT8")
TENSORRT_WORKSPACE_BYTES = 1 << 30


@dataclass(frozen=True)
class ModelConfig:
    """One model's config.pbtxt, as data; `render()` writes the protobuf text."""

    name: str
    backend: str
    max_batch_size: int
    n_features: int
    n_outputs: int
    max_queue_delay_microseconds: int
    instance_kind: str
    instance_count: int
    tensorrt_precision_mode: str | None = None
    warmup: bool = True
    parameters: dict[str, str] = field(default_factory=dict)

    def to_proto(self) -> pb.ModelConfig:
        """The config as Triton's own protobuf message (a wrong field or enum fails here, not in Triton)."""
        config = pb.ModelConfig(name=self.name, backend=self.backend, max_batch_size=self.max_batch_size)
        config.input.add(name=INPUT_NAME, data_type=pb.TYPE_FP32, dims=[self.n_features])
        config.output.add(name=OUTPUT_NAME, data_type=pb.TYPE_FP32, dims=[self.n_outputs])
        config.dynamic_batching.max_queue_delay_microseconds = self.max_queue_delay_microseconds
        config.instance_group.add(count=self.instance_count, kind=pb.ModelInstanceGroup.Kind.Value(self.instance_kind))
        if self.tensorrt_precision_mode:
            accelerators = config.optimization.execution_accelerators.gpu_execution_accelerator
            tensorrt = accelerators.add(name="tensorrt")
            tensorrt.parameters["precision_mode"] = self.tensorrt_precision_mode
            tensorrt.parameters["max_workspace_size_bytes"] = str(TENSORRT_WORKSPACE_BYTES)
        if self.warmup:
            warmup = config.model_warmup.add(name="zeros", batch_size=self.max_batch_size)
            zeros = warmup.inputs[INPUT_NAME]
            zeros.data_type = pb.TYPE_FP32
            zeros.dims.append(self.n_features)
            zeros.zero_data = True
        for key, value in sorted(self.parameters.items()):
            config.parameters[key].string_value = value
        return config

    def render(self) -> str:
        """config.pbtxt: the protobuf text format of `to_proto()`."""
        return render_config(self.to_proto())


def render_config(config: pb.ModelConfig) -> str:
    return str(text_format.MessageToString(config))


def parse_config(text: str) -> pb.ModelConfig:
    """A config.pbtxt read back into Triton's ModelConfig message (for checks and tests)."""
    return text_format.Parse(text, pb.ModelConfig())


def write_warmup_files(model_dir: Path, files: Mapping[str, bytes]) -> None:
    """<model_dir>/warmup/<file>: the raw tensor data (row-major, native byte order, as Triton reads it)
    that the model's model_warmup names in `input_data_file`."""
    folder = model_dir / WARMUP_DIR
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)


def model_config(
    settings: ServingSettings,
    profile: str,
    *,
    n_features: int | None = None,
    n_outputs: int | None = None,
    tensorrt_ok: bool = True,
    parameters: dict[str, str] | None = None,
) -> ModelConfig:
    """The config for `profile` (local | cloud) from the decisions in platform.yaml."""
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r} is not one of {PROFILES}")
    contract = settings.contract
    local = ModelConfig(
        name=settings.model_name,
        backend="python",
        max_batch_size=settings.max_batch_size,
        n_features=n_features or contract.n_features,
        n_outputs=n_outputs or contract.n_outputs,
        max_queue_delay_microseconds=settings.max_queue_delay_microseconds,
        instance_kind="KIND_CPU",
        instance_count=settings.cpu_instance_count,
        parameters={"intra_op_thread_count": "1", **(parameters or {})},
    )
    if profile == "local":
        return local
    if profile == "cluster-cpu":  # the stock Triton image on a CPU-only cluster (deploy/k8s/overlays/local)
        return replace(local, backend="onnxruntime")
    mode = (settings.tensorrt_precision_mode or "").upper()
    return replace(
        local,
        backend="onnxruntime",
        instance_kind="KIND_GPU",
        instance_count=settings.gpu_instance_count,
        tensorrt_precision_mode=mode if mode in TENSORRT_MODES and tensorrt_ok else None,
    )
