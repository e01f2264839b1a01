"""The private PostgreSQL cluster, now in :mod:`tests.support.postgres`; re-exported for older importers."""

from tests.support.postgres import Cluster, free_port, install

__all__ = ["Cluster", "free_port", "install"]
