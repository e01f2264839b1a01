"""The service keyset over the provider's database (SQLite and PostgreSQL): first start, rotation
lifecycle, several workers, KEK rotation, pruning, and PKCS#11 keys."""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
from collections.abc import Sequence

import jwt
import pytest

from idp.storage import Database, SqlKeyStore
from keys.service import (
    KeyBackend,
    KeyEncryptionKeys,
    KeyFault,
    KeyServiceError,
    Keyset,
    KeyState,
    RotationPolicy,
    SoftwareBackend,
    encode_jwt,
)
from keys.service.pkcs11 import Pkcs11Backend
from tests.idp.conftest import NOW
from tests.idp.workers import observe_keys
from tests.keys.service import softhsm

pytestmark = pytest.mark.anyio

KEK_A, KEK_B = KeyEncryptionKeys.generate(), KeyEncryptionKeys.generate()
MINUTE = dt.timedelta(minutes=1)
#: JWKS max-age 90 s + worker cache 30 s <= publish lead 2 min; tokens live 2 min, + 1 min tolerance.
JWKS_MAX_AGE, CACHE_TTL, TOKEN_TTL = dt.timedelta(seconds=90), dt.timedelta(seconds=30), 2 * MINUTE
POLICY = RotationPolicy(interval=10 * MINUTE, publish_lead=2 * MINUTE, retention=TOKEN_TTL + MINUTE)


def make_keyset(db: Database, keks: str = KEK_A, algorithms: Sequence[str] = ("ES256",),
                backends: dict[str, KeyBackend] | None = None, generate_with: str = "software") -> Keyset:
    return Keyset(SqlKeyStore(db), keks=KeyEncryptionKeys.parse(keks),
                  backends=backends or {"software": SoftwareBackend()}, generate_with=generate_with,
                  algorithms=algorithms, policy=POLICY, cache_ttl=CACHE_TTL)


async def test_first_start_creates_a_current_key_per_algorithm(db: Database) -> None:
    keyset = make_keyset(db, algorithms=("ES256", "PS256", "RS256"))
    with pytest.raises(KeyServiceError) as caught:
        await keyset.signer("ES256", NOW)
    assert caught.value.fault is KeyFault.NO_CURRENT_KEY
    created = await keyset.rotate(NOW)
    assert sorted(k.alg for k in created) == ["ES256", "PS256", "RS256"]
    assert await keyset.rotate(NOW) == []
    document = await keyset.jwks(NOW)
    assert sorted((k["alg"], k["use"]) for k in document["keys"]) == [("ES256", "sig"), ("PS256", "sig"),
                                                                     ("RS256", "sig")]
    for alg in ("ES256", "PS256", "RS256"):
        signer = await keyset.signer(alg, NOW)
        token = encode_jwt({"iss": "https://op.example", "alg_used": alg}, signer)
        key = jwt.PyJWKSet.from_dict(document)[signer.kid]
        assert jwt.decode(token, key, algorithms=[alg])["alg_used"] == alg
    with pytest.raises(KeyServiceError) as disabled:
        await make_keyset(db).signer("PS256", NOW)
    assert disabled.value.fault is KeyFault.UNSUPPORTED_ALGORITHM


async def test_lifecycle_publish_before_use_retire_after_expiry(db: Database) -> None:
    """Simulated 49 minutes: worker A runs the rotation schedule, worker B signs tokens, and a relying
    party caches B's JWKS for its full max-age. Every token must verify against the cached JWKS for its
    whole lifetime, without the relying party ever refetching early."""
    rotator, worker = make_keyset(db), make_keyset(db)
    await rotator.rotate(NOW)
    rp_cache: tuple[dt.datetime, set[str]] | None = None
    live_tokens: list[tuple[dt.datetime, str]] = []  # (exp, kid)
    used: list[str] = []
    step = dt.timedelta(seconds=10)
    for n in range(294):
        now = NOW + n * step
        await rotator.rotate(now)
        signer = await worker.signer("ES256", now)
        if not used or used[-1] != signer.kid:
            used.append(signer.kid)
        live_tokens.append((now + TOKEN_TTL, signer.kid))
        if rp_cache is None or now - rp_cache[0] >= JWKS_MAX_AGE:
            rp_cache = (now, {k["kid"] for k in (await worker.jwks(now))["keys"]})
        live_tokens = [(exp, kid) for exp, kid in live_tokens if exp > now]
        missing = {kid for _, kid in live_tokens} - rp_cache[1]
        assert not missing, f"at +{now - NOW}: a live token's key is not in the relying party's JWKS"
    assert len(used) == len(set(used)) == 5  # rotated every 10 minutes, never back
    end = NOW + 294 * step  # 49 minutes: the 5th key signs since 40, its successor is published since 48
    states = {k.kid: k.state(end) for k in await worker.keys(end, reload=True)}
    assert states[used[-1]] is KeyState.CURRENT
    (successor,) = [kid for kid, state in states.items() if state is KeyState.NEXT]
    assert await rotator.prune(end) == used[:-1]  # retired 10 minutes ago or more: out of the JWKS
    assert [k["kid"] for k in (await worker.jwks(end))["keys"]] == [used[-1], successor]


async def test_concurrent_rotations_create_one_successor(db_url: str, db: Database) -> None:
    first = make_keyset(db)
    await first.rotate(NOW)
    other_db = Database.connect(db_url)
    try:
        second = make_keyset(other_db)
        results = await asyncio.gather(first.rotate(NOW, force=True), second.rotate(NOW, force=True))
        assert sorted(len(r) for r in results) == [0, 1]
        keys = await second.keys(NOW, reload=True)
        assert sorted(k.generation for k in keys) == [1, 2]
        assert keys[0].retire_at == keys[1].activate_at == NOW + POLICY.publish_lead
    finally:
        await other_db.dispose()


async def test_kek_rotation_and_rewrap(db: Database) -> None:
    old = make_keyset(db, KEK_A)
    await old.rotate(NOW)
    kid = (await old.signer("ES256", NOW)).kid
    both = make_keyset(db, f"{KEK_B},{KEK_A}")
    assert (await both.signer("ES256", NOW)).kid == kid  # new first KEK, old one still decrypts
    assert both.stale_wrapping() == [kid]
    assert await both.rewrap(NOW) == [kid]
    assert both.stale_wrapping() == []
    assert await both.rewrap(NOW) == []
    assert (await make_keyset(db, KEK_B).signer("ES256", NOW)).kid == kid  # old KEK dropped
    with pytest.raises(KeyServiceError) as caught:
        await make_keyset(db, KEK_A).signer("ES256", NOW)
    assert caught.value.fault is KeyFault.UNKNOWN_KEK


async def test_a_second_process_sees_rotation_without_restart(db_url: str, db: Database) -> None:
    lead, cache_ttl = 1.5, 0.3
    keyset = Keyset(SqlKeyStore(db), keks=KeyEncryptionKeys.parse(KEK_A), backends={"software": SoftwareBackend()},
                    generate_with="software", algorithms=("ES256",),
                    policy=RotationPolicy(dt.timedelta(seconds=15), dt.timedelta(seconds=lead),
                                          dt.timedelta(seconds=lead)),
                    cache_ttl=dt.timedelta(seconds=cache_ttl))
    await keyset.rotate(dt.datetime.now(dt.UTC))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=observe_keys, args=(db_url, KEK_A, cache_ttl, lead, 3.5, queue))
    child.start()
    try:
        assert queue.get(timeout=30) == "ready"
        old = (await keyset.signer("ES256", dt.datetime.now(dt.UTC))).kid
        rotated_at = dt.datetime.now(dt.UTC)
        (new,) = await keyset.rotate(rotated_at, force=True)
        observations = []
        while (item := queue.get(timeout=30)) != "done":
            observations.append(item)
    finally:
        child.join(timeout=30)
    assert child.exitcode == 0
    assert any(t < rotated_at for t, _, _ in observations)
    for t, signing_kid, kids in observations:
        assert signing_kid == (new.kid if t >= new.activate_at else old), t
        if t >= rotated_at + dt.timedelta(seconds=cache_ttl + 0.2):
            assert new.kid in kids  # published, by the other process's reload, well before first use
    assert observations[-1][0] > new.activate_at


async def test_pkcs11_keys_in_the_database(db: Database) -> None:
    reason = softhsm.unavailable()
    if reason:
        pytest.skip(reason)
    token = softhsm.token()
    hsm = Pkcs11Backend(token.module, token.label, token.pin)
    keyset = make_keyset(db, algorithms=("ES256", "PS256"), generate_with="pkcs11",
                         backends={"software": SoftwareBackend(), "pkcs11": hsm})
    try:
        created = await keyset.rotate(NOW)
        assert {(k.backend, k.wrapped) for k in created} == {("pkcs11", None)}
        document = await keyset.jwks(NOW)
        for alg in ("ES256", "PS256"):
            signer = await keyset.signer(alg, NOW)
            token_ = encode_jwt({"sub": "s"}, signer)
            assert jwt.decode(token_, jwt.PyJWKSet.from_dict(document)[signer.kid], algorithms=[alg]) == {"sub": "s"}
        (successor,) = await keyset.rotate(NOW, force=True, algorithms=["ES256"])
        gone = successor.activate_at + POLICY.retention
        old = next(k for k in created if k.alg == "ES256")
        assert await keyset.prune(gone) == [old.kid]
        with pytest.raises(KeyServiceError) as caught:
            hsm.signer("ES256", old.kid, old.ref, None)
        assert caught.value.fault is KeyFault.BACKEND_UNAVAILABLE
    finally:
        keyset.close()
