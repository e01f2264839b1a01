"""Reading trust anchors from a directory (the only file I/O next to the pure trust store)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from keys.limits import DEFAULT_LIMITS, Limits, check_size
from keys.trust import TrustStore

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_SUFFIXES = {".pem", ".crt", ".cer", ".der"}


def load_trust_directory(
    directory: Path,
    *,
    allow_test_roots: bool = False,
    extra_pins: Mapping[str, str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> TrustStore:
    """Build a :class:`TrustStore` from every certificate file in ``directory`` (PEM bundles or DER).

    Files that are not admitted are listed in :attr:`TrustStore.refused`, never trusted.
    """
    candidates: list[tuple[str, bytes]] = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in _SUFFIXES or not path.is_file():
            continue
        data = path.read_bytes()
        check_size(data, limits.pem_bytes, f"trust file {path.name}")
        blocks = _PEM_BLOCK.findall(data)
        if blocks:
            candidates.extend((f"{path.name}#{i}", block) for i, block in enumerate(blocks))
        else:
            candidates.append((path.name, data))
    return TrustStore.build(candidates, allow_test_roots=allow_test_roots, extra_pins=extra_pins, limits=limits)
