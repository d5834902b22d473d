"""Triton python-backend model for the vision ensemble's python steps: preprocess, onnx (local) and postprocess.

vision/triton.py copies this file to `<repository>/<model>_<step>/1/model.py`, next to a copy of
serving/triton_model.py (its DLPack tensor helpers: the stub in Triton 2.45 was built against NumPy 1,
and only DLPack carries tensors correctly with NumPy 2) and a `vision/` folder with copies of
inference.py and the task module (the same preprocess/postprocess as the in-process OnnxPredictor, so
Triton and the notebook agree). Triton loads model.py without the project's package, so nothing here
imports it. The config parameter `step` says which step an instance runs:

    preprocess   `image` (UINT8 [-1], encoded JPEG/PNG bytes) -> `images` FP32 [1,3,S,S] 0..1, `orig_size` INT64 [2]
    onnx         `images` FP32 [B,3,S,S] -> the task's outputs (parameter `outputs`) [B, ...]; the dynamic
                 batcher hands execute() the requests of many clients and they run as one onnxruntime call
    postprocess  one image's outputs + `orig_size` -> task.postprocess -> task.served: the served arrays
                 (parameter `served`: name -> NumPy dtype), in original pixels

The task module gets the settings as an object with VisionSettings' plain fields (parameter
`settings`, JSON) and `num_classes`. A request that fails (an undecodable image) gets its own error
response; the others go on.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from triton_model import input_array, output_tensor  # type: ignore[import-not-found]

STEPS = ("preprocess", "onnx", "postprocess")
PACKAGE = "vision"  # the folder of copied package modules beside this file (vision/triton.py STEP_PACKAGE)


def _error(message: str) -> Any:
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))


def step_settings(text: str) -> SimpleNamespace:
    """The settings the task module reads, as attributes (lists back to tuples, as VisionSettings has them)."""
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in json.loads(text).items()}
    return SimpleNamespace(**values, num_classes=len(values.get("classes", ())))


class TritonPythonModel:
    """The class name is what the python backend looks for."""

    def initialize(self, args: dict[str, str]) -> None:
        config: dict[str, Any] = json.loads(args["model_config"])
        parameters = {key: value.get("string_value", "") for key, value in (config.get("parameters") or {}).items()}
        self.step = parameters.get("step", "")
        if self.step not in STEPS:
            raise ValueError(f"config parameter `step` is {self.step!r}; one of {', '.join(STEPS)}")
        self.image_size = int(parameters["image_size"])
        if self.step == "preprocess":
            self.inference: ModuleType = importlib.import_module(f"{PACKAGE}.inference")
        if self.step == "postprocess":
            self.settings = step_settings(parameters["settings"])
            self.task: ModuleType = importlib.import_module(f"{PACKAGE}.{parameters['task']}")
            self.outputs: list[str] = json.loads(parameters["outputs"])
            self.served: dict[str, np.dtype[Any]] = {
                name: np.dtype(kind) for name, kind in json.loads(parameters["served"]).items()
            }
            self._warm()
        if self.step == "onnx":
            import onnxruntime as ort  # type: ignore[import-untyped]

            self.outputs = json.loads(parameters["outputs"])
            options = ort.SessionOptions()
            threads = int(parameters.get("intra_op_thread_count") or 0)
            if threads > 0:  # one instance per core scales better than threads inside one session
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            model_file = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
            self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
            self.onnx_input = self.session.get_inputs()[0].name

    def _warm(self) -> None:
        """Postprocess zeros once: the first call imports what the task needs (torch and torchvision for
        detection's NMS: seconds), so it happens before the model reports READY; and a task module whose
        served arrays miss a configured output fails here, not on the first request."""
        dims = self.task.output_dims(self.settings)
        zeros = [np.zeros([max(1, int(d)) for d in dims[name]], dtype=np.float32) for name in self.outputs]
        size = (self.image_size, self.image_size)
        arrays = self.task.served(self.task.postprocess(zeros, size, self.settings))
        missing = sorted(set(self.served) - set(arrays))
        if missing:
            raise ValueError(f"task module {self.task.__name__}: served() lacks {missing}")

    def execute(self, requests: list[Any]) -> list[Any]:
        if self.step == "onnx":
            return self._run_onnx(requests)
        run = self._preprocess if self.step == "preprocess" else self._postprocess
        responses = []
        for request in requests:
            try:
                responses.append(pb_utils.InferenceResponse(output_tensors=run(request)))
            except Exception as error:  # this request fails, the server and the other requests go on
                responses.append(_error(f"{self.step} failed: {error}"))
        return responses

    def _preprocess(self, request: Any) -> list[Any]:
        encoded = input_array(request, "image").tobytes()
        try:
            array, (height, width) = self.inference.preprocess(encoded, self.image_size)
        except Exception as error:  # Pillow: UnidentifiedImageError, OSError (truncated), DecompressionBombError
            raise ValueError(
                f"bad input: the image ({len(encoded)} bytes) could not be decoded ({type(error).__name__}: {error}); "
                "send the encoded bytes of a JPEG or PNG file"
            ) from None
        return [
            output_tensor("images", np.asarray(array, dtype=np.float32)[None]),
            output_tensor("orig_size", np.array([height, width], dtype=np.int64)),
        ]

    def _run_onnx(self, requests: list[Any]) -> list[Any]:
        try:
            arrays = [input_array(request, "images") for request in requests]
            batch = np.concatenate(arrays) if len(arrays) > 1 else np.ascontiguousarray(arrays[0])
            results = self.session.run(self.outputs, {self.onnx_input: batch.astype(np.float32)})
        except Exception as error:  # the whole batch failed: each request gets the error
            return [_error(f"model execution failed: {error}") for _ in requests]
        responses = []
        start = 0
        for array in arrays:
            stop = start + array.shape[0]
            tensors = [
                output_tensor(name, np.asarray(result[start:stop], dtype=np.float32))
                for name, result in zip(self.outputs, results, strict=True)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start = stop
        return responses

    def _postprocess(self, request: Any) -> list[Any]:
        # copies: the request's tensors are views that end with the request
        outputs = [np.array(input_array(request, name)[0], dtype=np.float32) for name in self.outputs]
        height, width = (int(value) for value in input_array(request, "orig_size"))
        arrays = self.task.served(self.task.postprocess(outputs, (height, width), self.settings))
        return [output_tensor(name, np.asarray(arrays[name], dtype=kind)) for name, kind in self.served.items()]
