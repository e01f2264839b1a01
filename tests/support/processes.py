"""Server processes for tests: start one with its output in a log file, wait until it answers, stop it by PID.

Usage::

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving([sys.executable, "-m", "idp", "serve", "--port", str(port)], env=env, log=log, url=url):
        ...                                       # /healthz answered 200
    assert not logged_errors(log)
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

#: The repository's root: the working directory of the processes under test.
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """``command`` with the environment ``env`` (complete, not added to this process's) and its standard output
    and error appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(list(command), env=dict(env), stdout=out, stderr=out, cwd=cwd)


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, *, timeout: float = 30,
                 path: str = "/healthz") -> None:
    """Poll ``url + path`` until it answers 200; fail with the log's tail if the process exits, or when time is up."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not become healthy: {log.read_text(errors='replace')[-1500:]}"
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], *, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL when the process is still there after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(command: Sequence[str], *, env: Mapping[str, str], log: Path, url: str, timeout: float = 30,
            cwd: Path = ROOT) -> Iterator[subprocess.Popen[bytes]]:
    """:func:`start`, :func:`wait_healthy`, and :func:`stop` on the way out."""
    process = start(command, env=env, log=log, cwd=cwd)
    try:
        wait_healthy(url, process, log, timeout=timeout)
        yield process
    finally:
        stop(process)


def logged_errors(log: Path) -> list[str]:
    """The lines of a JSON log written at level ``error``."""
    return [line for line in log.read_text(errors="replace").splitlines() if '"level": "error"' in line]


__all__ = ["ROOT", "free_port", "logged_errors", "serving", "start", "stop", "wait_healthy"]
