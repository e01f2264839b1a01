"""Development secrets kept in the data directory (a development KEK, a development salt): created once, mode
0600, atomically, so that every process of a deployment ends up with the same one.

Usage::

    path = data_dir / "dev-kek"
    write_once(path, KeyEncryptionKeys.generate() + "\\n")   # a no-op when the file exists
    text = path.read_text(encoding="ascii")
"""

from __future__ import annotations

import os
from pathlib import Path


def write_once(path: Path, text: str) -> None:
    """Create ``path`` (mode 0600, its directory 0700) holding ``text`` unless it exists. Concurrent callers race
    safely: each writes a staging file and links it into place, and exactly one link wins."""
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(text)
    try:
        os.link(staging, path)  # atomic: exactly one process's file wins
    except FileExistsError:
        pass
    finally:
        staging.unlink()
