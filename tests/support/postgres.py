"""A private PostgreSQL cluster for the test session (test-environment.md §4).

initdb and pg_ctl run as the ``postgres`` user (initdb refuses root) in a fresh temporary directory,
listening on 127.0.0.1 on a free port with durability off. Each test gets its own database. The ``postgres``
fixture (``tests/conftest.py``) starts one per session, or skips when PostgreSQL cannot be installed.

Usage::

    cluster = Cluster.start()
    url = cluster.create_database()      # postgresql+asyncpg://postgres@127.0.0.1:PORT/t_…
    cluster.stop()
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def install() -> str | None:
    """Make sure PostgreSQL's server binaries exist (apt-get as root); the reason if they cannot."""
    if _bin_dir() is not None:
        return None
    if os.geteuid() != 0:
        return "PostgreSQL is not installed, and installing it (apt-get install postgresql) needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], env=env, capture_output=True, text=True,
                            timeout=900, check=False)
    if _bin_dir() is None:
        return f"apt-get install postgresql failed (exit {result.returncode}): {result.stderr.strip()[-300:]}"
    return None


@dataclass
class Cluster:
    base: Path
    bin_dir: Path
    port: int
    as_postgres: list[str]
    options: str = ""

    @classmethod
    def start(cls, *, settings: tuple[str, ...] = ()) -> Cluster:
        """A new cluster, with extra server ``settings`` (``name=value``, as ``postgres -c`` takes them)."""
        bin_dir = _bin_dir()
        assert bin_dir is not None
        base = Path(tempfile.mkdtemp(prefix="idp-pg-"))
        as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(base, "postgres")
            as_postgres = ["runuser", "-u", "postgres", "--"]
        port = free_port()
        options = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=300" + "".join(f" -c {s}" for s in settings))
        cluster = cls(base, bin_dir, port, as_postgres, options)
        cluster._run("initdb", "-D", str(base / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        cluster.start_server()
        return cluster

    def start_server(self) -> None:
        """Start the server (again, after :meth:`stop_server`), on the same port and data."""
        self._run("pg_ctl", "-D", str(self.base / "data"), "-o", self.options, "-l", str(self.base / "log"), "-w",
                  "start")

    def stop_server(self, mode: str = "immediate") -> None:
        """Stop the server, keeping its data (``immediate``: as a crash would, every connection cut)."""
        self._run("pg_ctl", "-D", str(self.base / "data"), "-m", mode, "-w", "stop")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(self.bin_dir / tool), *args], check=True, capture_output=True,
                       timeout=120)

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL (asyncpg driver)."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q", "-c",
                  f"CREATE DATABASE {name}")
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def sql(self, database: str, statement: str, **values: str) -> str:
        """Run one SQL ``statement`` with psql in ``database`` (a name or one of :meth:`create_database`'s URLs);
        its unaligned output. ``values`` are psql variables, quoted in the statement as ``:'name'``."""
        name = database.rsplit("/", 1)[-1]
        variables = [f"--set={key}={value}" for key, value in values.items()]
        return subprocess.run([*self.as_postgres, str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                               "-U", "postgres", "-d", name, "-qAtX", *variables], input=statement, check=True,
                              capture_output=True, text=True, timeout=60).stdout.strip()

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, …)."""
        postmaster = int((self.base / "data" / "postmaster.pid").read_text().split()[0])
        children: list[int] = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        return [postmaster, *children]

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


__all__ = ["Cluster", "free_port", "install"]
