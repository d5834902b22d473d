"""This project's production contract (platform.yaml `decisions.task`) as typed objects: the task
head the use case gets, the head modules it needs and the Triton tensors it serves.

The decision engine records the contract (its table of contracts per use case stays with the
generator); a use case without one (`decisions.task: null`) serves the family's flat contract only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config import ConfigError, Platform, platform
from .heads import Arrays, Head, decode_text, encode_text, get_head

HEADS_DIR = Path(__file__).with_name("heads")
# Where a training run keeps its fitted head: the params and the contract they were fitted for.
TASK_PARAMS_ARTIFACT = "task/params.npz"
TASK_CONTRACT_ARTIFACT = "task/contract.json"
DTYPES = ("FP32", "INT32", "UTF8")
# The NumPy dtype kind of each, and its Triton type (UTF8: text as zero-padded UTF-8 bytes).
NUMPY_KINDS = {"FP32": "f", "INT32": "i", "UTF8": "u"}
TRITON_TYPES = {"FP32": "TYPE_FP32", "INT32": "TYPE_INT32", "UTF8": "TYPE_UINT8"}
CLIENT_TYPES = {"FP32": "FP32", "INT32": "INT32", "UTF8": "UINT8"}
NUMPY_TYPES = {"FP32": "float32", "INT32": "int32", "UTF8": "uint8"}


@dataclass(frozen=True)
class TensorSpec:
    """One Triton input or output: name, data type and dims after the batch axis."""

    name: str
    dtype: str
    dims: tuple[int, ...]

    @property
    def is_text(self) -> bool:
        return self.dtype == "UTF8"

    @property
    def triton_type(self) -> str:
        return TRITON_TYPES[self.dtype]

    @property
    def client_type(self) -> str:
        """The tritonclient data type name (InferInput)."""
        return CLIENT_TYPES[self.dtype]

    @property
    def numpy_type(self) -> str:
        return NUMPY_TYPES[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "dims": list(self.dims)}


@dataclass(frozen=True)
class TaskContract:
    """The production contract of one use case and the smoke head that serves it."""

    use_case: str
    family: str
    head: str
    modules: tuple[str, ...]
    options: dict[str, Any]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    smoke: str
    production: str

    def build_head(self, classes: tuple[str, ...]) -> Head:
        return get_head(self.head, classes, self.options)

    def triton_model_name(self, core_model: str) -> str:
        """The second Triton model that serves this contract beside the core model."""
        return f"{core_model}_{self.head}"

    def check_outputs(self, outputs: Arrays, batch: int) -> list[str]:
        """Problems with a head's outputs against the specs (empty when they match)."""
        problems = []
        for spec in self.outputs:
            array = outputs.get(spec.name)
            if array is None:
                problems.append(f"output {spec.name!r} is missing")
                continue
            expected = (batch, *spec.dims)
            if tuple(array.shape) != expected:
                problems.append(f"output {spec.name!r} has shape {tuple(array.shape)}, the contract says {expected}")
            if array.dtype.kind != NUMPY_KINDS[spec.dtype]:
                problems.append(f"output {spec.name!r} has dtype {array.dtype}, the contract says {spec.dtype}")
        return problems

    def encode_inputs(self, inputs: dict[str, Any], max_batch_size: int | None = None) -> Arrays:
        """Request tensors from caller values (text: str or a list of str; arrays as they are),
        checked against the contract; ValueError names the tensor and what it expects."""
        missing = [spec.name for spec in self.inputs if spec.name not in inputs]
        if missing:
            raise ValueError(f"missing input(s) {missing}; {self.use_case} takes {[s.name for s in self.inputs]}")
        arrays = {spec.name: _encode(spec, inputs[spec.name]) for spec in self.inputs}
        sizes = {len(array) for array in arrays.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise ValueError(f"the inputs of {self.use_case} need the same, non-zero batch size; got {sorted(sizes)}")
        if max_batch_size is not None and sizes.pop() > max_batch_size:
            raise ValueError(f"batch larger than the task model's max_batch_size {max_batch_size}")
        return arrays

    def decode_outputs(self, outputs: Arrays) -> dict[str, Any]:
        """Response tensors for callers: text outputs as lists of str, the rest as arrays."""
        return {
            spec.name: decode_text(outputs[spec.name]) if spec.is_text else outputs[spec.name] for spec in self.outputs
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case,
            "family": self.family,
            "head": self.head,
            "modules": list(self.modules),
            "options": self.options,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
            "smoke": self.smoke,
            "production": self.production,
        }


def _encode(spec: TensorSpec, value: Any) -> npt.NDArray[Any]:
    """One request tensor: text encoded to zero-padded UTF-8, arrays checked for kind and dims."""
    if spec.is_text and not (isinstance(value, np.ndarray) and value.dtype == np.uint8):
        texts = [value] if isinstance(value, str) else list(value)
        if not all(isinstance(text, str) for text in texts):
            raise ValueError(f"input {spec.name!r} takes texts (str), got {type(value).__name__}")
        return encode_text(texts, spec.dims[0])
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"input {spec.name!r} must be numeric ({spec.dtype}), got {array.dtype}")
    if tuple(array.shape[1:]) != spec.dims:
        expected = ["batch", *spec.dims]
        raise ValueError(f"input {spec.name!r} has shape {list(array.shape)}; the contract says {expected}")
    return np.ascontiguousarray(array, dtype=spec.numpy_type)


def _spec(raw: dict[str, Any], where: str) -> TensorSpec:
    dtype = str(raw["dtype"])
    if dtype not in DTYPES:
        raise ValueError(f"{where} {raw.get('name')!r} has dtype {dtype}, expected one of {DTYPES}")
    return TensorSpec(name=str(raw["name"]), dtype=dtype, dims=tuple(int(d) for d in raw["dims"]))


def task_from_dict(raw: dict[str, Any]) -> TaskContract:
    """A contract from its plain data (decisions.task, or TaskContract.to_dict() kept in a bundle)."""
    use_case = str(raw["use_case"])
    return TaskContract(
        use_case=use_case,
        family=str(raw["family"]),
        head=str(raw["head"]),
        modules=tuple(str(name) for name in raw.get("modules") or (raw["head"],)),
        options=dict(raw.get("options") or {}),
        inputs=tuple(_spec(item, f"{use_case} input") for item in raw["inputs"]),
        outputs=tuple(_spec(item, f"{use_case} output") for item in raw["outputs"]),
        smoke=" ".join(str(raw["smoke"]).split()),
        production=" ".join(str(raw["production"]).split()),
    )


def project_task(platform_: Platform | None = None) -> TaskContract | None:
    """This project's production contract (platform.yaml decisions.task), or None when the use case
    serves the family's flat contract only."""
    plat = platform_ or platform()
    raw = plat.decisions.get("task")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{plat.path}: decisions.task must be a mapping or null; run `copier update`")
    try:
        task = task_from_dict(raw)
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(
            f"{plat.path}: decisions.task is incomplete or invalid ({error}); run `copier update`"
        ) from error
    use_case = str(plat.answers.get("use_case", ""))
    family = str(plat.decision("model").get("family", ""))
    if task.use_case != use_case or (family and task.family != family):
        raise ConfigError(
            f"{plat.path}: decisions.task is the {task.use_case} contract ({task.family} family), but the "
            f"project's use case is {use_case} ({family} family); run `copier update` rather than editing decisions"
        )
    return task


def save_params(params: Arrays) -> bytes:
    """A head's params as .npz bytes (arrays only: loading never unpickles)."""
    buffer = io.BytesIO()
    np.savez(buffer, **params)  # type: ignore[arg-type]  # (NumPy stubs type **kwds as the flags)
    return buffer.getvalue()


def load_params(path: Path) -> Arrays:
    with np.load(path, allow_pickle=False) as loaded:
        return {name: loaded[name] for name in loaded.files}
