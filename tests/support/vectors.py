"""The outside test vectors, located by pytest options (as pyca/cryptography does) with today's paths as defaults.

==================  ===============================================  ============================================
option              default                                          holds
==================  ===============================================  ============================================
--wycheproof-root   ``<vectors>/wycheproof``                         Wycheproof's JSON vector files
--x509-limbo-root   ``<vectors>/x509-limbo``                         x509-limbo's ``limbo.json``
--jlis-roots        ``<vectors>/jpki-roots``                         the J-LIS root certificates (PEM)
==================  ===============================================  ============================================

``<vectors>`` is :func:`conformance.vectors.vectors_dir` (``$MYNACARD_VECTORS``, else ``../shared/vectors``).
Tests that need a set skip with :func:`missing`'s reason when it is absent. ``tests/conftest.py`` declares the
options and the ``wycheproof_root``, ``x509_limbo_root`` and ``jlis_roots`` fixtures.

Usage (at import time of a test module, after the options are read)::

    LIMBO = vectors.x509_limbo_root() / "limbo.json"
    pytestmark = pytest.mark.skipif(not LIMBO.is_file(), reason=vectors.missing("x509_limbo"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from conformance.vectors import vectors_dir


@dataclass(frozen=True)
class VectorSet:
    """One outside set: its pytest option, its default place below the vectors directory, what it is."""

    option: str
    default: str
    title: str


SETS: Final = {
    "wycheproof": VectorSet("--wycheproof-root", "wycheproof", "Wycheproof vectors"),
    "x509_limbo": VectorSet("--x509-limbo-root", "x509-limbo", "x509-limbo vectors"),
    "jlis_roots": VectorSet("--jlis-roots", "jpki-roots", "J-LIS root certificates"),
}
_roots: dict[str, Path] = {name: vectors_dir() / spec.default for name, spec in SETS.items()}


def add_options(parser: pytest.Parser) -> None:
    """Declare one option per set (``pytest_addoption``)."""
    for name, spec in SETS.items():
        parser.addoption(spec.option, type=Path, default=None, dest=f"vectors_{name}",
                         help=f"directory of the {spec.title} (default: {_roots[name]})")


def configure(config: pytest.Config) -> None:
    """Take the places the options give (``pytest_configure``)."""
    for name in SETS:
        value = config.getoption(f"vectors_{name}")
        if value is not None:
            _roots[name] = Path(value).resolve()


def root(name: str) -> Path:
    """Where the set ``name`` is (it may be absent)."""
    return _roots[name]


def wycheproof_root() -> Path:
    return root("wycheproof")


def x509_limbo_root() -> Path:
    return root("x509_limbo")


def jlis_roots() -> Path:
    return root("jlis_roots")


def missing(name: str) -> str:
    """The skip reason for an absent set."""
    spec = SETS[name]
    return f"{spec.title} not found at {_roots[name]} (give their directory with {spec.option})"


def require(name: str) -> Path:
    """The set's directory, or skip the test with :func:`missing`'s reason."""
    if not _roots[name].is_dir():
        pytest.skip(missing(name))
    return _roots[name]


__all__ = ["SETS", "add_options", "configure", "jlis_roots", "missing", "require", "root", "wycheproof_root",
           "x509_limbo_root"]
