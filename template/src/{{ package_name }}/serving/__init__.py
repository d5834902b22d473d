"""Serving layer: the champion model behind a real Triton Inference Server.

- `server`: start/stop the local Triton server bundled in the nvidia-pytriton wheel.
- `transport`: tritonclient connections over HTTP or gRPC, and the error mapping every client shares.
- `artifacts`: the model file's name, the python-backend model and the sha256 that manifests record.
- `repository` and `client` (where the served model takes feature rows): the Triton model repository
  (config.pbtxt + model) from `models:/<name>@champion`, and `TritonClient`'s typed `predict()` with
  timeouts, retries and clear errors. A PyTorch vision project builds and calls its ensemble with
  `vision/repository.py` and `vision/client.py` instead.
- `batch`: the batch/async pattern (Redis queue -> Triton in batches -> Redis result store).
- `edge`: the edge pattern (onnxruntime runner with the same `predict()` contract, sync to cloud).
- `load_test`: the request and the pass line of `make load-test` (Locust, loadtest/locustfile.py).

Settings come from platform.yaml (`serving:` and `decisions.batching/gpu/precision/serving_pattern`).
"""

from .errors import BadInputError, ModelNotReadyError, ServerUnavailableError, ServingError

__all__ = ["BadInputError", "ModelNotReadyError", "ServerUnavailableError", "ServingError"]
