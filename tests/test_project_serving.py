"""Tier 3/4: the serving layer of rendered projects on a real Triton server.

For `tabular_aws_realtime` and `image_gcp_batch` (ci/matrix.yaml): the project's own serving stack
tests (predictions, dynamic batching, every family's config, bad input, make serve, the batch
worker on Redis, the edge runner), then `make build-serving` + `make serve` on the champion that
the training layer registered (`make etl` + `make train`), whose predictions must equal the training layer's
own `load_champion_predict_fn()`; and a short `make bench-serve`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.project
SETS = ["tabular_aws_realtime", "image_gcp_batch"]

CHECK_CHAMPION = """
import sys
import numpy as np
from {package}.serving.client import TritonClient
from {package}.serving.server import read_record
from {package}.serving.settings import ServingSettings
from {package}.training.registry import load_champion_predict_fn

settings = ServingSettings.from_platform()
record = read_record(settings.state_dir)
assert record is not None, "make serve left no server record"
rows = np.random.default_rng(3).uniform(0, 10, size=(16, settings.contract.n_features)).astype(np.float32)
expected = load_champion_predict_fn()(rows)
for protocol in ("http", "grpc"):
    url = f"{{record['host']}}:{{record['ports'][protocol]}}"
    client = TritonClient.from_settings(settings, protocol=protocol, url=url, log_inferences=False)
    np.testing.assert_allclose(client.predict(rows), expected, atol=1e-5)
print("champion predictions match over http and grpc; model version", client.model_version())
"""


def _need(tool: str, hint: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed ({hint})")


def _make(project: Path, target: str, env: dict[str, str], timeout: int = 1200) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["make", target], cwd=project, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"make {target}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _package(project: Path) -> str:
    return str(yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))["project"]["package"])


def _ensure_champion(project: Path, env: dict[str, str]) -> None:
    """The training layer's champion; `make etl` + `make train` once if no other test trained it yet."""
    probe = f"from {_package(project)}.training.registry import champion; champion()"
    found = subprocess.run(
        ["uv", "run", "--frozen", "python", "-c", probe], cwd=project, env=env, capture_output=True, text=True
    )
    if found.returncode != 0:
        _make(project, "etl", env, timeout=1800)  # the training set comes from the feature store
        _make(project, "train", env, timeout=1800)


@pytest.mark.parametrize("name", SETS)
def test_project_serving_stack_tests(stack_project: Callable[[str], Path], name: str) -> None:
    _need("redis-server", "apt-get install redis-server")
    project = stack_project(name)
    # Every family's config is checked in each project alike, and make serve runs on the trained
    # champion below: the second set runs the rest only (keeps CI time down).
    only = [] if name == SETS[0] else ["-k", "not every_family and not make_serve"]
    result = subprocess.run(
        ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", "tests/stack/test_serving_stack.py", *only],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]


@pytest.mark.parametrize("name", SETS)
def test_make_serve_serves_the_trained_champion(
    stack_project: Callable[[str], Path], name: str, tmp_path: Path
) -> None:
    project = stack_project(name)
    env = {
        **os.environ,
        "SERVING_STATE_DIR": str(tmp_path / "triton"),
        "SERVING_REPOSITORY": str(tmp_path / "model_repository"),
        "SERVING_HTTP_PORT": "0",
        "SERVING_GRPC_PORT": "0",
        "SERVING_METRICS_PORT": "0",
    }
    env.pop("VIRTUAL_ENV", None)
    _ensure_champion(project, env)
    try:
        _make(project, "build-serving", env)
        _make(project, "serve", env)
        script = CHECK_CHAMPION.format(package=_package(project))
        checked = subprocess.run(
            ["uv", "run", "--frozen", "python", "-c", script], cwd=project, env=env, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    finally:
        stopped = subprocess.run(["make", "serve-stop"], cwd=project, env=env, capture_output=True, text=True)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout


def test_bench_serve_prints_the_comparison(stack_project: Callable[[str], Path]) -> None:
    _need("wrk", "apt-get install wrk")
    project = stack_project("tabular_aws_realtime")
    env = {**os.environ, "BENCH_DURATION": "2"}
    env.pop("VIRTUAL_ENV", None)
    _ensure_champion(project, env)
    result = _make(project, "bench-serve", env, timeout=1200)
    for needle in ("a: triton", "b: mlflow models serve", "c: in-process predict()", "a/b =", "a/c ="):
        assert needle in result.stdout, result.stdout[-3000:]
