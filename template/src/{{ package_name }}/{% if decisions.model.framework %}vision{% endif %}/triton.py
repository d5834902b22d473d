"""The Triton model repository of the vision model: an ensemble that takes encoded image bytes.

    <name>              ensemble: `image` UINT8 [-1] (JPEG/PNG bytes) -> the task's served outputs
                        (task.SERVED: detection `boxes`/`scores`/`classes`, classification `classes`/
                        `scores`/`probabilities`, segmentation `mask`/`scores`), in original pixels
    <name>_preprocess   python: decode (Pillow), resize to vision.image_size, float32 0..1, original size
    <name>_onnx         the model step, the only one with dynamic batching: `images` [B,3,S,S] -> task.OUTPUTS.
                        local = python backend running onnxruntime on model.onnx; cloud = onnxruntime_onnx
                        on GPU with TensorRT at the served precision (triton_cloud.cloud_model_config);
                        cluster-cpu = onnxruntime_onnx on CPU
    <name>_postprocess  python: task.postprocess (one image's outputs -> its Prediction in original pixels)
                        and task.served (the Prediction as the served arrays)

Why this layout: predictions are ragged (N boxes per image, a mask of the image's own size), and an
image's size is only known after decoding, so the ensemble, preprocess and postprocess take one
request at a time (max_batch_size 0) and only the model step batches. Its [1,3,S,S] input from
preprocess is a batch of one to the model step (Triton accepts a non-batching [-1, d...] tensor for a
batching model's [d...]), and the dynamic batcher joins the images of concurrent requests into one
onnxruntime / TensorRT run.

Nothing here names a task: shapes, names and data types come from the task module (vision/task.py).
The python steps run triton_steps.py with serving/triton_model.py (DLPack tensor helpers) beside it
and, in a `vision/` folder, copies of inference.py (the in-process predictor's preprocess), the task
module and the package modules they import at module level, so Triton and the notebook agree. A task
module that imports the rest of the package (config, settings) at module level cannot be served and
fails the build here. Configs are Triton's own protobuf (tritonclient.grpc.model_config_pb2), so a
wrong field fails here. Every step but the ensemble (Triton has no warmup for one) runs a warmup request
through each instance before Triton reports it READY (`model_warmup`: the sample image of
warmup_files() through preprocess, zeros through the model step and postprocess), so the first requests
after a start or a scale-up do not pay for a session's first run or the python stubs' first request.
On a cluster, the Triton image's Python must have what those steps import
(deploy/triton/Dockerfile; `step_imports()` lists it); the stock image has numpy only.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import shutil
import struct
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tritonclient.grpc import model_config_pb2 as pb  # type: ignore[import-untyped]

from ..serving.artifacts import MODEL_FILE, sha256_file
from ..serving.artifacts import PYTHON_MODEL as DLPACK_HELPERS
from ..serving.errors import RepositoryError
from ..serving.model_config import render_config, write_warmup_files
from ..serving.settings import ServingSettings
from .settings import PRECISIONS, VisionSettings
from .task import task_module
from .triton_cloud import add_zeros_warmup

PROFILES = ("local", "cloud", "cluster-cpu")
HERE = Path(__file__).resolve().parent
STEPS_MODEL = HERE / "triton_steps.py"
STEP_PACKAGE = "vision"  # the folder beside each python step's model.py with the package modules it runs
MANIFEST = "serving.json"
INPUT = "image"
MODEL_INPUT = "images"
# onnxruntime threads per model-step instance on CPU: instances, not threads, use the cores
INTRA_OP_THREADS = 1
# Triton data types of served outputs -> NumPy dtypes the python step casts to (config parameter `served`)
NUMPY_TYPES = {
    "TYPE_BOOL": "bool",
    "TYPE_UINT8": "uint8",
    "TYPE_INT32": "int32",
    "TYPE_INT64": "int64",
    "TYPE_FP16": "float16",
    "TYPE_FP32": "float32",
}
# provided by the Triton python backend itself, and the files copied beside model.py
STEP_LOCAL_MODULES = frozenset({"triton_python_backend_utils", "triton_model", STEP_PACKAGE})


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


def data_type(name: str) -> int:
    """A Triton data type by its config name (`TYPE_FP32`), with the known ones in the error."""
    if name not in NUMPY_TYPES:
        raise RepositoryError(f"served data type {name!r} is not one of {', '.join(NUMPY_TYPES)}")
    return int(pb.DataType.Value(name))


def model_output_dims(
    settings: VisionSettings, declared: Mapping[str, Sequence[int]] | None = None
) -> dict[str, list[int]]:
    """The model step's outputs (task.OUTPUTS order), dims without the batch axis: the task's, with each
    variable (-1) axis the ONNX graph fixes filled in (`declared`: onnx_output_dims). Triton's onnxruntime
    backend compares the config with the graph's declared shape and refuses -1 against a fixed size."""
    task = task_module(settings)
    wanted = task.output_dims(settings)
    dims: dict[str, list[int]] = {}
    for name in task.OUTPUTS:
        shape = [int(value) for value in wanted[name]]
        fixed = list((declared or {}).get(name, []))
        if len(fixed) == len(shape):
            shape = [have if want == -1 and have > 0 else want for want, have in zip(shape, fixed, strict=True)]
        dims[name] = shape
    return dims


def step_settings(settings: VisionSettings) -> dict[str, Any]:
    """The settings the python steps hand to the task module (config parameter `settings`, JSON): every
    plain field of VisionSettings (not the project root nor the stream section); the step reads them as
    attributes, plus `num_classes`."""
    values: dict[str, Any] = {}
    for item in fields(settings):
        value = getattr(settings, item.name)
        if isinstance(value, tuple):
            value = list(value)
        try:
            json.dumps(value)
        except TypeError:
            continue  # root (a Path), stream (a dataclass): no step reads them
        values[item.name] = value
    return values


def _python_step(name: str, step: str, settings: VisionSettings, instances: int) -> pb.ModelConfig:
    config = pb.ModelConfig(name=name, backend="python", max_batch_size=0)
    config.instance_group.add(count=instances, kind=pb.ModelInstanceGroup.KIND_CPU)
    config.parameters["step"].string_value = step
    config.parameters["task"].string_value = settings.task
    config.parameters["image_size"].string_value = str(settings.image_size)
    config.parameters["settings"].string_value = json.dumps(step_settings(settings), sort_keys=True)
    return config


def preprocess_config(name: str, settings: VisionSettings, batching: Batching) -> pb.ModelConfig:
    size = settings.image_size
    config = _python_step(step_names(name)["preprocess"], "preprocess", settings, batching.python_instances)
    config.input.add(name=INPUT, data_type=pb.TYPE_UINT8, dims=[-1])
    config.output.add(name=MODEL_INPUT, data_type=pb.TYPE_FP32, dims=[1, 3, size, size])
    config.output.add(name="orig_size", data_type=pb.TYPE_INT64, dims=[2])
    warmup = config.model_warmup.add(name="sample image", batch_size=1)
    image = warmup.inputs[INPUT]
    image.data_type = pb.TYPE_UINT8
    image.dims.append(len(warmup_image(size)))
    image.input_data_file = INPUT
    return config


def postprocess_config(name: str, settings: VisionSettings, batching: Batching) -> pb.ModelConfig:
    task = task_module(settings)
    config = _python_step(step_names(name)["postprocess"], "postprocess", settings, batching.python_instances)
    for output, dims in model_output_dims(settings).items():  # one image's slice: a batch of one
        config.input.add(name=output, data_type=pb.TYPE_FP32, dims=[1, *dims])
    config.input.add(name="orig_size", data_type=pb.TYPE_INT64, dims=[2])
    for output, (kind, dims) in task.SERVED.items():
        config.output.add(name=output, data_type=data_type(kind), dims=list(dims))
    config.parameters["outputs"].string_value = json.dumps(list(task.OUTPUTS))
    config.parameters["served"].string_value = json.dumps(
        {output: NUMPY_TYPES[kind] for output, (kind, _) in task.SERVED.items()}
    )
    warmup = config.model_warmup.add(name="zeros", batch_size=1)
    for output, dims in model_output_dims(settings).items():
        zeros = warmup.inputs[output]
        zeros.data_type = pb.TYPE_FP32
        zeros.dims.extend([1, *(max(1, value) for value in dims)])  # one anchor where the count is variable
        zeros.zero_data = True
    orig_size = warmup.inputs["orig_size"]
    orig_size.data_type = pb.TYPE_INT64
    orig_size.dims.append(2)
    orig_size.input_data_file = "orig_size"
    return config


@functools.cache
def warmup_image(size: int) -> bytes:
    """The preprocess step's warmup input: a plain grey size x size JPEG, decoded and resized as a request's is."""
    from PIL import Image

    encoded = io.BytesIO()
    Image.new("RGB", (size, size), (128, 128, 128)).save(encoded, format="JPEG")
    return encoded.getvalue()


def warmup_files(settings: VisionSettings) -> dict[str, dict[str, bytes]]:
    """The files the python steps' model_warmup reads, by step and file name (build_repository writes
    them to <model>/warmup/): the sample image, and the original size (INT64, native byte order, as Triton
    reads raw tensor data) that postprocess scales its zeros to."""
    size = settings.image_size
    return {
        "preprocess": {INPUT: warmup_image(size)},
        "postprocess": {"orig_size": struct.pack("=2q", size, size)},
    }


def _add_model_io(config: pb.ModelConfig, settings: VisionSettings, dims: Mapping[str, Sequence[int]]) -> None:
    size = settings.image_size
    config.input.add(name=MODEL_INPUT, data_type=pb.TYPE_FP32, dims=[3, size, size])
    for output, shape in dims.items():
        config.output.add(name=output, data_type=pb.TYPE_FP32, dims=list(shape))


def local_model_config(name: str, settings: VisionSettings, batching: Batching) -> pb.ModelConfig:
    """The model step on the wheel's Triton (python backend only): onnxruntime on CPU, dynamically batched."""
    config = pb.ModelConfig(name=step_names(name)["onnx"], backend="python", max_batch_size=batching.max_batch_size)
    _add_model_io(config, settings, model_output_dims(settings))
    config.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_microseconds
    config.instance_group.add(count=batching.model_instances, kind=pb.ModelInstanceGroup.KIND_CPU)
    config.parameters["step"].string_value = "onnx"
    config.parameters["image_size"].string_value = str(settings.image_size)
    config.parameters["outputs"].string_value = json.dumps(list(task_module(settings).OUTPUTS))
    config.parameters["intra_op_thread_count"].string_value = str(INTRA_OP_THREADS)
    add_zeros_warmup(config, settings.image_size)
    return config


def cloud_config(
    name: str,
    settings: VisionSettings,
    batching: Batching,
    precision: str,
    declared: Mapping[str, Sequence[int]] | None = None,
) -> pb.ModelConfig:
    """The model step on the GPU pool: the precision helper's config, under this repository's step name.
    `declared`: the ONNX file's output dims (onnx_output_dims), for its fixed sizes."""
    from .triton_cloud import cloud_model_config

    config: pb.ModelConfig = cloud_model_config(
        settings,
        precision,
        batching.max_batch_size,
        batching.model_instances,
        batching.max_queue_delay_microseconds,
        dims=model_output_dims(settings, declared),
    )
    config.name = step_names(name)["onnx"]
    return config


def cluster_cpu_config(
    name: str, settings: VisionSettings, batching: Batching, declared: Mapping[str, Sequence[int]] | None = None
) -> pb.ModelConfig:
    """The model step on the stock Triton image of a CPU-only cluster (deploy/k8s/overlays/local): its
    onnxruntime backend on CPU instances, dynamically batched, no TensorRT."""
    config = pb.ModelConfig(
        name=step_names(name)["onnx"], platform="onnxruntime_onnx", max_batch_size=batching.max_batch_size
    )
    _add_model_io(config, settings, model_output_dims(settings, declared))
    config.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_microseconds
    config.instance_group.add(count=batching.model_instances, kind=pb.ModelInstanceGroup.KIND_CPU)
    config.parameters["intra_op_thread_count"].string_value = str(INTRA_OP_THREADS)
    add_zeros_warmup(config, settings.image_size)
    return config


def ensemble_config(name: str, settings: VisionSettings) -> pb.ModelConfig:
    task = task_module(settings)
    steps = step_names(name)
    config = pb.ModelConfig(name=name, platform="ensemble", max_batch_size=0)
    config.input.add(name=INPUT, data_type=pb.TYPE_UINT8, dims=[-1])
    for output, (kind, dims) in task.SERVED.items():
        config.output.add(name=output, data_type=data_type(kind), dims=list(dims))
    scheduling = config.ensemble_scheduling
    raw = {output: f"raw_{output}" for output in task.OUTPUTS}
    # maps: the step's own tensor name -> the ensemble's tensor name
    scheduling.step.add(
        model_name=steps["preprocess"],
        model_version=-1,
        input_map={INPUT: INPUT},
        output_map={MODEL_INPUT: "pixels", "orig_size": "orig_size"},
    )
    scheduling.step.add(model_name=steps["onnx"], model_version=-1, input_map={MODEL_INPUT: "pixels"}, output_map=raw)
    scheduling.step.add(
        model_name=steps["postprocess"],
        model_version=-1,
        input_map={**raw, "orig_size": "orig_size"},
        output_map={output: output for output in task.SERVED},
    )
    return config


def repository_configs(
    settings: VisionSettings,
    *,
    name: str,
    profile: str = "local",
    batching: Batching | None = None,
    precision: str = "",
    declared: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, pb.ModelConfig]:
    """Every model's config by model name: the ensemble and its three steps (`declared`: see cloud_config)."""
    if profile not in PROFILES:
        raise RepositoryError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    chosen = batching or Batching()
    served = precision or settings.precision
    if served not in PRECISIONS:
        raise RepositoryError(f"precision {served!r} is not one of {', '.join(PRECISIONS)} (vision.precision)")
    if profile == "local":
        model = local_model_config(name, settings, chosen)
    elif profile == "cluster-cpu":
        model = cluster_cpu_config(name, settings, chosen, declared)
    else:
        model = cloud_config(name, settings, chosen, served, declared)
    configs = [
        ensemble_config(name, settings),
        preprocess_config(name, settings, chosen),
        model,
        postprocess_config(name, settings, chosen),
    ]
    return {config.name: config for config in configs}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, *, module_level: bool) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of `tree`: those that run when the module is imported (module_level: not
    in function bodies nor under `if TYPE_CHECKING:`), or every one (function bodies too)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                pending += child.orelse
            elif not (module_level and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)):
                pending.append(child)
    return found


def _siblings(node: ast.Import | ast.ImportFrom, path: Path, chain: str) -> list[str]:
    """The package modules a relative import names (`from .images import x`, `from . import images`);
    an import of the package's parent (`from ..config import x`) cannot be served and raises."""
    if not isinstance(node, ast.ImportFrom) or node.level == 0:
        return []
    if node.level > 1:
        raise RepositoryError(
            f"{chain} imports `{'.' * node.level}{node.module or ''}` at module level (line {node.lineno} of "
            f"{path.name}): the Triton python steps run the task module without the project's package; import "
            "it inside the function that needs it, or under `if TYPE_CHECKING:` for type hints"
        )
    if node.module:
        return [node.module.split(".")[0]]
    return [alias.name for alias in node.names]


def step_modules(settings: VisionSettings) -> dict[str, Path]:
    """The package modules the python steps run, by module name: inference.py (preprocess), the task
    module (postprocess, served) and every module of the package they import at module level."""
    wanted = [("inference", "inference.py"), (settings.task, f"{settings.task}.py")]
    found: dict[str, Path] = {}
    while wanted:
        name, chain = wanted.pop()
        if name in found:
            continue
        path = HERE / f"{name}.py"
        if not path.is_file():
            raise RepositoryError(f"{path} is missing: the python steps of the {settings.task} ensemble need it")
        found[name] = path
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")), module_level=True):
            wanted += [(sibling, f"{chain} -> {sibling}.py") for sibling in _siblings(node, path, chain)]
    return found


def _third_party(nodes: Iterable[ast.Import | ast.ImportFrom], local: set[str]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            top = [] if node.level else [(node.module or "").split(".")[0]]
        else:
            top = [alias.name.split(".")[0] for alias in node.names]
        names |= {name for name in top if name and name not in sys.stdlib_module_names and name not in local}
    return names


def _reachable_imports(modules: Mapping[str, Path], entries: Iterable[tuple[str, str]]) -> dict[str, set[ast.AST]]:
    """Per package module, the function and class bodies the steps can run, starting from `entries`
    ((module, name) the steps call) and following the names they use, in their module or imported
    from a sibling (`from .images import polygon_mask`, `images.polygon_mask`)."""
    trees = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in modules.items()}
    defined = {
        name: {
            node.name: node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        for name, tree in trees.items()
    }
    reached: dict[str, set[ast.AST]] = {name: set() for name in modules}
    pending = list(entries)
    while pending:
        module, name = pending.pop()
        node = defined.get(module, {}).get(name)
        if node is None or node in reached[module]:
            continue
        reached[module].add(node)
        aliases: dict[str, tuple[str, str | None]] = {}  # local name -> (sibling module, its name or None)
        for statement in [*_imports(trees[module], module_level=True), *_imports(node, module_level=False)]:
            if isinstance(statement, ast.ImportFrom) and statement.level == 1:
                for alias in statement.names:
                    target = (statement.module, alias.name) if statement.module else (alias.name, None)
                    aliases[alias.asname or alias.name] = (target[0].split(".")[0], target[1])
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):  # not fields or local targets
                sibling, attribute = aliases.get(child.id, (module, child.id))
                if attribute is not None:
                    pending.append((sibling, attribute))
            elif isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name):
                sibling, attribute = aliases.get(child.value.id, ("", ""))
                if sibling and attribute is None:
                    pending.append((sibling, child.attr))
    return reached


def step_imports(settings: VisionSettings) -> dict[str, set[str]]:
    """Third-party top-level modules the python steps import, by file: what the Triton image's Python
    must have (deploy/triton/Dockerfile). model.py and the DLPack helpers count whole; the copied package
    modules count at module level and in the code the steps can reach (inference.preprocess; the task's
    output_dims, postprocess and served, and what they call): torch for detection's NMS, imported when
    the first image is postprocessed, counts; torchmetrics in the task's `score` does not. The standard
    library, the Triton python backend's own module and the copied package modules are left out."""
    modules = step_modules(settings)
    local = set(STEP_LOCAL_MODULES) | set(modules)
    result = {
        label: _third_party(_imports(ast.parse(path.read_text(encoding="utf-8")), module_level=False), local)
        for label, path in {"model.py": STEPS_MODEL, "triton_model.py": DLPACK_HELPERS}.items()
    }
    entries = [("inference", "preprocess")] + [
        (settings.task, name) for name in ("output_dims", "postprocess", "served")
    ]
    reached = _reachable_imports(modules, entries)
    for name, path in modules.items():
        statements = _imports(ast.parse(path.read_text(encoding="utf-8")), module_level=True)
        for node in reached[name]:
            statements += _imports(node, module_level=False)
        result[f"{STEP_PACKAGE}/{name}.py"] = _third_party(statements, local)
    return result


def onnx_output_dims(onnx_path: Path) -> dict[str, list[int]]:
    """The ONNX graph's declared output dims without the batch axis (-1 where symbolic)."""
    signature = read_onnx(onnx_path)
    return {
        name: [value if isinstance(value, int) and value > 0 else -1 for value in dims[1:]]
        for name, dims in signature["outputs"].items()
    }


def read_onnx(onnx_path: Path) -> dict[str, Any]:
    """The ONNX file's inputs and outputs: name -> dims (int, or the symbolic name)."""
    import onnx

    if not onnx_path.is_file():
        raise RepositoryError(f"{onnx_path} does not exist; export the model first (vision.export) or pass its path")
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}

    def dims(value: Any) -> list[int | str]:
        return [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in value.type.tensor_type.shape.dim
        ]

    inputs = {value.name: dims(value) for value in graph.input if value.name not in initializers}
    outputs = {value.name: dims(value) for value in graph.output}
    return {"inputs": inputs, "outputs": outputs}


def check_onnx(onnx_path: Path, settings: VisionSettings) -> dict[str, Any]:
    """The ONNX file's I/O against the model contract: one input `images` [B,3,S,S]; the task's outputs
    (task.OUTPUTS) with its dims (task.output_dims: class counts from vision.classes, sizes from
    vision.image_size) wherever both the graph and the task fix a size."""
    signature = read_onnx(onnx_path)
    inputs, outputs = signature["inputs"], signature["outputs"]
    size = settings.image_size
    if list(inputs) != [MODEL_INPUT] or inputs[MODEL_INPUT][1:] != [3, size, size]:
        raise RepositoryError(
            f"{onnx_path}: the model step must take one input `images` [B,3,{size},{size}] (vision.image_size); "
            f"it takes {inputs}. Export the model again with this platform.yaml"
        )
    task = task_module(settings)
    missing = [name for name in task.OUTPUTS if name not in outputs]
    if missing:
        raise RepositoryError(
            f"{onnx_path}: a {settings.task} model step must output {list(task.OUTPUTS)}; it has {list(outputs)}"
        )
    expected = task.output_dims(settings)
    for name in task.OUTPUTS:
        declared = outputs[name][1:]
        wanted = list(expected[name])
        agree = len(declared) == len(wanted) and all(
            want == -1 or not isinstance(have, int) or have in (0, want)
            for want, have in zip(wanted, declared, strict=True)
        )
        if not agree:
            raise RepositoryError(
                f"{onnx_path}: output `{name}` is {declared} without the batch axis; the {settings.task} model "
                f"step must give {wanted} (-1: any) for vision.classes ({settings.num_classes} classes) and "
                f"vision.image_size {size}. Train and export the model again, or fix vision.classes"
            )
    return signature


def _copy_step_files(version: Path, settings: VisionSettings) -> None:
    shutil.copyfile(STEPS_MODEL, version / "model.py")
    shutil.copyfile(DLPACK_HELPERS, version / "triton_model.py")
    package = version / STEP_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""Copies of the project\'s vision modules the Triton python steps run (vision/triton.py)."""\n',
        encoding="utf-8",
    )
    for name, path in step_modules(settings).items():
        shutil.copyfile(path, package / f"{name}.py")


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
    """Build (or rebuild) the model's repository in `out_dir` from `onnx_path` (the served precision's
    ONNX); returns `out_dir`. `source` (model URI, version, run id) goes into `<name>/serving.json`."""
    signature = check_onnx(onnx_path, settings)
    configs = repository_configs(
        settings,
        name=name,
        profile=profile,
        batching=batching,
        precision=precision,
        declared=onnx_output_dims(onnx_path),
    )
    steps = step_names(name)
    if source and source.get("version"):
        # what the clients report with each prediction (VisionClient.model_version), as the tabular ensemble does
        configs[name].parameters["mlflow_model_uri"].string_value = str(source.get("model_uri", ""))
        configs[name].parameters["mlflow_model_version"].string_value = str(source["version"])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".build-") as scratch:
        staged = Path(scratch) / "repository"
        for model_name, config in configs.items():
            version = staged / model_name / "1"
            version.mkdir(parents=True)  # an ensemble needs its (empty) version folder too
            (staged / model_name / "config.pbtxt").write_text(render_config(config), encoding="utf-8")
            if config.backend == "python":
                _copy_step_files(version, settings)
        shutil.copyfile(onnx_path, staged / steps["onnx"] / "1" / MODEL_FILE)
        for step, files in warmup_files(settings).items():
            write_warmup_files(staged / steps[step], files)
        manifest = {
            "model_name": name,
            "task": settings.task,
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
    """`python -m <package>.serving build` for a vision model: the champion's served ONNX (fetched from MLflow
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


def champion_onnx(serving: ServingSettings | None = None) -> Path:
    """The served model step's ONNX in the local Triton repository (`make build-serving` puts the
    champion's there): what benchmarks and the stream run in process."""
    chosen = serving or ServingSettings.from_platform()
    path = chosen.repository / step_names(chosen.model_name)["onnx"] / "1" / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `make build-serving` (the champion's) or pass --onnx PATH")
    return path
