"""Tier 3: the text-generation project's own language-model tests, run in the project (`--defaults`
plus the use case).

tests/llm/ checks the corpus and settings, trains the tokenizer and the small Llama, runs the
Kubeflow pipeline on kfp.local with MLflow (gate against the unigram baseline, registry, promotion,
a gate failure that never becomes champion), and streams from a real local Triton with the vLLM
backend's contract. tests/gateway/ starts two local Tritons, a redis-server and the OpenAI-compatible
gateway (LiteLLM's Router): routing, fallback when a backend stops, the Redis cache, per-key rate
limits shared by two gateway processes, token and cost accounting, the budget alert and redaction.
Then `make load-test` runs as a user runs it: Locust streaming through `make gateway-serve`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    ensure_champion,
    project_record,
    run_make,
    run_project_tests,
    served_by_make,
    serving_env,
    template_fingerprint,
    use_case_project,
    use_case_project_name,
)

pytestmark = pytest.mark.project


def project_of(params: dict[str, str]) -> str:
    return use_case_project_name("text_generation")


def test_the_text_generation_projects_llm_tests_pass() -> None:
    project = use_case_project("text_generation", template_fingerprint())
    command = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", "tests/llm", "tests/gateway"]
    run_project_tests(project, command, "language model and gateway", timeout=1800)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free now (the sockets stay open until all are picked)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def ensure_llm_champion(project: Path, env: dict[str, str]) -> None:
    """The language model's champion; `make llm-train` once if no other test promoted one yet."""
    package = project_record(project)["package"]
    probe = (
        "import sys, tempfile, pathlib; "
        f"from {package}.llm.steps import champion_folder; "
        "sys.exit(0 if champion_folder(pathlib.Path(tempfile.mkdtemp())) else 1)"
    )
    found = subprocess.run(["uv", "run", "--frozen", "python", "-c", probe], cwd=project, env=env, capture_output=True)
    if found.returncode != 0:
        run_make(project, "llm-train", env, timeout=1800)


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


def test_make_load_test_streams_through_the_gateway(tmp_path: Path) -> None:
    """`make serve gateway-redis gateway-serve load-test` on ports of this test's own (GATEWAY_PORT,
    GATEWAY_REDIS_PORT, SERVING_*_PORT: another project may hold the defaults): Locust streams the
    project's questions through the real gateway to the language model on Triton, and the run is held
    to the decided time-to-first-token target."""
    project = use_case_project("text_generation", template_fingerprint())
    http, grpc, metrics, gateway, redis = free_ports(5)
    env = {
        **serving_env(tmp_path),
        **{"SERVING_HTTP_PORT": str(http), "SERVING_GRPC_PORT": str(grpc), "SERVING_METRICS_PORT": str(metrics)},
        **{"GATEWAY_PORT": str(gateway), "GATEWAY_REDIS_PORT": str(redis)},
    }
    ensure_champion(project, env)
    ensure_llm_champion(project, env)
    with served_by_make(project, env), gateway_by_make(project, env, tmp_path / "gateway.log"):
        # the project's own pass line at a low rate, as its gateway tests run it: at the default 10/s, one
        # pause of the shared machine delays four users' answers together, over 5% of a 10-second run
        load = {"LOAD_SECONDS": "10", "LOAD_USERS": "2", "LOAD_RPS": "3"}
        result = run_make(project, "load-test", {**env, **load}, timeout=300)
    output = result.stdout + result.stderr
    # Locust's own table: the streamed answers' row has requests and no failures
    rows = [line.split("|") for line in output.splitlines() if "chat completion, streamed" in line and "|" in line]
    assert rows, output[-3000:]
    *_, requests, failures = rows[0][0].split()  # type, name, # reqs, # fails | avg ...
    assert int(requests) > 0 and failures.startswith("0("), rows[0]
    assert f"127.0.0.1:{gateway}" in output, "the load test follows GATEWAY_PORT"
    assert "load test: PASS" in output, output[-3000:]
