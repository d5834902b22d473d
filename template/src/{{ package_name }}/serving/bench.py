"""`make bench-serve`: the same champion behind (a) the local Triton stack, (b) `mlflow models serve`,
and (c) in-process `predict()` on batches of 32 rows, in one process and one run.

Load comes from `wrk` (C, event loop: not the bottleneck) posting the same rows to both servers,
each in its own JSON format (Triton's KServe v2 body, MLflow's `dataframe_split`). For each
concurrency in `serving.bench.concurrency` it reports requests/s, rows/s and p50/p95/p99 latency;
then the ratios a/b and a/c at the highest concurrency, against the targets (a/b >= 10 with p95
inside the latency target, a/c >= 0.3). Before timing, both servers' answers are checked against
the in-process scores.

A shared machine's speed drifts by half over tens of seconds, so a and c measured a minute apart
can differ by that much for no reason of their own. The a/c verdict is therefore the median of
`serving.bench.paired_rounds` back-to-back pairs (a at the top concurrency, then c while Triton
idles), each pair within a few seconds; the table's c row also runs right after a.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ServingError
from .server import LocalTriton, free_port, http_get
from .settings import ServingSettings

NOOP_MODEL = Path(__file__).with_name("triton_noop_model.py")
TARGET_SPEEDUP_VS_MLFLOW = 10.0
TARGET_SHARE_OF_IN_PROCESS = 0.3
IN_PROCESS_BATCH = 32
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


def run_wrk(url: str, body: bytes, concurrency: int, duration: float, rows: int, target: str, scratch: Path) -> Result:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise ServingError("wrk is not installed (apt-get install wrk / brew install wrk)")
    script, body_file, out = scratch / "post.lua", scratch / f"{target}.json", scratch / "wrk.json"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    body_file.write_bytes(body)
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_OUT": str(out)}
    threads = max(1, min(concurrency, 2))
    command = [
        wrk,
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=duration + 60)
    if completed.returncode != 0 or not out.is_file():
        raise ServingError(f"wrk failed on {url}: {completed.stdout[-500:]} {completed.stderr[-500:]}")
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

    return Result(
        target,
        1,
        len(frame),
        len(latencies) / elapsed,
        len(latencies) * len(frame) / elapsed,
        pct(0.5),
        pct(0.95),
        pct(0.99),
        0,
    )


def add_noop_model(repository: Path, model_name: str) -> str:
    """Serve a no-op twin of the champion's Triton model (same config, no inference) beside it."""
    from .repository import PYTHON_MODEL

    name = f"{model_name}_noop"
    config = (repository / model_name / "config.pbtxt").read_text(encoding="utf-8")
    version_dir = repository / name / "1"
    version_dir.mkdir(parents=True)
    (repository / name / "config.pbtxt").write_text(
        config.replace(f'name: "{model_name}"', f'name: "{name}"', 1), encoding="utf-8"
    )
    shutil.copyfile(NOOP_MODEL, version_dir / "model.py")
    shutil.copyfile(PYTHON_MODEL, version_dir / PYTHON_MODEL.name)
    return name


def record(results: list[Result], result: Result) -> None:
    """Keep a result and print its table row at once (a full run takes minutes)."""
    results.append(result)
    print(table([result]).splitlines()[-1], flush=True)


def in_process_limits(model: Any, batch: Any, uri: str, seconds: float) -> list[Result]:
    """c: the champion's own `predict()`; c': its ONNX export in onnxruntime (informative only)."""
    results = [in_process(model.predict, batch, seconds, "c: in-process predict()")]
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]

        from .repository import resolve_model

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


def paired_rates(
    url: str,
    body: bytes,
    rows: int,
    concurrency: int,
    predict: Any,
    batch: Any,
    seconds: float,
    rounds: int,
    scratch: Path,
) -> list[tuple[float, float]]:
    """(a, c) rows/s from `rounds` back-to-back pairs: a at `concurrency`, then c on `batch`."""
    pairs = []
    for _ in range(rounds):
        a = run_wrk(url, body, concurrency, seconds, rows, "a", scratch)
        c = in_process(predict, batch, seconds / 2, "c")
        pairs.append((a.rows_per_s, c.rows_per_s))
    return pairs


def start_mlflow(
    model_uri: str, workers: int, scratch: Path, timeout: float = 240.0
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    mlflow = shutil.which("mlflow", path=env["PATH"])
    if mlflow is None:
        raise ServingError("the mlflow CLI is not installed (make setup-all)")
    log = (scratch / "mlflow-serve.log").open("wb")
    command = [
        mlflow,
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(workers),
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServingError(f"mlflow models serve exited: {(scratch / 'mlflow-serve.log').read_text()[-2000:]}")
        if http_get(f"http://127.0.0.1:{port}/ping", timeout=1.0)[0] == 200:
            return process, port
        time.sleep(0.5)
    stop_process(process)
    raise ServingError(f"mlflow models serve not ready after {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def post_json(url: str, body: bytes) -> Any:
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _scores(value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, dict):
        value = value.get("predictions", value)
    array = np.asarray(value, dtype=np.float64)
    return array.reshape(array.shape[0], -1)


def table(results: list[Result]) -> str:
    header = (
        f"{'target':<28}{'conc':>5}{'rows/req':>9}{'req/s':>10}{'rows/s':>11}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>7}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.target:<28}{r.concurrency:>5}{r.rows_per_request:>9}{r.requests_per_s:>10.0f}{r.rows_per_s:>11.0f}"
            f"{r.p50_ms:>9.2f}{r.p95_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>7}"
        )
    return "\n".join(lines)


def main(
    settings: ServingSettings,
    *,
    model_uri: str | None = None,
    duration: float | None = None,
    rows: int | None = None,
    json_path: Path | None = None,
) -> int:
    import mlflow
    import pandas as pd

    from ..config import mlflow_tracking_uri
    from .demo import demo_data
    from .repository import build_repository

    options = dict(settings.raw.get("bench") or {})
    seconds = float(duration or options.get("duration_seconds", 8))
    levels = [int(c) for c in options.get("concurrency", [1, 8, 32])]
    rows = int(rows or options.get("rows_per_request", 1))
    workers = int(options.get("mlflow_workers", 2))
    rounds = max(1, int(options.get("paired_rounds", 3)))
    uri = model_uri or settings.model_uri
    os.environ.setdefault("MLFLOW_TRACKING_URI", mlflow_tracking_uri())
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    contract = settings.contract
    features, _ = demo_data(contract, rows=max(rows, IN_PROCESS_BATCH), seed=11)
    frame = pd.DataFrame(features, columns=list(contract.features))
    batch = frame.iloc[:IN_PROCESS_BATCH]  # c's batch
    request_rows = features[:rows]
    triton_body = json.dumps(
        {
            "inputs": [
                {
                    "name": "features",
                    "shape": list(request_rows.shape),
                    "datatype": "FP32",
                    "data": request_rows.ravel().tolist(),
                }
            ]
        }
    ).encode()
    mlflow_body = json.dumps({"dataframe_split": frame.iloc[:rows].to_dict(orient="split", index=False)}).encode()
    print(f"champion {uri}; {rows} row(s) per request, {seconds:.0f} s per level, concurrency {levels}", flush=True)
    model = mlflow.pyfunc.load_model(uri)
    expected = _scores(model.predict(frame.iloc[:rows]))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch_name:
        scratch = Path(scratch_name)
        repository = build_repository(settings, model_uri=uri, out=scratch / "repository")
        noop_name = add_noop_model(repository, settings.model_name)
        with LocalTriton(
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
                raise ServingError("Triton's scores differ from the champion's own; not benchmarking a different model")
            for level in levels:
                record(results, run_wrk(url, triton_body, level, seconds, rows, "a: triton (local stack)", scratch))
            noop_url = f"http://{triton.http_url}/v2/models/{noop_name}/infer"
            record(results, run_wrk(noop_url, triton_body, max(levels), seconds, rows, NOOP_TARGET, scratch))
            pairs = paired_rates(
                url, triton_body, rows, max(levels), model.predict, batch, seconds / 2, rounds, scratch
            )
        for result in in_process_limits(model, batch, uri, seconds / 2):
            record(results, result)
        process, port = start_mlflow(uri, workers, scratch)
        try:
            url = f"http://127.0.0.1:{port}/invocations"
            answer = _scores(post_json(url, mlflow_body))
            if answer.shape != expected.shape or not np.allclose(answer, expected, atol=1e-6):
                raise ServingError("mlflow models serve answered differently from the in-process model")
            for level in levels:
                target = f"b: mlflow models serve -w{workers}"
                record(results, run_wrk(url, mlflow_body, level, seconds, rows, target, scratch))
        finally:
            stop_process(process)
    print()
    print(table(results))
    top = max(levels)
    a = next(r for r in results if r.target.startswith("a:") and r.concurrency == top)
    b = next(r for r in results if r.target.startswith("b:") and r.concurrency == top)
    c = next(r for r in results if r.target.startswith("c:"))
    a_b, a_c = a.rows_per_s / max(b.rows_per_s, 1e-9), a.rows_per_s / max(c.rows_per_s, 1e-9)
    p95_ok = a.p95_ms <= settings.latency_p95_target_ms
    verdict = {True: "PASS", False: "FAIL"}
    print()
    print(f"at concurrency {top}:")
    print(
        f"  a/b = {a_b:.1f}x throughput (target >= {TARGET_SPEEDUP_VS_MLFLOW:.0f}x): "
        f"{verdict[a_b >= TARGET_SPEEDUP_VS_MLFLOW]}"
    )
    print(f"  Triton p95 {a.p95_ms:.1f} ms (target {settings.latency_p95_target_ms:.0f} ms): {verdict[p95_ok]}")
    ratios = [pair_a / max(pair_c, 1e-9) for pair_a, pair_c in pairs]
    paired = statistics.median(ratios)
    print(
        f"  a/c = {paired:.2f} of in-process predict() on batches of {IN_PROCESS_BATCH} "
        f"(target >= {TARGET_SHARE_OF_IN_PROCESS}): {verdict[paired >= TARGET_SHARE_OF_IN_PROCESS]}"
    )
    listed = ", ".join(
        f"{pair_a:.0f}/{pair_c:.0f} = {ratio:.2f}" for (pair_a, pair_c), ratio in zip(pairs, ratios, strict=True)
    )
    print(f"    median of {len(pairs)} back-to-back pairs of rows/s, a/c: {listed}; the table's rows give {a_c:.2f}")
    noop = next(r for r in results if r.target == NOOP_TARGET)
    ceiling = noop.rows_per_s / max(c.rows_per_s, 1e-9)
    print(
        f"  ceiling: Triton serving a model that does nothing reaches a0/c = {ceiling:.2f} on this machine "
        f"({noop.requests_per_s:.0f} req/s); the champion runs at a/a0 = {a.rows_per_s / noop.rows_per_s:.2f} of it"
    )
    print(f"  p50: Triton {a.p50_ms:.1f} ms, mlflow {b.p50_ms:.1f} ms, in-process call {c.p50_ms:.2f} ms")
    if json_path is not None:
        summary = {
            "results": [asdict(r) for r in results],
            "a_over_b": a_b,
            "a_over_c": paired,
            "a_c_pairs_rows_per_s": pairs,
            "a_over_c_table": a_c,
            "a0_over_c": ceiling,
            "p95_target_ms": settings.latency_p95_target_ms,
        }
        json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0
