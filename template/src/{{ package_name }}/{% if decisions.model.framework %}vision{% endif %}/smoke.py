"""The `make smoke` stages of the vision model (the other stages are the platform's own, smoke/stages.py).

predict: encoded images of the newest data interval through the Triton ensemble, over HTTP and
gRPC, `CONCURRENCY` requests at a time; the predictions must equal the champion's served ONNX run
in process (same pre- and post-processing, the task module's `same`), and every served image is
logged with its statistics for the drift job. stream (detection projects, which hold the stream
pipeline): the sample video through decode -> sampling -> Triton -> ByteTrack -> the event sink.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..config import platform
from ..smoke.runner import CONCURRENCY, PREDICT_PROBE, SERVED_PREDICTIONS, SmokeContext, Stage

# Each image is sent over HTTP and over gRPC and logged both times: 2 x 256 rows fill the drift
# job's smallest window (monitoring.drift.min_window_rows, 500).
PREDICT_IMAGES = int(os.environ.get("SMOKE_PREDICT_IMAGES", "256"))


class StageError(RuntimeError):
    """A vision stage failed; the message says what and where to look."""


def newest_images(images_dir: Path, limit: int, classes: Sequence[str]) -> tuple[list[bytes], list[Any]]:
    """Encoded images of the newest interval that passed validation (its rewritten manifest), and their
    ground truth (Annotations, class indices following `classes`)."""
    from .manifests import interval_dirs, iter_samples

    intervals = interval_dirs(images_dir) if images_dir.is_dir() else []
    if not intervals:
        raise StageError(f"no image interval under {images_dir}: the ETL stage writes them")
    samples = list(iter_samples([intervals[-1]], classes))[:limit]
    return [Path(path).read_bytes() for _, path, _ in samples], [annotation for _, _, annotation in samples]


def stages(base: dict[str, Stage]) -> dict[str, tuple[Stage, ...]]:
    """This project's predict stage right after serve (and the stream after it, when the project holds
    the stream pipeline)."""
    predict_stages = [Stage("predict", "encoded images through the Triton ensemble, checked in process", predict)]
    if importlib.util.find_spec(f"{__package__}.smoke_stream") is not None:  # detection projects only
        stream = importlib.import_module(f"{__package__}.smoke_stream").stream
        predict_stages.append(Stage("stream", "video -> sampling -> Triton -> ByteTrack -> events", stream))
    return {"serve": (base["serve"], *predict_stages)}


def predict(ctx: SmokeContext) -> str:
    """Images through the ensemble over HTTP and gRPC, checked against the champion in process."""
    from ..monitoring.inference_log import InferenceLogger
    from ..serving.settings import ServingSettings
    from .client import VisionClient
    from .inference import OnnxPredictor
    from .monitoring import monitoring_frame
    from .settings import VisionSettings
    from .task import task_module

    settings = VisionSettings.from_platform()
    task = task_module(settings)
    serving = ServingSettings.from_platform()
    champion = ctx.values["champion"]
    if champion.onnx_path is None:
        raise StageError(f"champion {champion.name} v{champion.version} has no ONNX export to compare against")
    images, annotations = newest_images(settings.images_dir, PREDICT_IMAGES, settings.classes)
    expected = OnnxPredictor(champion.onnx_path, settings).predict(images)
    ports = ctx.values["triton"]["ports"]
    logger = InferenceLogger()
    latencies: list[float] = []
    served_rows = 0
    for protocol in ("http", "grpc"):
        client = VisionClient(f"{serving.host}:{ports[protocol]}", protocol, serving.model_name, retries=1)

        def one(image: bytes, client: VisionClient = client) -> Any:
            started = time.perf_counter()
            found = client.infer(image)
            latencies.append((time.perf_counter() - started) * 1000.0)
            return found

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            served = list(pool.map(one, images))
        client.close()
        differing = [i for i, (a, b) in enumerate(zip(served, expected, strict=True)) if not task.same(a, b)]
        if differing:
            first = differing[0]
            raise StageError(
                f"{protocol}: {len(differing)} of {len(images)} images differ from the champion in process "
                f"(first: image {first}, served {served[first].to_dict()} vs {expected[first].to_dict()})"
            )
        frame = monitoring_frame(images, served, settings)
        latency = float(np.mean(latencies))
        logger.log(frame, np.zeros((len(frame), 0)), champion.version, latency, model=serving.model_name)
        served_rows += len(frame)
    logger.flush()
    logger.close()
    p95 = float(np.percentile(latencies, 95))
    target = float(platform().answers["latency_p95_ms"])
    ctx.values["p95_ms"] = p95
    ctx.values["served_rows"] = served_rows
    # the batch pattern's stage sends the images again as jobs (smoke/batch.py), the edge pattern's runs them
    # on the device (smoke/edge.py): gRPC's answers to compare
    ctx.values[PREDICT_PROBE] = (images, [prediction.to_dict(settings.classes) for prediction in served])
    ctx.values[SERVED_PREDICTIONS] = (served, annotations)  # the edge stage scores the device's against them
    verdict = "within" if p95 <= target else "OVER"
    return (
        f"{len(images)} images x http+grpc, equal to the champion in process; "
        f"p95 {p95:.1f} ms ({verdict} the {target:g} ms target)"
    )
