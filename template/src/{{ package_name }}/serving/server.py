"""The local Triton server: the real `tritonserver` bundled in the nvidia-pytriton wheel, on CPU.

`LocalTriton(repository).start()` prepares the python backend folder (library, utils and the stub
for this interpreter's version), starts `tritonserver` with free or configured ports, and waits for
`/v2/health/ready`. `make serve` starts it detached and records it in `<state_dir>/server.json`;
`make serve-stop` (`stop_recorded`) stops it.

The server and its python stubs run on jemalloc when it is installed (`serving.allocator`), as
NVIDIA's Triton image allows through LD_PRELOAD: Triton allocates and frees small blocks for every
request, and glibc's malloc and free took over a tenth of the CPU samples under load.

Latency summaries (the p95 alert's series) are on with only the quantiles in
`decisions.monitoring.latency_summary_quantiles`: Triton updates five summaries per request, and
with its default quantiles their upkeep grew until it cut throughput by a third in 30 s of load.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import RepositoryError, ServingError

RECORD_FILE = "server.json"
# The python backend's shared memory, one region per model instance (`/dev/shm/<prefix><uuid>`)
SHM_REGION_PREFIX = "/dev/shm/triton_python_backend_shm_region_"
STUB_NAME = "triton_python_backend_stub"  # the python backend's model processes
ALLOCATORS = ("jemalloc", "system")
SUMMARY_QUANTILES = "0.95:0.02"  # the engine's default; platform.yaml's decision is passed in
EXIT_TIMEOUT_SECONDS = 5


def preload_for(allocator: str) -> str | None:
    """The library to LD_PRELOAD for `allocator`; None for glibc's own malloc or when not installed."""
    if allocator not in ALLOCATORS:
        raise ServingError(f"serving.allocator is {allocator!r}; choose one of {', '.join(ALLOCATORS)}")
    if allocator == "system":
        return None
    return ctypes.util.find_library("jemalloc")


@dataclass(frozen=True)
class TritonInstall:
    """Where the wheel keeps the server, the python backend, the stubs and the shared libraries."""

    binary: Path
    python_backend: Path
    stub: Path
    libs: Path

    @classmethod
    def find(cls) -> TritonInstall:
        spec = importlib.util.find_spec("pytriton")
        if spec is None or spec.origin is None:
            raise ServingError("nvidia-pytriton is not installed; run `make setup-all` (serve group)")
        root = Path(spec.origin).resolve().parent
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        install = cls(
            binary=root / "tritonserver" / "bin" / "tritonserver",
            python_backend=root / "tritonserver" / "backends" / "python",
            stub=root / "tritonserver" / "python_backend_stubs" / version / "triton_python_backend_stub",
            libs=root.parent / "nvidia_pytriton.libs",
        )
        for path in (install.binary, install.python_backend, install.stub):
            if not path.exists():
                raise ServingError(f"{path} is missing from the nvidia-pytriton wheel (Python {version})")
        return install

    def backend_directory(self, state_dir: Path) -> Path:
        """`<state_dir>/backends` with python/{libtriton_python.so, utils, stub} (copied once)."""
        target = state_dir / "backends" / "python"
        target.mkdir(parents=True, exist_ok=True)
        files = [
            self.python_backend / "libtriton_python.so",
            self.python_backend / "triton_python_backend_utils.py",
            self.stub,
        ]
        for source in files:
            copy = target / source.name
            if not copy.exists() or copy.stat().st_size != source.stat().st_size:
                shutil.copy2(source, copy)
        return target.parent

    def environment(self, preload: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        libdir = str(sysconfig.get_config_var("LIBDIR") or "")
        env["LD_LIBRARY_PATH"] = ":".join(p for p in (str(self.libs), libdir, env.get("LD_LIBRARY_PATH", "")) if p)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        env.setdefault("OMP_NUM_THREADS", "1")
        if preload:
            env["LD_PRELOAD"] = ":".join(p for p in (preload, env.get("LD_PRELOAD", "")) if p)
        return env


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` TCP ports nothing listens on, all different (each probe stays bound until all are picked)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for probe in probes:
            probe.bind((host, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the tests' servers and the benches use it too)."""
    return free_ports(1, host)[0]


def port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def check_repository(repository: Path) -> list[str]:
    """The model names in `repository`; raises RepositoryError when it is missing or empty."""
    if not repository.is_dir():
        raise RepositoryError(f"model repository {repository} does not exist; build it first (make build-serving)")
    models = sorted(p.name for p in repository.iterdir() if (p / "config.pbtxt").is_file())
    if not models:
        raise RepositoryError(
            f"model repository {repository} holds no model (no */config.pbtxt); run make build-serving"
        )
    return models


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)


class LocalTriton:
    """A `tritonserver` process over one model repository; a context manager that always stops it."""

    def __init__(
        self,
        repository: Path,
        *,
        state_dir: Path,
        host: str = "127.0.0.1",
        http_port: int = 0,
        grpc_port: int = 0,
        metrics_port: int = 0,
        startup_timeout: float = 120.0,
        log_file: Path | None = None,
        extra_args: tuple[str, ...] = (),
        allocator: str = "jemalloc",
        summary_quantiles: str = SUMMARY_QUANTILES,
    ) -> None:
        self.repository = repository.resolve()
        self.state_dir = state_dir.resolve()
        self.host = host
        self.requested_ports = {"http": http_port, "grpc": grpc_port, "metrics": metrics_port}
        self.ports: dict[str, int] = {}
        self.startup_timeout = startup_timeout
        self.log_file = (log_file or self.state_dir / "tritonserver.log").resolve()
        self.extra_args = extra_args
        self.summary_quantiles = summary_quantiles
        self.preload = preload_for(allocator)
        # what the server really runs on: jemalloc falls back to glibc's malloc when not installed
        self.allocator = "jemalloc" if self.preload else "system"
        self.process: subprocess.Popen[bytes] | None = None
        self.released_regions: set[Path] = set()  # the shared memory the last stop removed

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.ports['http']}"

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.ports['grpc']}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.ports['metrics']}/metrics"

    def _resolve_ports(self) -> dict[str, int]:
        fixed = {kind: port for kind, port in self.requested_ports.items() if port}
        for kind, port in fixed.items():
            if port_taken(self.host, port):
                raise ServingError(
                    f"{kind} port {port} on {self.host} is taken (another Triton? `make serve-stop`); "
                    f"choose another with serving.ports.{kind} in platform.yaml or $SERVING_{kind.upper()}_PORT "
                    "(0 = a free one)"
                )
        # 0 = a free port, different from the others; enough candidates that the fixed ones can be skipped
        candidates = free_ports(len(self.requested_ports), self.host)
        free = iter(port for port in candidates if port not in fixed.values())
        return {kind: fixed[kind] if kind in fixed else next(free) for kind in self.requested_ports}

    def command(self, install: TritonInstall) -> list[str]:
        return [
            str(install.binary),
            f"--model-repository={self.repository}",
            f"--backend-directory={install.backend_directory(self.state_dir)}",
            f"--http-address={self.host}",
            f"--http-port={self.ports['http']}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.ports['grpc']}",
            f"--metrics-port={self.ports['metrics']}",
            "--allow-metrics=true",
            "--metrics-config=summary_latencies=true",  # the p95 alert's series
            f"--metrics-config=summary_quantiles={self.summary_quantiles}",
            "--allow-gpu-metrics=false",
            "--strict-readiness=true",
            # Seconds a stop waits for in-flight requests and model unloads: this Triton (2.45) can
            # keep a streaming model loaded after a client cancelled its gRPC stream, and a stop
            # then waited out the default 30 s.
            f"--exit-timeout-secs={EXIT_TIMEOUT_SECONDS}",
            "--log-verbose=0",
            *self.extra_args,
        ]

    def start(self, *, detach: bool = False) -> LocalTriton:
        check_repository(self.repository)
        install = TritonInstall.find()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ports = self._resolve_ports()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(install),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=install.environment(self.preload),
                start_new_session=True,
            )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        if detach:
            self.record()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://{self.http_url}/v2/health/ready"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServingError(f"tritonserver exited with code {self.process.returncode}:\n{self.log_tail()}")
            status, _ = http_get(url, timeout=1.0)
            if status == 200:
                return
            time.sleep(0.2)
        raise ServingError(f"tritonserver not ready on {url} after {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.is_file():
            return "(no log)"
        return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def metrics(self) -> str:
        status, body = http_get(self.metrics_url)
        if status != 200:
            raise ServingError(f"metrics endpoint {self.metrics_url} answered {status}: {body[:200]}")
        return body

    def record(self) -> Path:
        assert self.process is not None
        path = self.state_dir / RECORD_FILE
        payload = {
            "pid": self.process.pid,
            "host": self.host,
            "ports": self.ports,
            "repository": str(self.repository),
            "log": str(self.log_file),
            "allocator": self.allocator,
        }
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        return path

    def stop(self, timeout: float = 30.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is not None:  # the server died: its python backend stubs may live on
            _stop_orphans(process.pid, timeout)
            return
        self.released_regions = _terminate(process.pid, timeout, wait=process.wait)

    def __enter__(self) -> LocalTriton:
        return self.start() if self.process is None else self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A detached server that exited stays a zombie until init reaps it (a second or more).
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def shm_regions(pid: int) -> set[Path]:
    """The python backend's shared-memory regions that process `pid` maps (none if it is gone)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text(encoding="utf-8")
    except OSError:
        return set()
    regions = set()
    for line in maps.splitlines():
        start = line.find(SHM_REGION_PREFIX)
        if start >= 0:
            regions.add(Path(line[start:].removesuffix(" (deleted)")))
    return regions


def _terminate(pid: int, timeout: float, wait: Any = None) -> set[Path]:
    """SIGTERM the server's process group (server + python backend stubs), SIGKILL after `timeout`;
    then remove the server's shared-memory regions, which it leaves behind whenever a client still
    holds a connection (it then exits without unloading its models). Returns the regions removed."""
    regions = shm_regions(pid)
    try:
        _signal_until_gone(pid, timeout, wait)
    finally:
        for region in regions:
            region.unlink(missing_ok=True)
    return regions


def _signal_until_gone(pid: int, timeout: float, wait: Any) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wait is not None:
                try:
                    wait(timeout=0.2)
                    return
                except subprocess.TimeoutExpired:
                    continue
            if not is_running(pid):
                return
            time.sleep(0.2)


def group_members(pgid: int) -> list[int]:
    """The running processes of process group `pgid` (a server started in its own session and the
    python backend stubs it forked), from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _stop_orphans(pgid: int, timeout: float) -> None:
    """When the server died (killed, crashed), its python backend stubs can outlive it in its process
    group, holding their shared memory: signal them as a stop would have."""
    stubs = [pid for pid in group_members(pgid) if Path(_command(pid)).name == STUB_NAME]
    for pid in stubs:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    if _all_gone(stubs, timeout):
        return
    for pid in stubs:  # a stub that ignores SIGTERM (stopped, or stuck on shared memory)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _all_gone(stubs, 5.0)


def _all_gone(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(is_running(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return ""


def read_record(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / RECORD_FILE
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def stop_recorded(state_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the server `make serve` started; False when none was running."""
    record = read_record(state_dir)
    if record is None:
        return False
    pid = int(record["pid"])
    running = is_running(pid)
    if running:
        _terminate(pid, timeout)
    else:
        _stop_orphans(pid, timeout)
    (state_dir / RECORD_FILE).unlink(missing_ok=True)
    return running
