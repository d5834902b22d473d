"""Triton python model serving the use case's production contract around the core model.

The repository builder copies this file to `<repository>/<model>_<head>/1/model.py`, next to
`triton_model.py` (for its DLPack tensor helpers), the `task_heads/` package (a copy of
tasks/heads, NumPy only) and `params.npz` (the head fitted by the training pipeline). Each request
is pre-processed by the head, which calls the core model (`core_model` in config.pbtxt) through
Business Logic Scripting, chunked to the core's max batch size, and post-processed (e.g. NMS) into
the outputs of tasks.yaml. The core model stays where the dynamic batcher and the GPU are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from task_heads import get_head  # type: ignore[import-not-found]
from triton_model import as_array, input_array, output_tensor  # type: ignore[import-not-found]


class TritonPythonModel:
    """The class name is what the python backend looks for."""

    def initialize(self, args: dict[str, str]) -> None:
        config: dict[str, Any] = json.loads(args["model_config"])
        parameters = {key: value.get("string_value", "") for key, value in (config.get("parameters") or {}).items()}
        self.core_model = parameters["core_model"]
        self.core_batch = max(1, int(parameters["core_max_batch_size"]))
        self.core_input = parameters.get("core_input", "features")
        self.core_output = parameters.get("core_output", "scores")
        self.input_names = [str(item["name"]) for item in config["input"]]
        self.output_names = [str(item["name"]) for item in config["output"]]
        self.head = get_head(
            parameters["head"], tuple(json.loads(parameters["classes"])), json.loads(parameters["options"])
        )
        folder = Path(args["model_repository"]) / args["model_version"]
        with np.load(folder / "params.npz", allow_pickle=False) as loaded:
            self.params = {name: loaded[name] for name in loaded.files}

    def core(self, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The core model's scores for `rows`, through BLS, at most `core_max_batch_size` rows a call."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        parts = []
        for start in range(0, len(rows), self.core_batch):
            request = pb_utils.InferenceRequest(
                model_name=self.core_model,
                requested_output_names=[self.core_output],
                inputs=[output_tensor(self.core_input, rows[start : start + self.core_batch])],
            )
            response = request.exec()
            if response.has_error():
                raise RuntimeError(f"core model {self.core_model}: {response.error().message()}")
            scores = pb_utils.get_output_tensor_by_name(response, self.core_output)
            parts.append(np.array(as_array(scores), dtype=np.float32))  # copy: the response is freed
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(parts)

    def run(self, arrays: list[dict[str, np.ndarray[Any, Any]]]) -> list[list[Any]]:
        """The head on several requests at once (one core pass); output tensors per request."""
        inputs = {name: np.concatenate([item[name] for item in arrays]) for name in self.input_names}
        outputs = self.head.infer(self.core, self.params, inputs)
        result, start = [], 0
        for item in arrays:
            stop = start + len(item[self.input_names[0]])
            result.append([output_tensor(name, outputs[name][start:stop]) for name in self.output_names])
            start = stop
        return result

    def execute(self, requests: list[Any]) -> list[Any]:
        arrays = []
        for request in requests:
            try:
                arrays.append({name: np.array(input_array(request, name)) for name in self.input_names})
            except Exception as error:
                arrays.append({"error": np.array(str(error))})
        valid = [item for item in arrays if "error" not in item]
        try:  # the dynamic batcher's requests in one head call (one core pass for all of them)
            batched = iter(self.run(valid)) if valid else iter([])
            return [
                self._response(item) if "error" in item else pb_utils.InferenceResponse(output_tensors=next(batched))
                for item in arrays
            ]
        except Exception:  # some request is bad: run each alone, so only that one gets the error
            return [self._alone(item) for item in arrays]

    def _alone(self, item: dict[str, np.ndarray[Any, Any]]) -> Any:
        if "error" in item:
            return self._response(item)
        try:
            return pb_utils.InferenceResponse(output_tensors=self.run([item])[0])
        except Exception as error:
            return self._response({"error": np.array(str(error))})

    def _response(self, item: dict[str, np.ndarray[Any, Any]]) -> Any:
        return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{self.head.name}: {item['error']}"))
