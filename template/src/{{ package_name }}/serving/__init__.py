"""Serving layer: the champion model behind a real Triton Inference Server.

- `repository`: build the Triton model repository (config.pbtxt + model) from `models:/<name>@champion`.
- `server`: start/stop the local Triton server bundled in the nvidia-pytriton wheel.
- `client`: typed `predict()` over tritonclient HTTP or gRPC with timeouts, retries and clear errors.
- `batch`: the batch/async pattern (Redis queue -> Triton in batches -> Redis result store).
- `edge`: the edge pattern (onnxruntime runner with the same `predict()` contract, sync to cloud).
- `load_test`: the request and the pass line of `make load-test` (Locust, loadtest/locustfile.py).

Settings come from platform.yaml (`serving:` and `decisions.batching/gpu/precision/serving_pattern`).
"""

from .errors import BadInputError, ModelNotReadyError, ServerUnavailableError, ServingError

__all__ = ["BadInputError", "ModelNotReadyError", "ServerUnavailableError", "ServingError"]
