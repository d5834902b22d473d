"""The gateway as a process, as `make gateway-serve` runs it (`python -m <package>.gateway serve`).

The smoke run's gateway stage and the gateway's stack tests both start it this way: on a free port of
127.0.0.1, with the environment the caller gives (PLATFORM_CONFIG, GATEWAY_REDIS_URL, ...), its output
in a log file, ready once GET /health answers 200 (redis answers and every group has a deployment on).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..serving.server import free_port

READY_SECONDS = 60.0
STOP_SECONDS = 15.0


class GatewayStartError(RuntimeError):
    """The gateway exited or stayed unhealthy while starting; the message ends with its log's tail."""


@dataclass
class GatewayProcess:
    url: str  # http://127.0.0.1:<port>
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def health_problem(url: str, timeout: float = 5.0) -> str | None:
    """Why the gateway at `url` (http://host:port) is not ready (None: GET /health answered 200)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return None if response.status == 200 else f"{url}/health answered {response.status}"
    except OSError as problem:  # refused, timed out, or an HTTP error status (503: redis is down)
        return f"{url}/health: {problem}"


def start(env: Mapping[str, str], log: Path, cwd: Path, ready_seconds: float = READY_SECONDS) -> GatewayProcess:
    """Start `serve` with exactly `env` and wait until it is healthy (stopped again if it never is)."""
    port = free_port()
    gateway_module = __name__.rpartition(".")[0]  # <package>.gateway, whatever the project's package is
    command = [sys.executable, "-m", gateway_module, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=sink, stderr=subprocess.STDOUT)
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", log, process)
    deadline = time.monotonic() + ready_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            exited = f"the gateway exited {process.returncode} while starting"
            raise GatewayStartError(f"{exited}; log {log}:\n{gateway.tail()}")
        if health_problem(gateway.url, timeout=2) is None:
            return gateway
        time.sleep(0.2)
    gateway.stop()
    raise GatewayStartError(f"the gateway was not healthy within {ready_seconds:.0f} s; log {log}:\n{gateway.tail()}")


@contextmanager
def running(env: Mapping[str, str], log: Path, cwd: Path) -> Iterator[GatewayProcess]:
    """A started gateway for the `with` block, stopped after it."""
    gateway = start(env, log, cwd)
    try:
        yield gateway
    finally:
        gateway.stop()
