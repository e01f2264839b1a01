"""The wallet file: credentials with their holder keys, and deferred issuances still to collect (JSON, written
atomically with mode 0600).

``{"version": 1, "credentials": [{"id", "issuer", "configuration_id", "vct", "credential", "key", "received_at"}],
"deferred": [{"issuer", "configuration_id", "transaction_id", "deferred_endpoint", "access_token", "dpop_key",
"keys"}]}``
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1


@dataclass
class WalletFile:
    """The wallet's state, loaded from and saved to ``path``."""

    path: Path
    credentials: list[dict[str, Any]] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path) -> WalletFile:
        """Load ``path`` (an empty wallet when it does not exist)."""
        if not path.exists():
            return cls(path)
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("version") != VERSION:
            raise ValueError(f"{path}: not a version {VERSION} wallet file")
        return cls(path, list(document.get("credentials") or []), list(document.get("deferred") or []))

    def save(self) -> None:
        """Write atomically (mode 0600)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"version": VERSION, "credentials": self.credentials, "deferred": self.deferred}, out,
                      ensure_ascii=False, indent=1)
        os.chmod(staging, 0o600)
        os.replace(staging, self.path)

    def add(self, entry: Mapping[str, Any]) -> str:
        """Keep a credential; its id."""
        credential_id = secrets.token_hex(8)
        self.credentials.append({"id": credential_id, **entry})
        return credential_id


__all__ = ["VERSION", "WalletFile"]
