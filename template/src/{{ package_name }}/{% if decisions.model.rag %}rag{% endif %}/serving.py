"""The RAG service as a Triton model: `stage_model` writes it into a model repository.

    stage_model(repository, current_index(index_root), "my_package", top_k=5)

The model (triton_model.py, copied to `<repository>/rag/1/model.py`) imports this project's package
and opens the published index folder named in its config, so the Triton that serves it must run
where the project is installed with its `rag` group (the local profile's environment; the cloud
image installs the project the same way).

Text travels as UTF-8 bytes in UINT8 tensors, not Triton's BYTES (TYPE_STRING): the python-backend
stub bundled with the local Triton (nvidia-pytriton) was built against NumPy 1, and under NumPy 2 it
corrupts BYTES tensors both ways (inputs arrive as their first byte repeated, outputs empty), while
UINT8 goes through DLPack. The same layout as the task heads' text tensors (tasks/heads encode_text).
Shapes per batch row: question [-1] bytes in; answer [-1] bytes, chunk_ids [top_k, -1] bytes (a
row of zeros when fewer chunks were found), scores [top_k] FP32 (0.0 when padded), citations [-1]
bytes (a JSON list, as in Result.to_dict), answered_by [-1] bytes ("generator" | "extractive") and
fallback [-1] bytes (why a generated answer was not served; empty otherwise) out.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb  # type: ignore[import-untyped]

from ..config import Platform, platform

MODEL_NAME = "rag"
MAX_BATCH_SIZE = 8
MAX_QUEUE_DELAY_MICROSECONDS = 2000  # small: one ask() call per batch, a question takes milliseconds
INPUT = "question"
CHUNK_IDS, SCORES = "chunk_ids", "scores"
OUTPUTS = ("answer", CHUNK_IDS, SCORES, "citations", "answered_by", "fallback")  # one response's tensors


class StagingError(RuntimeError):
    """The index cannot be served; the message says what to run."""


def encode_texts(texts: Sequence[str]) -> npt.NDArray[np.uint8]:
    """Texts as one UINT8 tensor [n, width]: UTF-8 bytes, zero-padded to the longest (width >= 1)."""
    data = [text.encode("utf-8") for text in texts]
    array = np.zeros((len(data), max([1, *(len(item) for item in data)])), dtype=np.uint8)
    for row, item in enumerate(data):
        array[row, : len(item)] = np.frombuffer(item, dtype=np.uint8)
    return array


def decode_texts(array: npt.NDArray[Any]) -> list[str]:
    """The texts of a UINT8 tensor [..., width] (trailing zeros are padding), flattened in C order."""
    rows = np.asarray(array, dtype=np.uint8)
    rows = rows.reshape(-1, rows.shape[-1]) if rows.ndim else rows.reshape(1, 1)
    return [bytes(row).rstrip(b"\0").decode("utf-8", errors="replace") for row in rows]


def model_config(
    index_folder: Path, package: str, top_k: int, model_name: str = MODEL_NAME, query_log: Path | None = None
) -> pb.ModelConfig:
    """config.pbtxt's message: a batched python model on one CPU instance (it holds the index's lock)."""
    config = pb.ModelConfig(name=model_name, backend="python", max_batch_size=MAX_BATCH_SIZE)
    config.input.add(name=INPUT, data_type=pb.TYPE_UINT8, dims=[-1])
    config.output.add(name="answer", data_type=pb.TYPE_UINT8, dims=[-1])
    config.output.add(name=CHUNK_IDS, data_type=pb.TYPE_UINT8, dims=[top_k, -1])
    config.output.add(name=SCORES, data_type=pb.TYPE_FP32, dims=[top_k])
    config.output.add(name="citations", data_type=pb.TYPE_UINT8, dims=[-1])
    config.output.add(name="answered_by", data_type=pb.TYPE_UINT8, dims=[-1])
    config.output.add(name="fallback", data_type=pb.TYPE_UINT8, dims=[-1])
    config.dynamic_batching.max_queue_delay_microseconds = MAX_QUEUE_DELAY_MICROSECONDS
    # one instance: Qdrant local mode lets one process open the index folder
    config.instance_group.add(count=1, kind=pb.ModelInstanceGroup.KIND_CPU)
    parameters = {"package": package, "index_folder": str(index_folder), "top_k": str(top_k)}
    if query_log is not None:  # the served questions' monitoring rows (monitoring.QueryLog)
        parameters["query_log"] = str(query_log)
    for key, value in sorted(parameters.items()):
        config.parameters[key].string_value = value
    return config


def stage_model(
    repository: Path,
    index_folder: Path,
    package: str,
    top_k: int,
    model_name: str = MODEL_NAME,
    query_log: Path | None = None,
) -> Path:
    """Write `<repository>/<model_name>/` (config.pbtxt, 1/model.py) serving `index_folder`; the model folder."""
    index_folder = index_folder.resolve()
    if not (index_folder / "manifest.json").is_file():
        raise StagingError(
            f"{index_folder} has no manifest.json: it is not a published index; run the ingestion "
            "(make rag-ingest) and stage store.current_index(...)"
        )
    if top_k < 1:
        raise StagingError(f"top_k is {top_k}; it must be at least 1")
    folder = repository / model_name
    (folder / "1").mkdir(parents=True, exist_ok=True)
    config = model_config(index_folder, package, top_k, model_name, query_log.resolve() if query_log else None)
    (folder / "config.pbtxt").write_text(str(text_format.MessageToString(config)), encoding="utf-8")
    shutil.copyfile(Path(__file__).with_name("triton_model.py"), folder / "1" / "model.py")
    return folder


def stage_project_model(repository: Path, platform_: Platform | None = None) -> Path | None:
    """Stage this project's published index into `repository` (`make build-serving` does it after the
    champion's models); None when nothing was ingested yet."""
    from .ingest import index_root, query_log_root
    from .settings import load
    from .store import StoreError, current_index

    current = platform_ or platform()
    rag = load(current)
    try:
        folder = current_index(index_root(rag, current))
    except StoreError:
        return None
    package = str(current.project["package"])
    return stage_model(repository, folder, package, rag.top_k, query_log=query_log_root(rag, current))
