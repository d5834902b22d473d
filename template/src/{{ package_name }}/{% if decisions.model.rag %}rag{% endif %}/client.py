"""Ask the served RAG model (rag/serving.py) over Triton HTTP or gRPC.

    ask("127.0.0.1:8000", ["How long do I have to return a thermostat?"])

Returns dicts shaped like `RagService.ask(...)[i].to_dict()`, so callers and tests compare the
served answers with the in-process ones directly. The request goes over serving/transport.py's
`Connection`, as every other client's: a server that does not answer is retried with backoff, then
reported as `ServerUnavailableError` naming the URL; a refusal is mapped to the serving errors.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..serving.transport import Connection
from .serving import CHUNK_IDS, INPUT, MAX_BATCH_SIZE, MODEL_NAME, OUTPUTS, SCORES, decode_texts, encode_texts

ANSWER = "answer"


def ask(
    url: str,
    questions: list[str],
    protocol: str = "http",
    model_name: str = MODEL_NAME,
    *,
    timeout_seconds: float = 60.0,
    retries: int = 2,
) -> list[dict[str, Any]]:
    """The answers to `questions`, sent as one request (at most the model's max batch size)."""
    if not 1 <= len(questions) <= MAX_BATCH_SIZE:
        raise ValueError(f"send 1 to {MAX_BATCH_SIZE} questions a request; got {len(questions)}")
    wire = Connection(url, protocol, model_name, timeout_seconds=timeout_seconds, retries=retries, backoff_seconds=0.2)
    module = wire.module
    data = encode_texts(questions)
    tensor = module.InferInput(INPUT, list(data.shape), "UINT8")
    tensor.set_data_from_numpy(data)
    outputs = [module.InferRequestedOutput(name) for name in OUTPUTS]
    try:
        result = wire.call("rag question", lambda client: client.infer(model_name, [tensor], outputs=outputs))
    finally:
        wire.close()
    answers = decode_texts(result.as_numpy(ANSWER))
    citations = decode_texts(result.as_numpy("citations"))
    answered_by, fallback = decode_texts(result.as_numpy("answered_by")), decode_texts(result.as_numpy("fallback"))
    chunk_ids = result.as_numpy(CHUNK_IDS)
    scores = np.asarray(result.as_numpy(SCORES), dtype=np.float32)
    found = []
    for row, question in enumerate(questions):
        ids = [chunk_id for chunk_id in decode_texts(chunk_ids[row]) if chunk_id]  # "" pads to top_k
        found.append(
            {
                "question": question,
                "answer": answers[row],
                "chunk_ids": ids,
                "scores": [float(score) for score in scores[row][: len(ids)]],
                "citations": json.loads(citations[row]),
                "answered_by": answered_by[row],
                "fallback": fallback[row],
            }
        )
    return found
