"""Serving bench: a rendered project's champion behind (a) its local Triton stack, (b) `mlflow models
serve`, and (c) in-process `predict()` on batches of 32 rows, in one process and one run.

    uv run python ci/benches/serving.py --project build/stack/tabular_aws_realtime [--duration 2]

The project must be set up (`make setup`) and hold a champion (`make etl train`), or pass
--model-uri. Load comes from `wrk` (C, event loop: not the bottleneck) posting the same rows to
both servers, each in its own JSON format (Triton's KServe v2 body, MLflow's `dataframe_split`).
For each concurrency in benches.yaml it reports requests/s, rows/s and p50/p95/p99 latency; then
the ratios a/b and a/c at the highest concurrency, against the targets (a/b >= 10 with p95 inside
the project's latency target, a/c >= 0.3). Before timing, both servers' answers are checked
against the in-process scores. A no-op twin of the champion's Triton model (triton_noop_model.py
beside this file: same config, no inference) gives the ceiling a0 of Triton's own overhead.

A shared machine's speed drifts by half over tens of seconds, so a and c measured a minute apart
can differ by that much for no reason of their own. The a/c verdict is therefore the median of
`paired_rounds` back-to-back pairs (a at the top concurrency, then c while Triton idles), each pair
within a few seconds; the table's c row also runs right after a.

a0/c is the most any model can reach on this machine through Triton's HTTP front end and python
backend, and a/a0 is the share the champion's own work leaves of it. On a 2-core machine a
single-row request costs Triton about 120-190 us of CPU (about 60% HTTP, batching and the backend's
shared-memory hand-off, 40% the python stub), so a0/c is 0.3-0.45. On the GPU node pool the
onnxruntime backend has no python stub. (A project's own load test is `make load-test`: Locust at
its peak rate against its p95 target.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject

NOOP_MODEL = inproject.HERE / "triton_noop_model.py"
NOOP_TARGET = "a0: triton, no-op model"
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("BENCH_BODY"), "rb"):read()
function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "p50": %d, "p95": %d, "p99": %d}',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
  out:close()
end
"""
HEADERS = ["target", "conc", "rows/req", "req/s", "rows/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
FLOATS = ["", "", "", ".0f", ".0f", ".2f", ".2f", ".2f", ""]


@dataclass(frozen=True)
class Result:
    target: str
    concurrency: int
    rows_per_request: int
    requests_per_s: float
    rows_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int


def table(results: list[Result]) -> str:
    return inproject.table([list(astuple(r)) for r in results], HEADERS, FLOATS)


def record(results: list[Result], result: Result) -> None:
    """Keep a result and print it at once (a full run takes minutes); the table comes at the end."""
    results.append(result)
    print(
        f"  {result.target}: concurrency {result.concurrency}, {result.requests_per_s:.0f} req/s, "
        f"{result.rows_per_s:.0f} rows/s, p95 {result.p95_ms:.2f} ms, errors {result.errors}",
        flush=True,
    )


def run_wrk(url: str, body: bytes, concurrency: int, duration: float, rows: int, target: str, scratch: Path) -> Result:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise inproject.BenchError("wrk is not installed (apt-get install wrk / brew install wrk)")
    script, body_file, out = scratch / "post.lua", scratch / "body.json", scratch / "wrk.json"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    body_file.write_bytes(body)
    out.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_OUT": str(out)}
    threads = max(1, min(concurrency, 2))
    command = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "10s"]
    completed = subprocess.run(
        [*command, "-s", str(script), url], capture_output=True, text=True, env=env, timeout=duration + 60
    )
    if completed.returncode != 0 or not out.is_file():
        raise inproject.BenchError(f"wrk failed on {url}: {completed.stdout[-500:]} {completed.stderr[-500:]}")
    stats = json.loads(out.read_text(encoding="utf-8"))
    seconds = stats["duration_us"] / 1e6
    ok = stats["requests"] - stats["errors"]
    return Result(
        target=target,
        concurrency=concurrency,
        rows_per_request=rows,
        requests_per_s=ok / seconds,
        rows_per_s=ok * rows / seconds,
        p50_ms=stats["p50"] / 1000,
        p95_ms=stats["p95"] / 1000,
        p99_ms=stats["p99"] / 1000,
        errors=int(stats["errors"]),
    )


def in_process(predict: Any, frame: Any, duration: float, target: str) -> Result:
    """Call `predict(frame)` back to back (one caller) for `duration` seconds."""
    for _ in range(5):
        predict(frame)
    latencies: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < duration:
        begin = time.perf_counter()
        predict(frame)
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    rate = len(latencies) / elapsed
    return Result(target, 1, len(frame), rate, rate * len(frame), pct(0.5), pct(0.95), pct(0.99), 0)


def add_noop_model(project: Path, repository: Path, model_name: str) -> str:
    """Serve a no-op twin of the champion's Triton model (same config, no inference) beside it."""
    python_model = Path(inproject.module(project, "serving.artifacts").PYTHON_MODEL)
    name = f"{model_name}_noop"
    config = (repository / model_name / "config.pbtxt").read_text(encoding="utf-8")
    version_dir = repository / name / "1"
    version_dir.mkdir(parents=True)
    (repository / name / "config.pbtxt").write_text(
        config.replace(f'name: "{model_name}"', f'name: "{name}"', 1), encoding="utf-8"
    )
    shutil.copyfile(NOOP_MODEL, version_dir / "model.py")
    shutil.copyfile(python_model, version_dir / python_model.name)
    return name


def in_process_limits(project: Path, model: Any, batch: Any, uri: str, seconds: float) -> list[Result]:
    """c: the champion's own `predict()`; c': its ONNX export in onnxruntime (informative only)."""
    import numpy as np

    results = [in_process(model.predict, batch, seconds, "c: in-process predict()")]
    try:
        import onnxruntime as ort

        resolve_model = inproject.module(project, "serving.champion").resolve_model
        with tempfile.TemporaryDirectory() as onnx_dir:
            onnx = resolve_model(uri, Path(onnx_dir)).onnx_path
            session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
            array = batch.to_numpy(dtype=np.float32)

            def onnx_predict(_: Any) -> Any:
                return session.run(None, {"features": array})

            results.append(in_process(onnx_predict, batch, seconds, "c': onnxruntime in-process"))
    except Exception as error:  # informative only
        print(f"(onnxruntime in-process skipped: {error})")
    return results


def start_mlflow(project: Path, model_uri: str, workers: int, scratch: Path, timeout: float = 240.0) -> Any:
    server = inproject.module(project, "serving.server")
    port = server.free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    mlflow = shutil.which("mlflow", path=env["PATH"])
    if mlflow is None:
        raise inproject.BenchError("the mlflow CLI is not in the project's environment (make setup)")
    log = (scratch / "mlflow-serve.log").open("wb")
    command = [mlflow, "models", "serve", "-m", model_uri, "--env-manager", "local"]
    command += ["-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (scratch / "mlflow-serve.log").read_text()[-2000:]
            raise inproject.BenchError(f"mlflow models serve exited: {tail}")
        if server.http_get(f"http://127.0.0.1:{port}/ping", timeout=1.0)[0] == 200:
            return process, port
        time.sleep(0.5)
    stop_process(process)
    raise inproject.BenchError(f"mlflow models serve not ready after {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def post_json(url: str, body: bytes) -> Any:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def scores(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        value = value.get("predictions", value)
    array = np.asarray(value, dtype=np.float64)
    return array.reshape(array.shape[0], -1)


def bodies(features: Any, frame: Any, rows: int) -> tuple[bytes, bytes]:
    """The same rows as Triton's KServe v2 JSON body and as MLflow's `dataframe_split` body."""
    request_rows = features[:rows]
    tensor = {"name": "features", "shape": list(request_rows.shape), "datatype": "FP32"}
    triton = json.dumps({"inputs": [{**tensor, "data": request_rows.ravel().tolist()}]}).encode()
    mlflow = json.dumps({"dataframe_split": frame.iloc[:rows].to_dict(orient="split", index=False)}).encode()
    return triton, mlflow


def verdicts(
    results: list[Result],
    pairs: list[tuple[float, float]],
    levels: list[int],
    p95_target: float,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Print the ratios at the top concurrency against the targets; return them."""
    targets = options["targets"]
    speedup, share = float(targets["speedup_vs_mlflow"]), float(targets["share_of_in_process"])
    top = max(levels)
    a = next(r for r in results if r.target.startswith("a:") and r.concurrency == top)
    b = next(r for r in results if r.target.startswith("b:") and r.concurrency == top)
    c = next(r for r in results if r.target.startswith("c:"))
    a_b, a_c = a.rows_per_s / max(b.rows_per_s, 1e-9), a.rows_per_s / max(c.rows_per_s, 1e-9)
    verdict = {True: "PASS", False: "FAIL"}
    print(f"\nat concurrency {top}:")
    print(f"  a/b = {a_b:.1f}x throughput (target >= {speedup:.0f}x): {verdict[a_b >= speedup]}")
    print(f"  Triton p95 {a.p95_ms:.1f} ms (target {p95_target:.0f} ms): {verdict[a.p95_ms <= p95_target]}")
    ratios = [pair_a / max(pair_c, 1e-9) for pair_a, pair_c in pairs]
    paired = statistics.median(ratios)
    batch = int(options["in_process_batch"])
    kept = verdict[paired >= share]
    print(f"  a/c = {paired:.2f} of in-process predict() on batches of {batch} (target >= {share}): {kept}")
    listed = ", ".join(f"{x:.0f}/{y:.0f} = {ratio:.2f}" for (x, y), ratio in zip(pairs, ratios, strict=True))
    print(f"    median of {len(pairs)} back-to-back pairs of rows/s, a/c: {listed}; the table's rows give {a_c:.2f}")
    noop = next(r for r in results if r.target == NOOP_TARGET)
    ceiling = noop.rows_per_s / max(c.rows_per_s, 1e-9)
    print(
        f"  ceiling: Triton serving a model that does nothing reaches a0/c = {ceiling:.2f} on this machine "
        f"({noop.requests_per_s:.0f} req/s); the champion runs at a/a0 = {a.rows_per_s / noop.rows_per_s:.2f} of it"
    )
    print(f"  p50: Triton {a.p50_ms:.1f} ms, mlflow {b.p50_ms:.1f} ms, in-process call {c.p50_ms:.2f} ms")
    return {
        "a_over_b": a_b,
        "a_over_c": paired,
        "a_c_pairs_rows_per_s": pairs,
        "a_over_c_table": a_c,
        "a0_over_c": ceiling,
    }


def run(args: argparse.Namespace) -> int:
    import mlflow
    import numpy as np
    import pandas as pd

    project: Path = args.project
    options = inproject.defaults("serving")
    seconds = float(args.duration or options["duration_seconds"])
    levels = [int(c) for c in (args.concurrency or options["concurrency"])]
    rows = int(args.rows_per_request or options["rows_per_request"])
    workers, rounds = int(options["mlflow_workers"]), max(1, int(args.paired_rounds or options["paired_rounds"]))
    in_process_batch = int(options["in_process_batch"])
    settings = inproject.module(project, "serving.settings").ServingSettings.from_platform()
    uri = args.model_uri or settings.model_uri
    os.environ.setdefault("MLFLOW_TRACKING_URI", inproject.module(project, "config").mlflow_tracking_uri())
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    contract = settings.contract
    # rows shaped like the contract's features (standard normal, as the project's tests send)
    features = np.random.default_rng(11).normal(size=(max(rows, in_process_batch), contract.n_features))
    features = features.astype(np.float32)
    frame = pd.DataFrame(features, columns=list(contract.features))
    batch = frame.iloc[:in_process_batch]  # c's batch
    triton_body, mlflow_body = bodies(features, frame, rows)
    print(f"champion {uri}; {rows} row(s) per request, {seconds:.0f} s per level, concurrency {levels}", flush=True)
    model = mlflow.pyfunc.load_model(uri)
    expected = scores(model.predict(frame.iloc[:rows]))
    results: list[Result] = []
    server = inproject.module(project, "serving.server")
    build_repository = inproject.module(project, "serving.repository").build_repository
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch_name:
        scratch = Path(scratch_name)
        repository = build_repository(settings, model_uri=uri, out=scratch / "repository")
        noop_name = add_noop_model(project, repository, settings.model_name)
        with server.LocalTriton(
            repository,
            state_dir=scratch / "triton",
            startup_timeout=settings.startup_timeout_seconds,
            allocator=settings.allocator,
            summary_quantiles=settings.latency_summary_quantiles,
        ) as triton:
            print(f"Triton malloc: {triton.allocator}", flush=True)
            url = f"http://{triton.http_url}/v2/models/{settings.model_name}/infer"
            served = post_json(url, triton_body)["outputs"][0]["data"]
            triton_scores = np.asarray(served, dtype=np.float64).reshape(rows, -1)
            if triton_scores.shape == expected.shape and not np.allclose(triton_scores, expected, atol=1e-4):
                raise inproject.BenchError("Triton's scores differ from the champion's own; not benchmarking that")
            for level in levels:
                record(results, run_wrk(url, triton_body, level, seconds, rows, "a: triton (local stack)", scratch))
            noop_url = f"http://{triton.http_url}/v2/models/{noop_name}/infer"
            record(results, run_wrk(noop_url, triton_body, max(levels), seconds, rows, NOOP_TARGET, scratch))
            pairs = []  # (a, c) rows/s, back to back: a at the top concurrency, then c
            for _ in range(rounds):
                a = run_wrk(url, triton_body, max(levels), seconds / 2, rows, "a", scratch)
                c = in_process(model.predict, batch, seconds / 4, "c")
                pairs.append((a.rows_per_s, c.rows_per_s))
        for result in in_process_limits(project, model, batch, uri, seconds / 2):
            record(results, result)
        process, port = start_mlflow(project, uri, workers, scratch)
        try:
            url = f"http://127.0.0.1:{port}/invocations"
            answer = scores(post_json(url, mlflow_body))
            if answer.shape != expected.shape or not np.allclose(answer, expected, atol=1e-6):
                raise inproject.BenchError("mlflow models serve answered differently from the in-process model")
            for level in levels:
                target = f"b: mlflow models serve -w{workers}"
                record(results, run_wrk(url, mlflow_body, level, seconds, rows, target, scratch))
        finally:
            stop_process(process)
    print()
    print(table(results))
    summary = verdicts(results, pairs, levels, settings.latency_p95_target_ms, options)
    if args.json is not None:
        summary = {"results": [asdict(r) for r in results], **summary, "p95_target_ms": settings.latency_p95_target_ms}
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-uri", default=None, help="default: the project's champion")
    parser.add_argument("--duration", type=float, default=None, help="seconds per load level")
    parser.add_argument("--concurrency", type=int, nargs="*", default=None)
    parser.add_argument("--rows-per-request", type=int, default=None)
    parser.add_argument("--paired-rounds", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")


def guarded(args: argparse.Namespace) -> int:
    try:
        return run(args)
    except inproject.BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(inproject.main_guard(guarded, __doc__, arguments))
