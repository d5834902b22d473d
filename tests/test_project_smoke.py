"""Tier 4: `make smoke` end to end on real engines, for the representative answer sets.

Each run renders the project from the working tree (once per session, shared with tier 3 when they
run in one process), installs every layer, and runs the whole local stack: Airflow ETL -> Feast ->
kfp training -> MLflow promotion -> Triton -> client (-> the batch queue and worker, or the edge bundle
on a device, where that is the decided serving pattern) -> inference log -> Evidently drift. A second
test kills the Triton server in the middle of the predict stage and checks the failure message and
that nothing is left running.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import (
    project_decisions,
    template_fingerprint,
    use_case_project,
    use_case_project_name,
)

SMOKE_SETS = [
    "tabular_aws_realtime",
    "image_gcp_batch",
    "timeseries_edge_azure",
    "llm_api_pii",
    "detection_aws_realtime",
    "segmentation_edge_gcp",
]
# The PyTorch vision models' run (smoke.stages.project_stages): encoded images through the Triton
# ensemble instead of feature rows and the task model, and for detection the video stream.
VISION_SETS = {"detection_aws_realtime", "image_gcp_batch", "segmentation_edge_gcp"}
STREAM_SETS = {"detection_aws_realtime"}
STAGES = [
    "etl",
    "features",
    "train",
    "registry",
    "build-serving",
    "serve",
    "predict",
    "inference-log",
    "drift",
    "stop",
]


# Tier 4 runs two projects side by side (xdist -n 2): each smoke run's Triton takes free ports instead of
# platform.yaml's 8000-8002, or the second server to start finds them taken.
FREE_PORTS = {"SERVING_HTTP_PORT": "0", "SERVING_GRPC_PORT": "0", "SERVING_METRICS_PORT": "0"}

VISION_STAGES = [*STAGES]
STREAM_STAGES = [*VISION_STAGES]
STREAM_STAGES.insert(STREAM_STAGES.index("predict") + 1, "stream")
# The language model's run (llm/smoke.py): its pipeline before the repository build, its streamed answers
# and their drift check after predict, then OpenAI chat completions through the gateway (gateway/smoke.py).
LLM_SETS = {"llm_api_pii"}
LLM_STAGES = [*STAGES]
LLM_STAGES.insert(LLM_STAGES.index("build-serving"), "llm-train")
LLM_STAGES[LLM_STAGES.index("predict") + 1 : LLM_STAGES.index("predict") + 1] = ["llm-generate", "llm-drift", "gateway"]
LLM_FIGURES = ("equal to in-process", "answers equal Triton's", "personal data masked")
# The serving pattern's stage right after predict, on the predict stage's inputs, in every project whose
# decided pattern has one: batch (smoke/batch.py: through Redis and the worker; image_gcp_batch for images,
# llm_api_pii for feature rows) and edge (smoke/edge.py: the device bundle exported, synced and run;
# timeseries_edge_azure for feature rows, segmentation_edge_gcp for images). The key figure each stage's
# table row must show:
PATTERN_FIGURES = {"batch": "equal to predict's answers", "edge": "log rows pushed"}


def with_pattern(stages: list[str], pattern: str) -> list[str]:
    """`stages` with the pattern's stage right after predict (realtime has none)."""
    if pattern not in PATTERN_FIGURES:
        return stages
    return [name for stage in stages for name in ([stage, pattern] if stage == "predict" else [stage])]


def _processes() -> Iterator[tuple[Path, str]]:
    """(/proc/<pid>, its command line) of every running process this user may read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield entry, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended, or is not ours to read
            continue


def _tritons_under(project: Path) -> list[int]:
    """PIDs of tritonserver processes serving this project's model repository."""
    return [int(entry.name) for entry, command in _processes() if "tritonserver" in command and str(project) in command]


def _stubs_under(project: Path) -> list[int]:
    """PIDs of the python backend's stub processes of this project's Triton."""
    stub = "triton_python_backend_stub"
    return [int(entry.name) for entry, command in _processes() if stub in command and str(project) in command]


def _listeners(port: int) -> list[str]:
    """Command lines of the processes listening on TCP `port` (/proc/net/tcp* inodes -> /proc/*/fd)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    found: list[str] = []
    for entry, command in _processes():
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                found.append(command)
        except OSError:  # the process ended, or is not ours to read
            continue
    return found


def _port_held_by(project: Path, port: int) -> list[str]:
    """This project's processes still listening on `port`. Tier 4 runs two projects side by side, so a
    port freed by this smoke run may already serve the other project's Triton; that one does not count."""
    return [command for command in _listeners(port) if str(project) in command]


def _failure_first(output: str) -> str:
    """The smoke run's verdict and stage table first (a CI log keeps the start of a long message), then its tail."""
    table = output[output.rfind("clean-up:") :] if "clean-up:" in output else ""
    return f"{table[-3000:]}\n--- output tail ---\n{output[-4000:]}"


def _server_ports(output: str) -> list[int]:
    """The ports the serve stage reported ("ready in 2.4 s (http 8000, grpc 8001, metrics 8002)")."""
    found = re.search(r"\(http (\d+), grpc (\d+), metrics (\d+)\)", output)
    assert found, "the serve stage did not report its ports"
    return [int(port) for port in found.groups()]


def _smoke_is_green(project: Path, stages: list[str], figures: tuple[str, ...], absent: tuple[str, ...] = ()) -> None:
    """`make smoke` exits 0 with every stage and figure in its table (and none of the `absent`
    stages) and leaves nothing running."""
    started = time.monotonic()
    env = {**os.environ, **FREE_PORTS}
    result = subprocess.run(["make", "smoke"], cwd=project, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, _failure_first(output)
    assert "smoke: OK" in output
    # progress for people: no library's warnings or download bars between the stage lines
    noise = re.findall(r"^.*(?:site-packages/\S+: \w*Warning|\d%\|).*$", output, re.MULTILINE)
    assert not noise, "\n".join(noise[:5])
    for stage in stages:
        assert f"| {stage} " in output, f"summary table lacks {stage}"
    for stage in absent:
        assert f"| {stage} " not in output, f"summary table has {stage}"
    for figure in ("rows in", "@champion", "p95", "PSI max", *figures):
        assert figure in output
    assert not _tritons_under(project), "make smoke left a Triton server running"
    for port in _server_ports(output):
        assert not _port_held_by(project, port), f"port {port} still bound after make smoke: {_listeners(port)}"
    print(f"{project.name}: make smoke took {time.monotonic() - started:.0f} s")


@pytest.mark.parametrize("name", SMOKE_SETS)
def test_make_smoke_is_green(stack_project: Callable[[str], Path], name: str) -> None:
    """None of these answer sets has a production head (decisions.task): no task stage."""
    stages = STREAM_STAGES if name in STREAM_SETS else VISION_STAGES if name in VISION_SETS else STAGES
    stages = LLM_STAGES if name in LLM_SETS else stages
    figures = ("tracks",) if name in STREAM_SETS else LLM_FIGURES if name in LLM_SETS else ()
    project = stack_project(name)
    pattern = project_decisions(project)["serving_pattern"]["choice"]
    figures = (*figures, *([PATTERN_FIGURES[pattern]] if pattern in PATTERN_FIGURES else []))
    absent = ("task", *(other for other in PATTERN_FIGURES if other != pattern))
    _smoke_is_green(project, with_pattern(stages, pattern), figures, absent=absent)


# The search/RAG project (the one tier 3 sets up for its head and RAG tests): the embedding pipeline
# and the ingestion DAG before the repository build, its head's task stage after predict (tasks/smoke.py),
# cited answers from Triton after that.
RAG_STAGES = [*STAGES]
RAG_STAGES[RAG_STAGES.index("build-serving") : RAG_STAGES.index("build-serving")] = ["rag-train", "rag-ingest"]
RAG_STAGES[RAG_STAGES.index("predict") + 1 : RAG_STAGES.index("predict") + 1] = ["task", "rag-query", "rag-drift"]


@pytest.mark.xdist_group(use_case_project_name("search_rag"))
def test_make_smoke_runs_the_rag_layer() -> None:
    project = use_case_project("search_rag", template_fingerprint())
    _smoke_is_green(project, RAG_STAGES, ("chunks embedded", "equal to in-process", "BM25", "questions logged"))


IN_FLIGHT_BEFORE_KILL = 200  # requests Triton has answered in the predict stage before the kill
KILL_PREDICT_ROWS = 200_000  # far more than the stage can send before the kill


def _inference_count(metrics_port: int) -> int:
    """Successful inferences so far, from Triton's Prometheus metrics (all models summed)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return int(sum(float(v) for v in re.findall(r"(?m)^nv_inference_request_success\{[^}]*\} (\S+)$", text)))


def _wait_for_requests(metrics_port: int, more_than: int, timeout_s: float = 120) -> None:
    start = _inference_count(metrics_port)
    deadline = time.monotonic() + timeout_s
    while (count := _inference_count(metrics_port)) - start <= more_than:
        assert time.monotonic() < deadline, f"the predict stage sent only {count - start} requests in {timeout_s:.0f} s"
        time.sleep(0.05)


@pytest.mark.xdist_group("tabular_aws_realtime")
def test_smoke_cleans_up_when_triton_dies(stack_project: Callable[[str], Path]) -> None:
    project = stack_project("tabular_aws_realtime")
    env = {**os.environ, **FREE_PORTS, "SMOKE_PREDICT_ROWS": str(KILL_PREDICT_ROWS), "SMOKE_CONCURRENCY": "4"}
    process = subprocess.Popen(
        ["make", "smoke"], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    killed = False
    deadline = time.monotonic() + 900
    for line in process.stdout:
        lines.append(line)
        if not killed and "predict:" in line and line.lstrip().startswith("["):
            # kill only once requests are in flight, so the test fails only when cleanup is wrong
            _wait_for_requests(_server_ports("".join(lines))[2], more_than=IN_FLIGHT_BEFORE_KILL)
            pids = _tritons_under(project)
            assert pids, "no Triton server found to kill"
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed = True
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("make smoke did not finish")
    code = process.wait()
    output = "".join(lines)
    assert killed, output[-4000:]
    assert code != 0
    assert "stage 'predict' failed" in output, output[-4000:]
    assert "logs:" in output and ".local/logs" in output
    assert "smoke: FAILED" in output
    assert not _tritons_under(project), "a Triton server is still running after the failure"
    assert not _stubs_under(project), "the killed Triton's python backend stubs are still running"
    for port in _server_ports(output):
        assert not _port_held_by(project, port), f"port {port} still bound after the failure: {_listeners(port)}"
