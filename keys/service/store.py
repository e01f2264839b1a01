"""What a signing key is at rest, and the storage protocol the provider implements.

A key's state is a function of time (:meth:`StoredKey.state`): every timestamp is fixed when the key
or its successor is written, so all workers that have loaded the same rows agree on which key signs
at any instant without coordinating. The protocol keeps ``keys/`` free of any database import:
``idp.storage`` implements it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from keys.service.encryption import WrappedKey


class KeyState(StrEnum):
    """Lifecycle of a signing key: published before use, used, published until its tokens expire."""

    NEXT = "next"
    CURRENT = "current"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One signing key row.

    ``generation`` counts keys per algorithm (unique with ``alg``, which makes concurrent rotations
    collide instead of both succeeding). ``backend`` names where the private key lives; ``ref`` is the
    backend's reference to it (a PKCS#11 label) and ``wrapped`` the encrypted private key of a software
    key. The key is published from ``created_at``, signs from ``activate_at`` until ``retire_at``, and
    stays published until ``expires_at``.
    """

    kid: str
    alg: str
    generation: int
    backend: str
    ref: str | None
    wrapped: WrappedKey | None
    public_jwk: Mapping[str, str]
    created_at: dt.datetime
    activate_at: dt.datetime
    retire_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None

    def state(self, now: dt.datetime) -> KeyState:
        """The state at ``now``."""
        if self.retire_at is not None and now >= self.retire_at:
            return KeyState.RETIRED
        return KeyState.NEXT if now < self.activate_at else KeyState.CURRENT

    def published(self, now: dt.datetime) -> bool:
        """Whether the key belongs in the JWKS at ``now``."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class Retirement:
    """When key ``kid`` stops signing and when it leaves the JWKS."""

    kid: str
    retire_at: dt.datetime
    expires_at: dt.datetime


class KeyStore(Protocol):
    """Persistence of signing keys, shared by every worker."""

    async def load_keys(self) -> Sequence[StoredKey]:
        """Every stored key, including expired ones not yet pruned."""
        ...

    async def add_key(self, key: StoredKey, retire: Retirement | None) -> bool:
        """Insert ``key`` and apply ``retire`` to its predecessor in one transaction.

        Returns False, changing nothing, when a key with the same ``alg`` and ``generation`` exists
        (another worker rotated first).
        """
        ...

    async def replace_wrapped(self, kid: str, wrapped: WrappedKey) -> None:
        """Store a re-encrypted private key for ``kid``."""
        ...

    async def delete_keys(self, kids: Sequence[str]) -> None:
        """Delete the rows of ``kids``."""
        ...
