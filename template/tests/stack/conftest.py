"""Real servers for the stack tests: PostgreSQL and Redis on free ports, in temporary folders.

`postgres_dsn` and `redis_url` are session fixtures shared by every layer. Each starts the real
server binary (PostgreSQL's `initdb`/`postgres`, Debian's `redis-server`), waits until it answers,
and stops it and removes its folder at the end, also when a test fails. A missing binary fails the
test with a message that names it (they are never skipped).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FAST_POSTGRES = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
NO_PERSISTENCE = ("--save", "", "--appendonly", "no", "--protected-mode", "no")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_binary(name: str, hint: str) -> str:
    """The path of a server binary, or a test failure naming it and how to install it."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        pytest.fail(f"`{name}` not found on PATH: the stack tests need it ({hint})", pytrace=False)
    return found


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(
        f"{name} did not listen on port {port} within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}"
    )


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _unprivileged() -> tuple[Callable[[], None] | None, int, int]:
    """PostgreSQL refuses to run as root: when root, run it as `postgres` (or `nobody`)."""
    if os.geteuid() != 0:
        return None, os.getuid(), os.getgid()
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        uid, gid = entry.pw_uid, entry.pw_gid

        def demote(uid: int = uid, gid: int = gid) -> None:
            os.setgid(gid)
            os.setuid(uid)

        return demote, uid, gid
    pytest.fail("running as root and neither a `postgres` nor a `nobody` user exists to run PostgreSQL")


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """`postgresql://postgres@127.0.0.1:<port>/postgres`: a fresh PostgreSQL server (trust auth).

    Tests create their own databases in it (CREATE DATABASE ...).
    """
    hint = "apt-get install postgresql, then put /usr/lib/postgresql/<version>/bin on PATH"
    initdb = require_binary("initdb", hint)
    postgres = require_binary("postgres", hint)
    folder = Path(tempfile.mkdtemp(prefix="stack-postgres-"))
    demote, uid, gid = _unprivileged()
    os.chown(folder, uid, gid)
    data, log = folder / "data", folder / "postgres.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        initialised = subprocess.run(
            [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            capture_output=True,
            text=True,
            preexec_fn=demote,
            check=False,
        )
        if initialised.returncode != 0:
            pytest.fail(f"initdb failed:\n{initialised.stdout[-2000:]}\n{initialised.stderr[-2000:]}")
        port = free_port()
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [postgres, "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(folder), *FAST_POSTGRES],
                stdout=sink,
                stderr=subprocess.STDOUT,
                preexec_fn=demote,
            )
        _wait_for_port(port, process, log, "postgres")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if process is not None:
            _stop(process, signal.SIGINT)  # "fast" shutdown: do not wait for clients to disconnect
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """`redis://127.0.0.1:<port>/0`: a fresh redis-server with no persistence."""
    redis_server = require_binary("redis-server", "apt-get install redis-server")
    folder = Path(tempfile.mkdtemp(prefix="stack-redis-"))
    log = folder / "redis.log"
    port = free_port()
    process: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), *NO_PERSISTENCE],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(port, process, log, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)
