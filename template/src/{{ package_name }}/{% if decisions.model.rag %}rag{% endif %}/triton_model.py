"""Triton python-backend model answering questions with the project's RagService.

rag/serving.py `stage_model` copies this file to `<repository>/rag/1/model.py`. It imports the
project's package (config.pbtxt parameter `package`), so Triton must run where the project is
installed with its `rag` group: the local profile's environment (serving.server.LocalTriton); the
cloud Triton image must install the project the same way. `index_folder` names the published index
the model opens; Qdrant local mode locks that folder, so while Triton serves it no other process
may open it (the ingestion writes new indexes to new folders). Each batch of requests is one
`RagService.ask` call.

Text is UTF-8 in UINT8 tensors and every tensor crosses the stub through DLPack (serving.py says
why), with the helpers of the project's serving/triton_model.py (imported from the package, like
the service).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # type: ignore[import-not-found]


class TritonPythonModel:
    """The class name is what the python backend looks for."""

    def initialize(self, args: dict[str, str]) -> None:
        config: dict[str, Any] = json.loads(args["model_config"])
        parameters = {key: value.get("string_value", "") for key, value in (config.get("parameters") or {}).items()}
        package = parameters["package"]
        self.top_k = int(parameters["top_k"])
        self.serving = importlib.import_module(f"{package}.rag.serving")
        self.dlpack = importlib.import_module(f"{package}.serving.triton_model")  # input_array, output_tensor
        service = importlib.import_module(f"{package}.rag.service")
        query_log = parameters.get("query_log")
        self.service = service.RagService(
            Path(parameters["index_folder"]), query_log=Path(query_log) if query_log else None
        )
        importlib.import_module(f"{package}.serving.heap").freeze_startup_heap()  # no full-GC stalls

    def answer(self, questions: list[str]) -> list[list[Any]]:
        """Output tensors for each question, from one ask() call."""
        encode = self.serving.encode_texts
        outputs = []
        for result in self.service.ask(questions):
            ids = list(result.chunk_ids[: self.top_k])
            scores = np.zeros((1, self.top_k), dtype=np.float32)
            scores[0, : len(ids)] = result.scores[: len(ids)]
            chunk_ids = encode(ids + [""] * (self.top_k - len(ids)))
            outputs.append(
                [
                    ("answer", encode([result.answer])),
                    ("chunk_ids", chunk_ids.reshape(1, self.top_k, -1)),
                    ("scores", scores),
                    ("citations", encode([json.dumps(result.citations)])),
                    ("answered_by", encode([result.answered_by])),
                    ("fallback", encode([result.fallback])),
                ]
            )
        return outputs

    def execute(self, requests: list[Any]) -> list[Any]:
        """One ask() over every request's questions; each response gets its own rows (widths per response)."""
        questions: list[list[str]] = []
        errors: list[str | None] = []
        for request in requests:
            try:
                questions.append(self.serving.decode_texts(self.dlpack.input_array(request, "question")))
                errors.append(None)
            except Exception as error:
                questions.append([])
                errors.append(f"bad question tensor: {error}")
        try:
            answered = iter(self.answer([question for batch in questions for question in batch]))
        except Exception as error:  # the batch failed: every request gets the error, the server goes on
            message = f"rag model failed: {error}"
            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(message)) for _ in requests]
        responses = []
        for batch, problem in zip(questions, errors, strict=True):
            if problem is not None:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(problem)))
                continue
            rows = [next(answered) for _ in batch]
            tensors = []
            for position, name in enumerate(self.serving.OUTPUTS):
                parts = [row[position][1] for row in rows]
                tensors.append(self.dlpack.output_tensor(name, _stack(parts)))
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def finalize(self) -> None:
        """Close the service: it releases the index folder's lock."""
        service = getattr(self, "service", None)
        if service is not None:
            service.close()


def _stack(parts: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """Rows of one output, zero-padded on the last axis to the widest (text rows differ in width)."""
    width = max(part.shape[-1] for part in parts)
    padded = [np.pad(part, [(0, 0)] * (part.ndim - 1) + [(0, width - part.shape[-1])]) for part in parts]
    return np.concatenate(padded)
