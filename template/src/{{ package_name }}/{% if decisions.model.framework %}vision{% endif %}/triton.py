"""The Triton model repository of the detector: an ensemble that takes encoded image bytes.

    <name>              ensemble: `image` UINT8 [-1] (JPEG/PNG bytes) -> `boxes` FP32 [-1,4] (original
                        pixels, xyxy), `scores` FP32 [-1], `classes` INT64 [-1] (0-based into vision.classes)
    <name>_preprocess   python: decode (Pillow), resize to vision.image_size, float32 0..1, original size
    <name>_onnx         the model step, the only one with dynamic batching: local = python backend running
                        onnxruntime on model.onnx; cloud = onnxruntime_onnx on GPU with TensorRT at the served
                        precision (triton_cloud.cloud_model_config); cluster-cpu = onnxruntime_onnx on CPU
    <name>_postprocess  python: class-wise NMS, boxes scaled back to the original image

Why this layout: detections are ragged (N boxes per image), and an image's size is only known after
decoding, so the ensemble, preprocess and postprocess take one request at a time (max_batch_size 0)
and only the model step batches. Its [1,3,S,S] input from preprocess is a batch of one to the model
step (Triton accepts a non-batching [-1, d...] tensor for a batching model's [d...]), and the dynamic
batcher joins the images of concurrent requests into one onnxruntime / TensorRT run.

The python steps run triton_steps.py with copies of inference.py (the same pre/postprocess as the
in-process OnnxDetector) and serving/triton_model.py (DLPack tensor helpers) beside it. Configs are
Triton's own protobuf (tritonclient.grpc.model_config_pb2), so a wrong field fails here. On a
cluster, the Triton image's Python must have what those steps import (numpy, Pillow, torch and
torchvision for NMS); the stock image has numpy only.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb  # type: ignore[import-untyped]

from ..serving.errors import RepositoryError
from ..serving.repository import PYTHON_MODEL as DLPACK_HELPERS
from ..serving.repository import sha256_file
from ..serving.settings import ServingSettings
from .settings import PRECISIONS, VisionSettings

PROFILES = ("local", "cloud", "cluster-cpu")
STEPS_MODEL = Path(__file__).with_name("triton_steps.py")
INFERENCE = Path(__file__).with_name("inference.py")
MANIFEST = "serving.json"
MODEL_FILE = "model.onnx"
INPUT = "image"
OUTPUTS = ("boxes", "scores", "classes")
# onnxruntime threads per model-step instance on CPU: instances, not threads, use the cores
INTRA_OP_THREADS = 1


@dataclass(frozen=True)
class Batching:
    """The model step's dynamic batching and the instances of each step (platform.yaml decisions.batching)."""

    max_batch_size: int = 32
    max_queue_delay_microseconds: int = 2000
    model_instances: int = 1  # the model step (GPU instances in the cloud profile)
    python_instances: int = 2  # each of preprocess and postprocess (CPU)

    @classmethod
    def from_serving(cls, serving: ServingSettings, profile: str) -> Batching:
        return cls(
            max_batch_size=serving.max_batch_size,
            max_queue_delay_microseconds=serving.max_queue_delay_microseconds,
            model_instances=serving.gpu_instance_count if profile == "cloud" else serving.cpu_instance_count,
            python_instances=serving.cpu_instance_count,
        )


def step_names(name: str) -> dict[str, str]:
    return {step: f"{name}_{step}" for step in ("preprocess", "onnx", "postprocess")}


def render_config(config: pb.ModelConfig) -> str:
    return str(text_format.MessageToString(config))


def parse_config(text: str) -> pb.ModelConfig:
    return text_format.Parse(text, pb.ModelConfig())


def _python_step(name: str, step: str, settings: VisionSettings, instances: int) -> pb.ModelConfig:
    config = pb.ModelConfig(name=name, backend="python", max_batch_size=0)
    config.instance_group.add(count=instances, kind=pb.ModelInstanceGroup.KIND_CPU)
    config.parameters["step"].string_value = step
    config.parameters["image_size"].string_value = str(settings.image_size)
    return config


def preprocess_config(name: str, settings: VisionSettings, batching: Batching) -> pb.ModelConfig:
    size = settings.image_size
    config = _python_step(step_names(name)["preprocess"], "preprocess", settings, batching.python_instances)
    config.input.add(name="image", data_type=pb.TYPE_UINT8, dims=[-1])
    config.output.add(name="images", data_type=pb.TYPE_FP32, dims=[1, 3, size, size])
    config.output.add(name="orig_size", data_type=pb.TYPE_INT64, dims=[2])
    return config


def postprocess_config(name: str, settings: VisionSettings, batching: Batching) -> pb.ModelConfig:
    config = _python_step(step_names(name)["postprocess"], "postprocess", settings, batching.python_instances)
    config.input.add(name="boxes", data_type=pb.TYPE_FP32, dims=[1, -1, 4])
    config.input.add(name="scores", data_type=pb.TYPE_FP32, dims=[1, -1, settings.num_classes])
    config.input.add(name="orig_size", data_type=pb.TYPE_INT64, dims=[2])
    config.output.add(name="boxes", data_type=pb.TYPE_FP32, dims=[-1, 4])
    config.output.add(name="scores", data_type=pb.TYPE_FP32, dims=[-1])
    config.output.add(name="classes", data_type=pb.TYPE_INT64, dims=[-1])
    for key in ("score_threshold", "iou_threshold", "max_detections"):
        config.parameters[key].string_value = str(getattr(settings, key))
    config.parameters["classes"].string_value = json.dumps(list(settings.classes))
    return config


def local_model_config(name: str, settings: VisionSettings, batching: Batching) -> pb.ModelConfig:
    """The model step on the wheel's Triton (python backend only): onnxruntime on CPU, dynamically batched."""
    size = settings.image_size
    config = pb.ModelConfig(name=step_names(name)["onnx"], backend="python", max_batch_size=batching.max_batch_size)
    config.input.add(name="images", data_type=pb.TYPE_FP32, dims=[3, size, size])
    config.output.add(name="boxes", data_type=pb.TYPE_FP32, dims=[-1, 4])
    config.output.add(name="scores", data_type=pb.TYPE_FP32, dims=[-1, settings.num_classes])
    config.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_microseconds
    config.instance_group.add(count=batching.model_instances, kind=pb.ModelInstanceGroup.KIND_CPU)
    config.parameters["step"].string_value = "onnx"
    config.parameters["image_size"].string_value = str(size)
    config.parameters["intra_op_thread_count"].string_value = str(INTRA_OP_THREADS)
    return config


def cloud_config(
    name: str, settings: VisionSettings, batching: Batching, precision: str, anchors: int = -1
) -> pb.ModelConfig:
    """The model step on the GPU pool: the precision helper's config, under this repository's step name.
    `anchors`: the ONNX file's fixed anchor count (the onnxruntime backend refuses -1 against a fixed size)."""
    from .triton_cloud import cloud_model_config

    config: pb.ModelConfig = cloud_model_config(
        settings,
        precision,
        batching.max_batch_size,
        batching.model_instances,
        batching.max_queue_delay_microseconds,
        anchors=anchors,
    )
    config.name = step_names(name)["onnx"]
    return config


def cluster_cpu_config(name: str, settings: VisionSettings, batching: Batching, anchors: int = -1) -> pb.ModelConfig:
    """The model step on the stock Triton image of a CPU-only cluster (deploy/k8s/overlays/local): its
    onnxruntime backend on CPU instances, dynamically batched, no TensorRT."""
    size = settings.image_size
    config = pb.ModelConfig(
        name=step_names(name)["onnx"], platform="onnxruntime_onnx", max_batch_size=batching.max_batch_size
    )
    config.input.add(name="images", data_type=pb.TYPE_FP32, dims=[3, size, size])
    config.output.add(name="boxes", data_type=pb.TYPE_FP32, dims=[anchors, 4])
    config.output.add(name="scores", data_type=pb.TYPE_FP32, dims=[anchors, settings.num_classes])
    config.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_microseconds
    config.instance_group.add(count=batching.model_instances, kind=pb.ModelInstanceGroup.KIND_CPU)
    config.parameters["intra_op_thread_count"].string_value = str(INTRA_OP_THREADS)
    return config


def ensemble_config(name: str, settings: VisionSettings) -> pb.ModelConfig:
    steps = step_names(name)
    config = pb.ModelConfig(name=name, platform="ensemble", max_batch_size=0)
    config.input.add(name=INPUT, data_type=pb.TYPE_UINT8, dims=[-1])
    config.output.add(name="boxes", data_type=pb.TYPE_FP32, dims=[-1, 4])
    config.output.add(name="scores", data_type=pb.TYPE_FP32, dims=[-1])
    config.output.add(name="classes", data_type=pb.TYPE_INT64, dims=[-1])
    scheduling = config.ensemble_scheduling
    # maps: the step's own tensor name -> the ensemble's tensor name
    scheduling.step.add(
        model_name=steps["preprocess"],
        model_version=-1,
        input_map={"image": INPUT},
        output_map={"images": "pixels", "orig_size": "orig_size"},
    )
    scheduling.step.add(
        model_name=steps["onnx"],
        model_version=-1,
        input_map={"images": "pixels"},
        output_map={"boxes": "raw_boxes", "scores": "raw_scores"},
    )
    scheduling.step.add(
        model_name=steps["postprocess"],
        model_version=-1,
        input_map={"boxes": "raw_boxes", "scores": "raw_scores", "orig_size": "orig_size"},
        output_map={"boxes": "boxes", "scores": "scores", "classes": "classes"},
    )
    return config


def repository_configs(
    settings: VisionSettings,
    *,
    name: str,
    profile: str = "local",
    batching: Batching | None = None,
    precision: str = "",
    anchors: int = -1,
) -> dict[str, pb.ModelConfig]:
    """Every model's config by model name: the ensemble and its three steps (`anchors`: see cloud_config)."""
    if profile not in PROFILES:
        raise RepositoryError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    chosen = batching or Batching()
    served = precision or settings.precision
    if served not in PRECISIONS:
        raise RepositoryError(f"precision {served!r} is not one of {', '.join(PRECISIONS)} (vision.precision)")
    if profile == "local":
        model = local_model_config(name, settings, chosen)
    elif profile == "cluster-cpu":
        model = cluster_cpu_config(name, settings, chosen, anchors)
    else:
        model = cloud_config(name, settings, chosen, served, anchors)
    configs = [
        ensemble_config(name, settings),
        preprocess_config(name, settings, chosen),
        model,
        postprocess_config(name, settings, chosen),
    ]
    return {config.name: config for config in configs}


def check_onnx(onnx_path: Path, settings: VisionSettings) -> dict[str, Any]:
    """The ONNX file's I/O against the model contract (input `images` [B,3,S,S]; outputs `boxes`, `scores`)."""
    import onnx

    if not onnx_path.is_file():
        raise RepositoryError(f"{onnx_path} does not exist; export the detector first (vision.export) or pass its path")
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}

    def dims(value: Any) -> list[int | str]:
        return [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in value.type.tensor_type.shape.dim
        ]

    inputs = {value.name: dims(value) for value in graph.input if value.name not in initializers}
    outputs = {value.name: dims(value) for value in graph.output}
    size = settings.image_size
    if list(inputs) != ["images"] or inputs["images"][1:] != [3, size, size]:
        raise RepositoryError(
            f"{onnx_path}: the model step must take one input `images` [B,3,{size},{size}] (vision.image_size); "
            f"it takes {inputs}. Export the detector again with this platform.yaml"
        )
    if not {"boxes", "scores"} <= set(outputs):
        raise RepositoryError(f"{onnx_path}: outputs must include `boxes` and `scores`; it has {list(outputs)}")
    classes = outputs["scores"][-1]
    if isinstance(classes, int) and classes != settings.num_classes:
        raise RepositoryError(
            f"{onnx_path}: `scores` has {classes} classes, vision.classes lists {settings.num_classes}; "
            "train and export the detector again, or fix vision.classes"
        )
    return {"inputs": inputs, "outputs": outputs}


def build_repository(
    onnx_path: Path,
    settings: VisionSettings,
    out_dir: Path,
    *,
    name: str,
    profile: str = "local",
    batching: Batching | None = None,
    precision: str = "",
    source: dict[str, Any] | None = None,
) -> Path:
    """Build (or rebuild) the detector's repository in `out_dir` from `onnx_path` (the served precision's
    ONNX); returns `out_dir`. `source` (model URI, version, run id) goes into `<name>/serving.json`."""
    signature = check_onnx(onnx_path, settings)
    anchors = signature["outputs"]["scores"][1] if len(signature["outputs"]["scores"]) > 1 else -1
    configs = repository_configs(
        settings,
        name=name,
        profile=profile,
        batching=batching,
        precision=precision,
        anchors=anchors if isinstance(anchors, int) else -1,
    )
    if not INFERENCE.is_file():
        raise RepositoryError(f"{INFERENCE} is missing: the python steps need the package's vision/inference.py")
    steps = step_names(name)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".build-") as scratch:
        staged = Path(scratch) / "repository"
        for model_name, config in configs.items():
            version = staged / model_name / "1"
            version.mkdir(parents=True)  # an ensemble needs its (empty) version folder too
            (staged / model_name / "config.pbtxt").write_text(render_config(config), encoding="utf-8")
            if config.backend == "python":
                shutil.copyfile(STEPS_MODEL, version / "model.py")
                shutil.copyfile(INFERENCE, version / "inference.py")
                shutil.copyfile(DLPACK_HELPERS, version / "triton_model.py")
        shutil.copyfile(onnx_path, staged / steps["onnx"] / "1" / MODEL_FILE)
        manifest = {
            "model_name": name,
            "profile": profile,
            "steps": steps,
            "precision": precision or settings.precision,
            "image_size": settings.image_size,
            "classes": list(settings.classes),
            "max_batch_size": configs[steps["onnx"]].max_batch_size,
            "onnx": {"file": onnx_path.name, "sha256": sha256_file(onnx_path), **signature},
            "source": source or {},
        }
        (staged / name / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.move(str(staged), str(out_dir))
    return out_dir


def build_champion_repository(
    onnx_path: Path,
    vision: VisionSettings,
    serving: ServingSettings,
    *,
    out: Path | None = None,
    profile: str = "local",
    precision: str = "",
    source: dict[str, Any] | None = None,
) -> Path:
    """`python -m <package>.serving build` for a detector: the champion's served ONNX (fetched from MLflow
    by the caller) under serving.model_name, batched as platform.yaml decides, in serving.repository
    (`<repository>_<profile>` for the cloud and cluster-cpu profiles). `precision`: the precision that ONNX
    was served at (the champion's tag; the gate may have fallen back from vision.precision), which sets
    TensorRT's precision_mode in the cloud; default vision.precision."""
    default = (
        serving.repository
        if profile == "local"
        else serving.repository.with_name(f"{serving.repository.name}_{profile}")
    )
    return build_repository(
        onnx_path,
        vision,
        out or default,
        name=serving.model_name,
        profile=profile,
        batching=Batching.from_serving(serving, profile),
        precision=precision,
        source=source,
    )
