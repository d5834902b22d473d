"""Vision serving bench: a rendered vision project's Triton ensemble against onnxruntime in process
and `mlflow models serve`, on the same images, in one run.

    uv run python ci/benches/vision_serving.py --project build/stack/image_gcp_batch \
        [--onnx PATH | --untrained] [--images 64] [--requests 256] [--concurrency 1 8 32] [--no-mlflow]

Rows (the same synthetic images, encoded JPEG bytes in every row):
  triton c=N         the ensemble (decode, resize, model step with dynamic batching, the task's postprocess:
                     NMS, top class or mask) on a fresh local Triton over a temporary repository built from
                     the ONNX with platform.yaml's batching; N clients each send one image per request;
                     latency is per request
  onnxruntime b=32   the project's OnnxPredictor in this process on batches of 32 (the same pre/postprocess);
                     latency is per batch of 32: the floor without a server, no concurrency, no network
  mlflow c=N         `mlflow models serve` of the registered champion's pyfunc, when the registry has one
The ONNX model is --onnx, else the champion's model step in the project's local repository (`make
build-serving`); --untrained exports the task's network with fresh weights instead (the same graph and
contract, so the same serving cost; what the generator's tier 3 measures without training). The
defaults are in benches.yaml.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject


def percentiles(latencies: Sequence[float]) -> tuple[float, float]:
    import numpy as np

    p50, p95 = np.percentile(np.asarray(latencies) * 1000.0, [50, 95])
    return float(p50), float(p95)


def synthetic_images(project: Path, count: int, settings: Any, folder: Path) -> list[bytes]:
    """Clean synthetic images of the project's task (the data layer's generator: shapes on noise, varied
    sizes), as JPEG bytes."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    interval = folder / "images"
    inproject.module(project, "vision.synthetic").generate_interval(
        interval,
        start,
        start + timedelta(days=1),
        count=count,
        classes=settings.classes,
        task=settings.task,
        seed=settings.seed,
    )
    return [path.read_bytes() for path in sorted((interval / "images").glob("*.jpg"))]


def closed_loop(
    send: Callable[[bytes], Any], images: list[bytes], requests: int, concurrency: int, warm: int = 0
) -> dict[str, Any]:
    """`requests` requests from `concurrency` clients, each sending its next image when the last returned,
    after `warm` untimed ones (default two per client)."""
    work = [images[i % len(images)] for i in range(requests)]

    def timed(image: bytes) -> float:
        began = time.perf_counter()
        send(image)
        return time.perf_counter() - began

    warming = [images[i % len(images)] for i in range(warm or 2 * concurrency)]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(send, warming))  # connections, python stubs, onnxruntime arenas
        began = time.perf_counter()
        latencies = list(pool.map(timed, work))
        seconds = time.perf_counter() - began
    p50, p95 = percentiles(latencies)
    return {"images_per_s": requests / seconds, "p50_ms": p50, "p95_ms": p95}


def triton_rows(
    project: Path, onnx: Path, settings: Any, images: list[bytes], args: argparse.Namespace, scratch: Path
) -> list[Any]:
    serving = inproject.module(project, "serving.settings").ServingSettings.from_platform()
    triton = inproject.module(project, "vision.triton")
    batching = triton.Batching.from_serving(serving, "local")
    if args.queue_delay_us is not None:  # try another batching window than platform.yaml's
        batching = dataclasses.replace(batching, max_queue_delay_microseconds=args.queue_delay_us)
    repository = triton.build_repository(
        onnx, settings, scratch / "repository", name=serving.model_name, batching=batching
    )
    server = inproject.module(project, "serving.server").LocalTriton(
        repository, state_dir=scratch / "triton", startup_timeout=serving.startup_timeout_seconds
    )
    print(
        f"triton: {serving.model_name} ensemble, model step max_batch_size {batching.max_batch_size}, queue delay "
        f"{batching.max_queue_delay_microseconds} us, {batching.model_instances} model / "
        f"{batching.python_instances} pre+post instance(s), {args.protocol}",
        flush=True,
    )
    rows = []
    with server:
        url = server.grpc_url if args.protocol == "grpc" else server.http_url
        client = inproject.module(project, "vision.client").VisionClient(
            url, args.protocol, serving.model_name, retries=0, settings=settings
        )
        client.wait_until_ready()
        closed_loop(client.infer, images, len(images), 1)  # first requests: Pillow plugins, onnxruntime arenas
        before = server.metrics()
        for concurrency in args.concurrency:
            result = closed_loop(client.infer, images, max(args.requests, 4 * concurrency), concurrency)
            rows.append(("triton ensemble", f"c={concurrency}", result, "per request"))
            print(f"  c={concurrency}: {result['images_per_s']:.1f} images/s", flush=True)
        metrics = server.metrics()

    def total(text: str, metric: str, model: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(metric + "{") and f'model="{model}"' in line
        )

    for step, model in triton.step_names(serving.model_name).items():
        count, executions, compute_us = (
            total(metrics, metric, model) - total(before, metric, model)
            for metric in ("nv_inference_count", "nv_inference_exec_count", "nv_inference_compute_infer_duration_us")
        )
        if executions:  # each request carries its execution's time: the mean is per execution, not per image
            print(
                f"  {step}: {count:.0f} images in {executions:.0f} executions (mean batch {count / executions:.1f}), "
                f"{compute_us / count / 1000:.1f} ms mean execution time"
            )
    return rows


def in_process_row(project: Path, onnx: Path, settings: Any, images: list[bytes], requests: int) -> Any:
    predictor = inproject.module(project, "vision.inference").OnnxPredictor(onnx, settings)
    batch = 32
    chunks = [[images[(start + i) % len(images)] for i in range(batch)] for start in range(0, requests, batch)]
    predictor.predict(chunks[0])  # warm
    latencies = []
    began = time.perf_counter()
    for chunk in chunks:
        started = time.perf_counter()
        predictor.predict(chunk)
        latencies.append(time.perf_counter() - started)
    seconds = time.perf_counter() - began
    p50, p95 = percentiles(latencies)
    result = {"images_per_s": len(chunks) * batch / seconds, "p50_ms": p50, "p95_ms": p95}
    return ("onnxruntime in process", f"b={batch}", result, "per batch of 32")


def registered_champion(project: Path) -> tuple[str, str] | tuple[None, str]:
    """(models:/<name>@<alias>, tracking URI) of the registered champion, or (None, why not)."""
    try:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        training = inproject.module(project, "training.settings").load_settings()
        uri = training.tracking_uri()  # $MLFLOW_TRACKING_URI first, as the project reads it
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
            return None, f"no MLflow registry at {uri} yet (run `make train`)"  # do not create one by asking
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        try:
            client.get_model_version_by_alias(training.registered_model_name, training.champion_alias)
        except MlflowException as error:
            return None, f"no champion: {str(error).splitlines()[0]} (run `make train`)"
        return f"models:/{training.registered_model_name}@{training.champion_alias}", uri
    except Exception as error:  # a registry that cannot be read is a skipped row, not a failed benchmark
        return None, f"registry not readable: {type(error).__name__}: {error}"


def pyfunc_request(model_uri: str) -> Callable[[bytes], bytes]:
    """The JSON body for one image, from the pyfunc's input signature: one binary/string column gets the
    image (base64, which MLflow's scoring server decodes for a binary column)."""
    import mlflow

    signature = mlflow.models.get_model_info(model_uri).signature
    if signature is None or signature.inputs is None:
        raise ValueError(f"{model_uri} has no input signature: cannot tell how it takes an image")
    columns = signature.inputs.inputs
    kind = str(columns[0].type).lower().removeprefix("datatype.") if len(columns) == 1 else ""
    if kind not in ("binary", "string"):
        raise ValueError(f"{model_uri} takes {signature.inputs}; expected one binary or string column")
    name = columns[0].name or "image"

    def body(image: bytes) -> bytes:
        encoded = base64.b64encode(image).decode("ascii")
        return json.dumps({"dataframe_split": {"columns": [name], "data": [[encoded]]}}).encode("utf-8")

    return body


def mlflow_rows(
    project: Path, model_uri: str, tracking_uri: str, images: list[bytes], args: argparse.Namespace, scratch: Path
) -> list[Any]:
    server = inproject.module(project, "serving.server")
    port = server.free_port()
    body = pyfunc_request(model_uri)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    # `mlflow models serve` execs `uvicorn`: the one of this environment's bin/
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    workers = args.mlflow_workers
    serve = ["models", "serve", "-m", model_uri, "--env-manager", "local", "-p", str(port), "-w", str(workers)]
    command = [sys.executable, "-m", "mlflow", *serve]  # this environment's mlflow, whatever PATH holds
    log = (scratch / "mlflow-serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/invocations"
    try:
        deadline = time.monotonic() + 120
        while server.http_get(f"http://127.0.0.1:{port}/ping")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow models serve did not start; see {scratch / 'mlflow-serve.log'}")
            time.sleep(0.5)

        def send(image: bytes) -> bytes:
            request = urllib.request.Request(url, data=body(image), headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                return bytes(response.read())

        rows = []
        for concurrency in args.concurrency:
            # every worker loads the model and imports torch on its first requests: warm them all
            warm = max(2 * concurrency, 8 * workers)
            result = closed_loop(send, images, max(args.requests // 2, 2 * concurrency), concurrency, warm)
            rows.append((f"mlflow models serve -w {workers}", f"c={concurrency}", result, "per request"))
        return rows
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and its uvicorn workers
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def untrained_onnx(project: Path, settings: Any, folder: Path) -> Path:
    """The task's network with fresh weights, exported as the training step exports the champion's."""
    network = inproject.module(project, "vision.model").build_model(settings, load_weights=False).eval()
    path = folder / "untrained" / "model.onnx"
    inproject.module(project, "vision.export").export_onnx(network, settings, path, check_batches=(1,))
    return path


def run(args: argparse.Namespace) -> int:
    project: Path = args.project
    defaults = inproject.defaults("vision_serving")
    for name in ("images", "requests", "concurrency", "mlflow_workers"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    # the project's registry, for the champion lookup and `mlflow models serve` (MLflow's own default
    # would create mlflow.db in the project's folder)
    os.environ.setdefault("MLFLOW_TRACKING_URI", inproject.module(project, "config").mlflow_tracking_uri())
    settings = inproject.module(project, "vision.settings").VisionSettings.from_platform()
    rows: list[Any] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-vision-serving-") as name:
        scratch = Path(name)
        onnx = args.onnx or (
            untrained_onnx(project, settings, scratch)
            if args.untrained
            else inproject.module(project, "vision.triton").champion_onnx()
        )
        images = synthetic_images(project, args.images, settings, scratch)
        sizes = sorted({len(image) for image in images})
        weights = "fresh weights" if args.untrained else "trained"
        print(
            f"{settings.task} model {onnx} ({weights}); {len(images)} synthetic JPEG images "
            f"({sizes[0]}..{sizes[-1]} bytes), image_size {settings.image_size}; {os.cpu_count()} CPU(s)",
            flush=True,
        )
        rows += triton_rows(project, onnx, settings, images, args, scratch)
        rows.append(in_process_row(project, onnx, settings, images, args.requests))
        if args.no_mlflow:
            notes.append("mlflow models serve: skipped (--no-mlflow)")
        elif args.untrained:
            notes.append("mlflow models serve: skipped (--untrained: it would serve the champion, not these weights)")
        else:
            model_uri, where = registered_champion(project)
            if model_uri is None:
                notes.append(f"mlflow models serve: skipped, {where}")
            else:
                try:
                    rows += mlflow_rows(project, model_uri, where, images, args, scratch)
                except Exception as error:  # the other rows stand; say why this one is missing
                    notes.append(f"mlflow models serve of {model_uri}: skipped, {type(error).__name__}: {error}")
    table = [[path, load, r["images_per_s"], r["p50_ms"], r["p95_ms"], latency] for path, load, r, latency in rows]
    print()
    print(inproject.table(table, ["path", "load", "images/s", "p50 ms", "p95 ms", "latency"], ".1f"))
    for note in notes:
        print(f"\n{note}")
    return 0


def arguments(parser: argparse.ArgumentParser) -> None:
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--onnx", type=Path, default=None, help="the model step (default: the champion's)")
    weights.add_argument("--untrained", action="store_true", help="export the task's network with fresh weights")
    parser.add_argument("--images", type=int, default=None, help="synthetic images generated for the run")
    parser.add_argument("--requests", type=int, default=None, help="timed requests per Triton row")
    parser.add_argument("--concurrency", type=int, nargs="*", default=None, help="client counts")
    parser.add_argument("--mlflow-workers", type=int, default=None, help="`mlflow models serve -w`")
    parser.add_argument("--protocol", choices=["http", "grpc"], default="grpc")
    parser.add_argument(
        "--queue-delay-us", type=int, default=None, help="model step's batching window (default: platform.yaml)"
    )
    parser.add_argument("--no-mlflow", action="store_true", help="skip the `mlflow models serve` rows")


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, arguments))
