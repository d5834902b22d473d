"""Tier 3/4: the serving layer of rendered projects on a real Triton server.

For the feature-row model of `tabular_aws_realtime`, `llm_api_pii` (batch) and `tabular_edge_azure`
(edge) (ci/matrix.yaml): the project's own serving stack tests (predictions, dynamic batching, every
family's config, bad input, make serve, the batch worker on Redis, the edge runner and the quantized
edge bundle against the device budget), then `make build-serving` + `make serve` on the champion
that the training layer registered (`make etl` + `make train`), whose predictions must equal the
training layer's own `load_champion_predict_fn()`; for the edge set `make edge-export` must quantize
that champion to INT8 inside the device budget. And `make load-test` (Locust) against `make serve`'s
Triton; the comparison benches run from the generator (tests/test_project_benches.py). The PyTorch
vision projects' serving, batch and edge run in tests/test_project_vision.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ensure_champion, project_record, run_make, served_by_make, serving_env

pytestmark = pytest.mark.project
SETS = ["tabular_aws_realtime", "llm_api_pii", "tabular_edge_azure"]
# `make serve` on the trained champion; llm_api_pii's champion is served by its `make smoke` (tier 4),
# which would train it a second time here.
MAKE_SERVE_SETS = ["tabular_aws_realtime", "tabular_edge_azure"]
# What each set runs of the project's stack tests.
STACK_TESTS = {
    "tabular_aws_realtime": ["tests/stack/test_serving_stack.py"],
    "llm_api_pii": [
        "tests/stack/test_serving_stack.py",
        "tests/stack/test_batch_stack.py",
        "tests/test_smoke_batch.py",
        "-k",
        "not every_family and not make_serve",
    ],
    "tabular_edge_azure": [
        "tests/stack/test_edge_stack.py",
        "tests/test_edge_settings.py",
        "tests/test_smoke_edge.py",
    ],
}

CHECK_CHAMPION = """
import sys
import numpy as np
from {package}.serving.client import TritonClient
from {package}.serving.server import read_record
from {package}.serving.settings import ServingSettings
from {package}.training.scoring import load_champion_predict_fn

settings = ServingSettings.from_platform()
record = read_record(settings.state_dir)
assert record is not None, "make serve left no server record"
rows = np.random.default_rng(3).uniform(0, 10, size=(16, settings.contract.n_features)).astype(np.float32)
expected = load_champion_predict_fn()(rows)
for protocol in ("http", "grpc"):
    url = f"{{record['host']}}:{{record['ports'][protocol]}}"
    client = TritonClient.from_settings(settings, protocol=protocol, url=url, log_inferences=False)
    np.testing.assert_allclose(client.predict_many(rows), expected, atol=1e-5)  # chunks of max_batch_size
print("champion predictions match over http and grpc; model version", client.model_version())
"""

OPERATORS = "import onnx, sys; print(*sorted({n.op_type for n in onnx.load(sys.argv[1]).graph.node}))"


def _need(tool: str, hint: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed ({hint})")


def _check_edge_export(project: Path, env: dict[str, str]) -> None:
    """`make edge-export` on the trained champion: quantized to INT8, inside the device budget
    (measured on this machine's CPU), and in agreement with the champion."""
    run_make(project, "edge-export", env)
    manifest = json.loads((project / ".local" / "edge" / "manifest.json").read_text(encoding="utf-8"))
    budget = manifest["budget"]
    assert manifest["precision"] == "int8" and manifest["within_budget"] is True
    # Tuning picks the champion, so it may be a network (quantized) or a tree ensemble, which has
    # no weight tensor the quantizer converts: then the FP32 export ships and the manifest says why.
    ops = subprocess.run(
        ["uv", "run", "--frozen", "python", "-c", OPERATORS, ".local/edge/model.onnx"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if manifest["quantized_to"] == "int8":
        assert manifest["artifact_bytes"] < manifest["fp32_bytes"] and "DynamicQuantizeLinear" in ops, ops
    else:
        assert not {"MatMul", "Gemm", "Conv"} & set(ops), f"a quantizable operator was left in FP32: {ops}"
        assert "tree ensembles" in manifest["quantization"] and manifest["artifact_bytes"] == manifest["fp32_bytes"]
    assert manifest["memory_mb"] <= budget["memory_mb"] and manifest["latency_p95_ms"] <= budget["latency_ms"]
    assert manifest["agreement"]["share"] >= manifest["agreement"]["min"]
    print(
        f"edge bundle: {manifest['fp32_bytes']} B FP32 -> {manifest['artifact_bytes']} B INT8, session "
        f"{manifest['session_mb']} MB, p95 {manifest['latency_p95_ms']} ms ({manifest['latency_request']}, "
        f"{manifest['latency_runs']} runs), agreement {manifest['agreement']['share']:.2%} of "
        f"{manifest['agreement']['rows']} rows (max |diff| {manifest['agreement']['max_abs_diff']}); "
        f"budget {budget['memory_mb']} MB, {budget['latency_ms']} ms"
    )


@pytest.mark.parametrize("name", SETS)
def test_project_serving_stack_tests(stack_project: Callable[[str], Path], name: str) -> None:
    _need("redis-server", "apt-get install redis-server")
    project = stack_project(name)
    result = subprocess.run(
        ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", *STACK_TESTS[name]],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]


@pytest.mark.parametrize("name", MAKE_SERVE_SETS)
def test_make_serve_serves_the_trained_champion(
    stack_project: Callable[[str], Path], name: str, tmp_path: Path
) -> None:
    project = stack_project(name)
    env = serving_env(tmp_path)
    ensure_champion(project, env)
    run_make(project, "build-serving", env)
    with served_by_make(project, env):
        script = CHECK_CHAMPION.format(package=project_record(project)["package"])
        checked = subprocess.run(
            ["uv", "run", "--frozen", "python", "-c", script], cwd=project, env=env, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
        if name == "tabular_edge_azure":
            _check_edge_export(project, env)


@pytest.mark.xdist_group("tabular_aws_realtime")
def test_make_load_test_drives_the_served_champion(stack_project: Callable[[str], Path], tmp_path: Path) -> None:
    """The project's own load test: Locust posts the project's request to `make serve`'s Triton at the
    project's peak rate and holds the run to its p95 target (loadtest/locustfile.py)."""
    project = stack_project("tabular_aws_realtime")
    env = serving_env(tmp_path)
    ensure_champion(project, env)
    refused = subprocess.run(["make", "load-test"], cwd=project, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "start it with make serve" in refused.stderr, refused.stderr[-2000:]
    with served_by_make(project, env):
        result = run_make(project, "load-test", {**env, "LOAD_SECONDS": "6", "LOAD_USERS": "4"}, timeout=300)
    output = result.stdout + result.stderr
    # Locust's own summary: the aggregated row has requests and no failures
    aggregated = [line.split() for line in output.splitlines() if line.strip().startswith("Aggregated")]
    assert aggregated, output[-3000:]
    requests, failures = int(aggregated[0][1]), aggregated[0][2]
    assert requests > 0 and failures.startswith("0("), aggregated[0]
    assert "load test: PASS" in output, output[-3000:]
