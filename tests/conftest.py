"""Fixtures and options for every suite: the outside vectors' places (``--wycheproof-root``, ``--x509-limbo-root``,
``--jlis-roots``; :mod:`tests.support.vectors`) and the private PostgreSQL cluster (:mod:`tests.support.postgres`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import vectors
from tests.support.postgres import Cluster, install


def pytest_addoption(parser: pytest.Parser) -> None:
    vectors.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    vectors.configure(config)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """``@pytest.mark.anyio`` tests run on asyncio, the services' event loop."""
    return "asyncio"


@pytest.fixture(scope="session")
def wycheproof_root() -> Path:
    """The Wycheproof vector directory (skips when absent)."""
    return vectors.require("wycheproof")


@pytest.fixture(scope="session")
def x509_limbo_root() -> Path:
    """The x509-limbo directory, holding ``limbo.json`` (skips when absent)."""
    return vectors.require("x509_limbo")


@pytest.fixture(scope="session")
def jlis_roots() -> Path:
    """The directory of the real J-LIS root certificates (skips when absent)."""
    return vectors.require("jlis_roots")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The SQLite database of ``db_url``: a file in the test's directory (a suite may name another scheme)."""
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A fresh, empty database of each kind: ``sqlite_url``, or a new database of the session's cluster."""
    if request.param == "sqlite":
        return sqlite_url
    cluster: Cluster = request.getfixturevalue("postgres")
    return cluster.create_database()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A private PostgreSQL cluster for the session; skips when PostgreSQL cannot be installed."""
    reason = install()
    if reason is not None:
        pytest.skip(reason)
    cluster = Cluster.start()
    yield cluster
    cluster.stop()
