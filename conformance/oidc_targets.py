"""The providers under test, as processes on loopback: npm ``oidc-provider`` (the reference) and ours (``idp serve``).

A target starts on free ports, registers the clients of :mod:`conformance.oidc_clients`, waits until its
discovery document answers, and stops every process it started, by PID (SIGTERM, then SIGKILL after a grace
period). Node packages come from ``conformance/oidc_node/package-lock.json`` through ``npm ci`` when
``node_modules`` is missing; nothing else is fetched. ``oidc-provider`` keeps state in process memory, so several
processes are independent providers (one issuer each); ours shares state through its database, so several
workers serve one issuer.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import httpx

from conformance.oidc_clients import POST_LOGOUT_REDIRECT_URI, ClientSpec

NODE_DIR: Final = Path(__file__).resolve().parent / "oidc_node"
_READY_TIMEOUT: Final = 60.0
_STOP_GRACE: Final = 10.0


class TargetError(Exception):
    """A target could not be prepared or started; the message says why (with the log's tail)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_node_modules() -> None:
    """Install the locked Node packages (``npm ci``) unless they are there already."""
    if (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        return
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise TargetError("node and npm are needed (Node 20 or later)")
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                            capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise TargetError(f"npm ci failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")


@dataclass
class Process:
    """A child process with its output in ``log``; :meth:`stop` ends it by its PID."""

    argv: Sequence[str]
    log: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(list(self.argv), stdout=out, stderr=out, cwd=self.cwd,
                                          env=None if self.env is None else {**os.environ, **self.env})

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, chars: int = 1500) -> str:
        """The end of the process's output."""
        return self.log.read_text(errors="replace")[-chars:]

    def wait_ready(self, url: str, *, timeout: float = _READY_TIMEOUT) -> None:
        """Poll ``url`` until it answers 200; raise :class:`TargetError` if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise TargetError(f"{self.argv[0]} exited {self.popen.returncode}: {self.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TargetError(f"{url} did not answer within {timeout:.0f} s: {self.tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if still running after the grace period."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait()


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


@dataclass
class Target:
    """A running provider: its issuers (one per independent process group) and its server PIDs."""

    name: str
    issuers: list[str]
    processes: list[Process]
    workdir: Path

    @property
    def issuer(self) -> str:
        return self.issuers[0]

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (uvicorn's workers rather than its supervisor)."""
        pids: list[int] = []
        for process in self.processes:
            pids.extend(child_pids(process.pid) or [process.pid])
        return pids

    def log_marks(self) -> list[int]:
        """Where each process's log ends now (for :meth:`server_errors`)."""
        return [p.log.stat().st_size for p in self.processes]

    def server_errors(self, marks: list[int]) -> list[str]:
        """Unhandled exceptions our provider logged after ``marks`` (its JSON log lines), one line each: the
        exception and the deepest frame in the project."""
        found: list[str] = []
        for process, mark in zip(self.processes, marks, strict=True):
            with process.log.open("rb") as log:
                log.seek(mark)
                for raw in log:
                    with contextlib.suppress(ValueError):
                        record = json.loads(raw)
                        if isinstance(record, dict) and isinstance(record.get("exception"), str):
                            found.append(_summarize(record["exception"]))
        return found


def _summarize(trace: str) -> str:
    lines = trace.strip().splitlines()
    frames = re.findall(r'File "([^"]+)", line (\d+)', trace)
    ours = [(path, line) for path, line in frames if "site-packages" not in path]
    where = f" at {Path(ours[-1][0]).name}:{ours[-1][1]}" if ours else ""
    return f"{lines[-1].strip() if lines else 'exception'}{where}"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise TargetError("node is needed (Node 20 or later)")
    return node


@contextlib.contextmanager
def oidc_provider(clients: Mapping[str, ClientSpec], workdir: Path, *, processes: int = 1) -> Iterator[Target]:
    """npm oidc-provider (``oidc_node/server.mjs``), ``processes`` independent instances with the same clients."""
    ensure_node_modules()
    registered = [c.metadata() for c in clients.values() if c.registered]
    started: list[Process] = []
    issuers: list[str] = []
    try:
        for index in range(processes):
            port = free_port()
            issuer = f"http://127.0.0.1:{port}"
            config = workdir / f"oidc-provider-{index}.json"
            config.write_text(json.dumps({"issuer": issuer, "port": port, "clients": registered}))
            process = Process([_node(), str(NODE_DIR / "server.mjs"), str(config)],
                              workdir / f"oidc-provider-{index}.log", cwd=NODE_DIR)
            started.append(process)
            process.wait_ready(f"{issuer}/.well-known/openid-configuration")
            issuers.append(issuer)
        yield Target("oidc-provider", issuers, started, workdir)
    finally:
        for process in started:
            process.stop()


def _idp(*args: str, env: Mapping[str, str], log: IO[str]) -> str:
    result = subprocess.run([sys.executable, "-m", "idp", *args], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=120, check=False)
    log.write(f"$ idp {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        raise TargetError(f"idp {' '.join(args[:3])} exited {result.returncode}: {result.stderr.strip()[-800:]}")
    return result.stdout


def register_with_cli(clients: Mapping[str, ClientSpec], env: Mapping[str, str], workdir: Path) -> None:
    """Register every client with ``idp clients add``; client_secret_basic clients get their secret from it."""
    with (workdir / "idp-admin.log").open("a") as log:
        for client in clients.values():
            if not client.registered:
                continue
            args = ["clients", "add", client.client_id, "--redirect-uri", client.redirect_uri,
                    "--auth-method", client.auth, "--post-logout-redirect-uri", POST_LOGOUT_REDIRECT_URI]
            if client.public_jwks is not None:
                jwks = workdir / f"{client.client_id}.jwks.json"
                jwks.write_text(json.dumps(client.public_jwks))
                args += ["--jwks", str(jwks)]
            output = json.loads(_idp(*args, env=env, log=log))
            if output.get("client_secret"):
                client.secret = output["client_secret"]


@contextlib.contextmanager
def ours(clients: Mapping[str, ClientSpec], workdir: Path, *, workers: int = 1, database_url: str | None = None,
         extra_env: Mapping[str, str] | None = None) -> Iterator[Target]:
    """``idp serve`` in test mode (the TEST authenticator) with a fresh data directory (SQLite unless
    ``database_url``), ``workers`` worker processes on one port."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {"MYNACARD_ISSUER": issuer, "MYNACARD_DATA_DIR": str(workdir / "var"), "MYNACARD_TEST_MODE": "1",
           "MYNACARD_LOGIN_AUTHENTICATOR": "test", "MYNACARD_LOGGING_LEVEL": "WARNING", **(extra_env or {})}
    if database_url is not None:
        env["MYNACARD_DATABASE_URL"] = database_url
    register_with_cli(clients, env, workdir)
    process = Process([sys.executable, "-m", "idp", "serve", "--host", "127.0.0.1", "--port", str(port),
                       "--workers", str(workers)], workdir / "idp-serve.log", env=env)
    try:
        process.wait_ready(f"{issuer}/healthz")
        yield Target("ours", [issuer], [process], workdir)
    finally:
        process.stop()


@contextlib.contextmanager
def workdir(keep: Path | None, prefix: str) -> Iterator[Path]:
    """``keep`` (created, kept) or a temporary directory removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp)


__all__ = ["NODE_DIR", "Process", "Target", "TargetError", "child_pids", "ensure_node_modules", "free_port",
           "oidc_provider", "ours", "register_with_cli", "workdir"]
