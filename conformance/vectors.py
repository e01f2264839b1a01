"""Where the outside test vectors live: ``../shared/vectors`` next to the project root.

The vectors (Wycheproof, x509-limbo, the J-LIS roots) are never copied into the repository. A checkout
that does not sit next to ``shared/`` (a CI clone elsewhere) names the directory with
``MYNACARD_VECTORS``; without it, the work tree's ``shared/vectors`` is tried as well.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The project root (the directory holding ``pyproject.toml``).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

_CANDIDATES = (PROJECT_ROOT.parent / "shared" / "vectors", Path("/work/shared/vectors"))


def vectors_dir() -> Path:
    """The vectors directory: ``$MYNACARD_VECTORS``, else the first candidate that exists."""
    configured = os.environ.get("MYNACARD_VECTORS")
    if configured:
        return Path(configured)
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    return _CANDIDATES[0]


VECTORS = vectors_dir()
