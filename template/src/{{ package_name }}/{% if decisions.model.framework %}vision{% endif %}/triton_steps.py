"""Triton python-backend model for the detector's python steps: preprocess, onnx (local) and postprocess.

vision/triton.py copies this file to `<repository>/<model>_<step>/1/model.py`, next to a copy of
vision/inference.py (the same preprocess/postprocess as the in-process OnnxDetector, so Triton and
the notebook agree) and of serving/triton_model.py (its DLPack tensor helpers: the stub in Triton
2.45 was built against NumPy 1, and only DLPack carries tensors correctly with NumPy 2). Triton
loads model.py without the project's package, so nothing here imports it. The config parameter
`step` says which step an instance runs:

    preprocess   `image` (UINT8 [-1], encoded JPEG/PNG bytes) -> `images` FP32 [1,3,S,S] 0..1, `orig_size` INT64 [2]
    onnx         `images` FP32 [B,3,S,S] -> `boxes` [B,A,4], `scores` [B,A,C]; the dynamic batcher hands
                 execute() the requests of many clients and they run as one onnxruntime call
    postprocess  `boxes`, `scores`, `orig_size` -> class-wise NMS -> `boxes` [N,4] in original pixels,
                 `scores` [N], `classes` INT64 [N]

A request that fails (an undecodable image) gets its own error response; the others go on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]

sys.path.insert(0, str(Path(__file__).resolve().parent))

import inference  # type: ignore[import-not-found]  # the copy beside this file
from triton_model import input_array, output_tensor  # type: ignore[import-not-found]

STEPS = ("preprocess", "onnx", "postprocess")


def _error(message: str) -> Any:
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))


class TritonPythonModel:
    """The class name is what the python backend looks for."""

    def initialize(self, args: dict[str, str]) -> None:
        config: dict[str, Any] = json.loads(args["model_config"])
        parameters = {key: value.get("string_value", "") for key, value in (config.get("parameters") or {}).items()}
        self.step = parameters.get("step", "")
        if self.step not in STEPS:
            raise ValueError(f"config parameter `step` is {self.step!r}; one of {', '.join(STEPS)}")
        self.image_size = int(parameters["image_size"])
        if self.step == "postprocess":
            self.score_threshold = float(parameters["score_threshold"])
            self.iou_threshold = float(parameters["iou_threshold"])
            self.max_detections = int(parameters["max_detections"])
            classes = len(json.loads(parameters["classes"]))
            # warm: the first call imports torch and torchvision (seconds), so do it before the model is READY
            inference.postprocess(
                np.zeros((1, 4), dtype=np.float32),
                np.zeros((1, classes), dtype=np.float32),
                (self.image_size, self.image_size),
                self.image_size,
                score_threshold=self.score_threshold,
                iou_threshold=self.iou_threshold,
                max_detections=self.max_detections,
            )
        if self.step == "onnx":
            import onnxruntime as ort  # type: ignore[import-untyped]

            options = ort.SessionOptions()
            threads = int(parameters.get("intra_op_thread_count") or 0)
            if threads > 0:  # one instance per core scales better than threads inside one session
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            model_file = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
            self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
            self.onnx_input = self.session.get_inputs()[0].name

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
            array, (height, width) = inference.preprocess(encoded, self.image_size)
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
            boxes, scores = self.session.run(["boxes", "scores"], {self.onnx_input: batch.astype(np.float32)})
        except Exception as error:  # the whole batch failed: each request gets the error
            return [_error(f"model execution failed: {error}") for _ in requests]
        responses = []
        start = 0
        for array in arrays:
            stop = start + array.shape[0]
            tensors = [
                output_tensor("boxes", np.asarray(boxes[start:stop], dtype=np.float32)),
                output_tensor("scores", np.asarray(scores[start:stop], dtype=np.float32)),
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start = stop
        return responses

    def _postprocess(self, request: Any) -> list[Any]:
        boxes = input_array(request, "boxes")
        scores = input_array(request, "scores")
        height, width = (int(value) for value in input_array(request, "orig_size"))
        found = inference.postprocess(
            np.array(boxes[0], dtype=np.float32),
            np.array(scores[0], dtype=np.float32),
            (height, width),
            self.image_size,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            max_detections=self.max_detections,
        )
        return [
            output_tensor("boxes", np.asarray(found.boxes, dtype=np.float32).reshape(-1, 4)),
            output_tensor("scores", np.asarray(found.scores, dtype=np.float32).reshape(-1)),
            output_tensor("classes", np.asarray(found.classes, dtype=np.int64).reshape(-1)),
        ]
