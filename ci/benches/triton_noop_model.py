"""The serving bench's ceiling probe (ci/benches/serving.py): a project's python-backend Triton
model (`serving/triton_model.py`) minus the model. The bench adds it to the model repository it builds.

It reads every request's input and answers zeros of the output's width, the same tensors through
the same DLPack helpers (copied beside it as `triton_model.py`). What it serves per second is
what Triton's HTTP front end, dynamic batcher and python backend allow on this machine, so the
bench can tell serving overhead from model cost.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from triton_model import input_array, output_tensor  # type: ignore[import-not-found]


class TritonPythonModel:
    """The class name is what the python backend looks for."""

    def initialize(self, args: dict[str, str]) -> None:
        config: dict[str, Any] = json.loads(args["model_config"])
        self.input_name = str(config["input"][0]["name"])
        self.output_name = str(config["output"][0]["name"])
        self.width = int(config["output"][0]["dims"][-1])

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            rows = input_array(request, self.input_name).shape[0]
            zeros = np.zeros((rows, self.width), dtype=np.float32)
            responses.append(pb_utils.InferenceResponse(output_tensors=[output_tensor(self.output_name, zeros)]))
        return responses
