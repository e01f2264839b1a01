"""The service's signing keys at run time: load, sign, publish, rotate, prune, re-wrap.

A :class:`Keyset` is a cache of the key rows in a :class:`~keys.service.store.KeyStore`, reloaded
when older than ``cache_ttl``, so a rotation made by any process (a worker's schedule, ``idp keys
rotate``) reaches every worker without a restart. Because key states are functions of time
(:mod:`keys.service.rotation`), workers switch keys at the same instant once they have loaded the
rows, and the publish lead guarantees they have. Time is always an argument.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence

from keys.service.backend import KeyBackend
from keys.service.encryption import KeyEncryptionKeys
from keys.service.errors import KeyFault, KeyServiceError
from keys.service.jwks import jwks_document, public_jwk
from keys.service.rotation import (
    RotationPolicy,
    Successor,
    current_key,
    expired_keys,
    plan_successor,
    published_keys,
)
from keys.service.signer import Signer, check_algorithm
from keys.service.store import KeyStore, StoredKey

_AAD_LABEL = b"mynacard-id signing-key\x00"


def key_aad(kid: str, alg: str) -> bytes:
    """Associated data binding a wrapped private key to its row (``kid`` and ``alg``)."""
    return _AAD_LABEL + kid.encode("ascii") + b"\x00" + alg.encode("ascii")


class Keyset:
    """Signing keys of one process, backed by the shared :class:`KeyStore`."""

    def __init__(
        self,
        store: KeyStore,
        *,
        keks: KeyEncryptionKeys,
        backends: Mapping[str, KeyBackend],
        generate_with: str,
        algorithms: Sequence[str],
        policy: RotationPolicy,
        cache_ttl: dt.timedelta,
    ) -> None:
        for alg in algorithms:
            check_algorithm(alg)
        if generate_with not in backends:
            raise KeyServiceError(KeyFault.BACKEND_UNAVAILABLE, f"no backend named {generate_with!r}")
        self._store = store
        self._keks = keks
        self._backends = dict(backends)
        self._generate_with = generate_with
        self._algorithms = tuple(algorithms)
        self._policy = policy
        self._cache_ttl = cache_ttl
        self._keys: tuple[StoredKey, ...] = ()
        self._loaded_at: dt.datetime | None = None
        self._signers: dict[str, Signer] = {}
        self._lock = asyncio.Lock()

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms this keyset signs with."""
        return self._algorithms

    def _fresh(self, now: dt.datetime) -> bool:
        loaded = self._loaded_at
        return loaded is not None and loaded <= now < loaded + self._cache_ttl

    async def keys(self, now: dt.datetime, *, reload: bool = False) -> tuple[StoredKey, ...]:
        """All key rows, from the cache unless it is older than the TTL at ``now`` or ``reload`` is set."""
        if reload or not self._fresh(now):
            async with self._lock:
                if reload or not self._fresh(now):
                    self._keys = tuple(await self._store.load_keys())
                    self._loaded_at = now
                    kids = {k.kid for k in self._keys}
                    self._signers = {kid: s for kid, s in self._signers.items() if kid in kids}
        return self._keys

    async def signer(self, alg: str, now: dt.datetime) -> Signer:
        """The signer of the current ``alg`` key at ``now``; reloads once before failing closed."""
        if alg not in self._algorithms:
            raise KeyServiceError(KeyFault.UNSUPPORTED_ALGORITHM, f"{alg!r} is not enabled")
        key = current_key(await self.keys(now), alg, now) or current_key(await self.keys(now, reload=True), alg, now)
        if key is None:
            raise KeyServiceError(KeyFault.NO_CURRENT_KEY, f"no {alg} key is current")
        return self._signer(key)

    def _signer(self, key: StoredKey) -> Signer:
        signer = self._signers.get(key.kid)
        if signer is None:
            backend = self._backends.get(key.backend)
            if backend is None:
                raise KeyServiceError(KeyFault.BACKEND_UNAVAILABLE, f"key {key.kid} needs backend {key.backend!r}")
            secret = None if key.wrapped is None else self._keks.unwrap(key.wrapped, key_aad(key.kid, key.alg))
            signer = self._signers[key.kid] = backend.signer(key.alg, key.kid, key.ref, secret)
        return signer

    async def jwks(self, now: dt.datetime) -> dict[str, list[dict[str, str]]]:
        """The JWK Set at ``now``: next, current and retired-but-unexpired keys (RFC 7517 §5)."""
        return jwks_document(k.public_jwk for k in published_keys(await self.keys(now), now))

    async def rotate(
        self, now: dt.datetime, *, force: bool = False, algorithms: Sequence[str] | None = None
    ) -> list[StoredKey]:
        """Create every successor that is due at ``now`` (all of them when ``force``); return those created.

        Losing a race to another process is not an error: its key is kept and ours is destroyed.
        """
        snapshot = await self.keys(now, reload=True)
        created: list[StoredKey] = []
        for alg in algorithms or self._algorithms:
            if alg not in self._algorithms:
                raise KeyServiceError(KeyFault.UNSUPPORTED_ALGORITHM, f"{alg!r} is not enabled")
            plan = plan_successor(snapshot, alg, self._policy, now, force=force)
            if plan is not None:
                key = await self._create(plan, now)
                if await self._store.add_key(key, plan.retire):
                    created.append(key)
                else:
                    await asyncio.to_thread(self._backends[key.backend].destroy, key.ref)
        await self.keys(now, reload=True)
        return created

    async def _create(self, plan: Successor, now: dt.datetime) -> StoredKey:
        backend = self._backends[self._generate_with]
        generated = await asyncio.to_thread(backend.generate, plan.alg)
        jwk = public_jwk(generated.public_key, plan.alg)
        kid = jwk["kid"]
        wrapped = None if generated.secret is None else self._keks.wrap(generated.secret, key_aad(kid, plan.alg))
        return StoredKey(kid=kid, alg=plan.alg, generation=plan.generation, backend=backend.name, ref=generated.ref,
                         wrapped=wrapped, public_jwk=jwk, created_at=now, activate_at=plan.activate_at)

    async def prune(self, now: dt.datetime) -> list[str]:
        """Delete keys whose retention ended (rows first, then their HSM objects); return their kids."""
        gone = expired_keys(await self.keys(now, reload=True), now)
        if gone:
            await self._store.delete_keys([k.kid for k in gone])
            for key in gone:
                backend = self._backends.get(key.backend)
                if backend is not None:
                    await asyncio.to_thread(backend.destroy, key.ref)
            await self.keys(now, reload=True)
        return [k.kid for k in gone]

    def stale_wrapping(self) -> list[str]:
        """Kids of loaded keys encrypted under a KEK other than the first (to re-wrap)."""
        return [k.kid for k in self._keys if k.wrapped is not None and k.wrapped.kek_id != self._keks.primary_id]

    async def rewrap(self, now: dt.datetime) -> list[str]:
        """Re-encrypt every software key under the first KEK; return the kids re-wrapped."""
        done: list[str] = []
        for key in await self.keys(now, reload=True):
            if key.wrapped is not None:
                rewrapped = self._keks.rewrap(key.wrapped, key_aad(key.kid, key.alg))
                if rewrapped is not None:
                    await self._store.replace_wrapped(key.kid, rewrapped)
                    done.append(key.kid)
        await self.keys(now, reload=True)
        return done

    def close(self) -> None:
        """Close every backend."""
        for backend in self._backends.values():
            backend.close()
