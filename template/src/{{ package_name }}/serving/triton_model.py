"""Triton python-backend model: runs the exported ONNX model (`model.onnx` beside it) with onnxruntime.

The repository builder copies this file to `<repository>/<model>/1/model.py`. Triton's dynamic
batcher hands `execute()` several requests at once; they run as one onnxruntime call and the
result is split back per request. Config parameters (config.pbtxt `parameters`):
`intra_op_thread_count` (onnxruntime threads per instance, 0 = onnxruntime's default).

Tensors cross the python-backend boundary through DLPack, not `Tensor(name, ndarray)` /
`as_numpy()`: the stub in Triton 2.45 (nvidia-pytriton wheel) was built against the NumPy 1 C
layout, so with NumPy 2 it reads every item size as 0 (outputs arrive empty, inputs repeat their
first value). DLPack carries shape, dtype and strides itself and works with NumPy 1 and 2.
Inputs are read through the tensor's own `to_dlpack()` capsule: handing the tensor itself to
`np.from_dlpack` costs three times as much (NumPy 2 first calls `__dlpack__` with keywords the
stub's binding rejects, then retries), about 10 us per request at c=32.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]

_CAPSULE = ctypes.create_string_buffer(b"dltensor")
_CONSUMED = ctypes.create_string_buffer(b"used_dltensor")
# A private handle on the interpreter's C API: ctypes.pythonapi's function objects are shared, and
# importing torch (through dill) or tritonclient sets their argtypes to (py_object, c_char_p) for everyone.
_api = ctypes.PyDLL(None)
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_void_p]
_api.PyCapsule_SetName.restype = ctypes.c_int
_api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_void_p]
_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]


class _Capsule:
    """What `np.from_dlpack` takes: a DLPack capsule behind the `__dlpack__` protocol (CPU)."""

    __slots__ = ("capsule",)

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU, device 0


def as_array(tensor: Any) -> np.ndarray[Any, Any]:
    """A pb_utils.Tensor as a NumPy view (via its DLPack capsule; valid while the tensor is)."""
    return np.from_dlpack(_Capsule(tensor.to_dlpack()))


def input_array(request: Any, name: str) -> np.ndarray[Any, Any]:
    """A request's input tensor as a NumPy view (valid while the request is)."""
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise ValueError(f"input {name!r} is missing")
    return as_array(tensor)


def output_tensor(name: str, array: np.ndarray[Any, Any]) -> Any:
    """A pb_utils.Tensor that owns `array`'s data through a DLPack capsule.

    The stub marks a consumed capsule `used_dlpack`, which NumPy's capsule destructor does not
    recognise; so NumPy's capsule is marked consumed here and the stub gets a capsule of its own
    (no destructor) holding the same managed tensor, whose deleter the stub calls when done.
    """
    contiguous = np.ascontiguousarray(array)
    capsule = contiguous.__dlpack__()
    pointer = _api.PyCapsule_GetPointer(capsule, ctypes.addressof(_CAPSULE))
    _api.PyCapsule_SetName(capsule, ctypes.addressof(_CONSUMED))
    handoff = _api.PyCapsule_New(pointer, ctypes.addressof(_CAPSULE), None)
    return pb_utils.Tensor.from_dlpack(name, handoff)


class TritonPythonModel:
    """The class name is what the python backend looks for."""

    def initialize(self, args: dict[str, str]) -> None:
        config: dict[str, Any] = json.loads(args["model_config"])
        self.input_name = str(config["input"][0]["name"])
        self.output_name = str(config["output"][0]["name"])
        parameters = {key: value.get("string_value", "") for key, value in (config.get("parameters") or {}).items()}
        options = ort.SessionOptions()
        threads = int(parameters.get("intra_op_thread_count") or 0)
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        model_file = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.onnx_input = self.session.get_inputs()[0].name
        names = [out.name for out in self.session.get_outputs()]
        self.onnx_output = self.output_name if self.output_name in names else names[0]

    def execute(self, requests: list[Any]) -> list[Any]:
        try:
            arrays = [input_array(request, self.input_name) for request in requests]
            batch = (np.concatenate(arrays) if len(arrays) > 1 else arrays[0]).astype(np.float32, copy=False)
            scores = np.asarray(self.session.run([self.onnx_output], {self.onnx_input: batch})[0], dtype=np.float32)
        except Exception as error:  # the whole batch failed: each request gets the error, the server goes on
            message = f"model execution failed: {error}"
            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(message)) for _ in requests]
        scores = scores.reshape(batch.shape[0], -1)
        responses = []
        start = 0
        for array in arrays:
            stop = start + array.shape[0]
            responses.append(
                pb_utils.InferenceResponse(output_tensors=[output_tensor(self.output_name, scores[start:stop])])
            )
            start = stop
        return responses
