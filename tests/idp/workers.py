"""Code that test worker processes run (spawned interpreters import it by name)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from idp.storage import Database, ObjectStore, SqlKeyStore
from keys.service import KeyEncryptionKeys, Keyset, RotationPolicy, SoftwareBackend


def consume_concurrently(url: str, kind: str, object_id: str, attempts: int, start: Any) -> int:
    """Consume one object ``attempts`` times at once from this process, once every process has connected and
    reached the ``start`` barrier (a ``multiprocessing.Manager().Barrier``): the number of successes."""

    async def run() -> int:
        db = Database.connect(url)
        store = ObjectStore(db)
        try:
            await store.find(kind, object_id, now=dt.datetime.now(dt.UTC))  # connect before the start line
            start.wait(timeout=60)  # every process connected: they race from here
            results = await asyncio.gather(*(store.consume(kind, object_id, now=dt.datetime.now(dt.UTC))
                                             for _ in range(attempts)))
        finally:
            await db.dispose()
        return sum(result is not None for result in results)

    return asyncio.run(run())


def observe_keys(url: str, keks: str, cache_ttl: float, lead: float, seconds: float, queue: Any) -> None:
    """Sign with the current ES256 key every 20 ms for ``seconds``, putting ``(time, signing kid, jwks kids)``
    on ``queue`` after a first ``"ready"``; a second worker process that is never restarted."""

    async def run() -> None:
        db = Database.connect(url)
        keyset = Keyset(SqlKeyStore(db), keks=KeyEncryptionKeys.parse(keks), backends={"software": SoftwareBackend()},
                        generate_with="software", algorithms=("ES256",),
                        policy=RotationPolicy(dt.timedelta(seconds=lead * 10), dt.timedelta(seconds=lead),
                                              dt.timedelta(seconds=lead)),
                        cache_ttl=dt.timedelta(seconds=cache_ttl))
        try:
            await keyset.signer("ES256", dt.datetime.now(dt.UTC))
            queue.put("ready")
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                now = dt.datetime.now(dt.UTC)
                signer = await keyset.signer("ES256", now)
                kids = [k["kid"] for k in (await keyset.jwks(now))["keys"]]
                queue.put((now, signer.kid, kids))
                await asyncio.sleep(0.02)
        finally:
            keyset.close()
            await db.dispose()
        queue.put("done")

    asyncio.run(run())


def sign_tokens(env: dict[str, str], seconds: float, queue: Any) -> None:
    """A worker that never restarts: built from the same settings as the server, it signs an ID-token-like
    JWT every 20 ms (cycling through ES256, PS256, RS256) with whichever key is current, for ``seconds``."""
    import os

    from idp.settings import load_settings
    from idp.signing import build_keyset
    from keys.service import encode_jwt

    os.environ.update(env)
    settings = load_settings()

    async def run() -> None:
        db = Database.connect(settings.database_url)
        keyset = build_keyset(settings, db)
        try:
            end = time.monotonic() + seconds
            n = 0
            while time.monotonic() < end:
                now = dt.datetime.now(dt.UTC)
                alg = settings.keys.algorithms[n % len(settings.keys.algorithms)]
                iat = int(now.timestamp())
                claims = {"iss": settings.issuer, "sub": f"pairwise-{n}", "aud": "rp", "nonce": str(n), "iat": iat,
                          "exp": iat + int(settings.tokens.id_token_ttl)}
                queue.put((alg, encode_jwt(claims, await keyset.signer(alg, now))))
                n += 1
                await asyncio.sleep(0.02)
        finally:
            keyset.close()
            await db.dispose()
        queue.put(None)

    asyncio.run(run())
