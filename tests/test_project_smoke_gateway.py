"""Tier 4, after the language-model project's smoke run: `make load-test` as a user runs it, Locust
streaming the project's questions through `make gateway-serve` to the language model on Triton, on
ports of its own (tier 4 runs two projects side by side)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ensure_champion, ensure_llm_champion, run_make, served_by_make, serving_env

PROJECT = "llm_api_pii"  # ci/matrix.yaml: the language-model set that tier 4 smoke-runs
pytestmark = pytest.mark.xdist_group(PROJECT)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free now (the sockets stay open until all are picked)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@contextlib.contextmanager
def gateway_by_make(project: Path, env: dict[str, str], log: Path) -> Iterator[None]:
    """`make gateway-redis` and `make gateway-serve` (its own process group, as in its own shell) until
    `make gateway-health` passes; both stopped after the `with` block."""
    run_make(project, "gateway-redis", env)
    with log.open("w") as out:
        command = ["make", "gateway-serve"]
        serving = subprocess.Popen(command, cwd=project, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while subprocess.run(["make", "gateway-health"], cwd=project, env=env, capture_output=True).returncode != 0:
            assert serving.poll() is None, f"make gateway-serve exited {serving.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the gateway never became healthy:\n{log.read_text()[-3000:]}"
            time.sleep(1)
        yield
    finally:
        os.killpg(serving.pid, signal.SIGTERM)
        serving.wait(timeout=60)
        subprocess.run(["make", "gateway-redis-stop"], cwd=project, env=env, capture_output=True)


def test_make_load_test_streams_through_the_gateway(stack_project: Callable[[str], Path], tmp_path: Path) -> None:
    """`make serve gateway-redis gateway-serve load-test` on ports of this test's own (GATEWAY_PORT,
    GATEWAY_REDIS_PORT, SERVING_*_PORT: another project may hold the defaults): Locust streams the
    project's questions through the real gateway to the language model on Triton. Every answer must
    count and the rate be kept; the verdict and make's exit follow the measured time to first token
    (whether this machine meets the decided target is the load test's own finding, not this test's)."""
    project = stack_project(PROJECT)  # after its smoke run (this module's name sorts after it): champions exist
    http, grpc, metrics, gateway, redis = free_ports(5)
    env = {
        **serving_env(tmp_path),
        **{"SERVING_HTTP_PORT": str(http), "SERVING_GRPC_PORT": str(grpc), "SERVING_METRICS_PORT": str(metrics)},
        **{"GATEWAY_PORT": str(gateway), "GATEWAY_REDIS_PORT": str(redis)},
    }
    ensure_champion(project, env)
    ensure_llm_champion(project, env)
    with served_by_make(project, env), gateway_by_make(project, env, tmp_path / "gateway.log"):
        load = {"LOAD_SECONDS": "10", "LOAD_USERS": "2"}  # the project's peak rate (answers.peak_rps)
        command = ["make", "load-test"]
        result = subprocess.run(command, cwd=project, env={**env, **load}, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    # Locust's own table: the streamed answers' row has requests and no failures
    rows = [line.split("|") for line in output.splitlines() if "chat completion, streamed" in line and "|" in line]
    assert rows, output[-3000:]
    *_, requests, failures = rows[0][0].split()  # type, name, # reqs, # fails | avg ...
    assert int(requests) > 0 and failures.startswith("0("), rows[0]
    assert f"load test of http://127.0.0.1:{gateway}/v1/chat/completions" in output, "it follows GATEWAY_PORT"
    found = re.search(r"time to first token p95 (\d+) ms \(target (\d+) ms\)", output)
    assert found, output[-3000:]
    measured, target = (int(value) for value in found.groups())
    if "\nload test: PASS\n" in output:
        assert result.returncode == 0 and measured <= target, output[-3000:]
    else:  # the time to first token alone may miss; make exits non-zero
        alone = f"\nload test: FAIL: time to first token p95 {measured} ms over the {target} ms target\n"
        assert result.returncode != 0 and alone in output and measured > target, output[-3000:]
