"""DPoP proofs (idp.oauth.dpop, RFC 9449 §4.3): every check, server nonces shared by workers through the database
(§8), single-use ``jti`` (§11.1), RFC 7638 thumbprints. Proofs are signed with pyjwt or assembled by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any

import pytest

from idp.oauth.dpop import NONCE_PERIOD, DpopProof, InvalidDpopProof, UseDpopNonce, current_nonce, verify_dpop_proof
from idp.runtime import Services
from keys.jose.jwk import jwk_thumbprint
from tests.idp.protocol.clientfixtures import (
    NOW,
    TOKEN_URL,
    Key,
    b64,
    epoch,
    unsigned,
)

pytestmark = pytest.mark.anyio
ACCESS_TOKEN = "an-access-token"
ATH = b64(hashlib.sha256(ACCESS_TOKEN.encode()).digest())


def proof_claims(nonce: str | None, *, at: dt.datetime = NOW, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": "POST", "htu": TOKEN_URL, "iat": epoch(at),
                              "nonce": nonce, **overrides}
    return {name: value for name, value in claims.items() if value is not None}


def proof(key: Key, claims: dict[str, Any], **header: Any) -> str:
    return key.sign(claims, kid=None, typ="dpop+jwt", jwk={k: v for k, v in key.jwk.items() if k != "kid"}, **header)


async def verify(services: Services, token: str, *, method: str = "POST", url: str = TOKEN_URL,
                 now: dt.datetime = NOW, access_token: str | None = None) -> DpopProof:
    return await verify_dpop_proof(token, method=method, url=url, services=services, now=now, access_token=access_token)


def rfc7638(jwk: dict[str, str]) -> str:
    """RFC 7638 §3 computed here, independently of keys.jose.jwk."""
    members = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
async def test_a_valid_proof_gives_the_rfc7638_thumbprint(services: Services, alg: str) -> None:
    key = Key.generate(alg)
    nonce = await current_nonce(services, NOW)
    claims = proof_claims(nonce)
    verified = await verify(services, proof(key, claims))
    assert verified == DpopProof(jkt=rfc7638(key.jwk), jti=claims["jti"])


def test_the_rfc7638_example_thumbprint() -> None:
    """RFC 7638 §3.1: the example RSA key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs."""
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3o"
         "knjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6q"
         "MQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzK"
         "nqDKgw")
    assert jwk_thumbprint({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}) == \
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


async def test_the_nonce_flow(services: Services) -> None:
    key = Key.generate()
    with pytest.raises(UseDpopNonce) as caught:
        await verify(services, proof(key, proof_claims(None)))
    assert (caught.value.error, caught.value.nonce) == ("use_dpop_nonce", await current_nonce(services, NOW))
    assert len(caught.value.nonce) >= 22
    await verify(services, proof(key, proof_claims(caught.value.nonce)))
    for wrong in ("made-up", caught.value.nonce + "x", ""):
        with pytest.raises(UseDpopNonce):
            await verify(services, proof(key, proof_claims(wrong)))
    with pytest.raises(UseDpopNonce):  # a nonce is a string
        await verify(services, proof(key, {**proof_claims(None), "nonce": 7}))


async def test_nonces_rotate_and_the_previous_one_stays_valid(services: Services) -> None:
    key = Key.generate()
    first = await current_nonce(services, NOW)
    assert await current_nonce(services, NOW + dt.timedelta(seconds=1)) == first
    later = NOW + NONCE_PERIOD
    second = await current_nonce(services, later)
    assert second != first
    await verify(services, proof(key, proof_claims(first, at=later)), now=later)  # the previous period's
    much_later = NOW + 2 * NONCE_PERIOD
    with pytest.raises(UseDpopNonce) as caught:
        await verify(services, proof(key, proof_claims(first, at=much_later)), now=much_later)
    assert caught.value.nonce == await current_nonce(services, much_later) not in (first, second)


async def test_workers_agree_on_nonces(workers: tuple[Services, Services]) -> None:
    first, second = workers
    nonces = await asyncio.gather(*(current_nonce(w, NOW) for w in (first, second, first, second)))
    assert len(set(nonces)) == 1
    key = Key.generate()
    await verify(second, proof(key, proof_claims(await current_nonce(first, NOW))))


async def test_a_proof_is_single_use_across_workers(workers: tuple[Services, Services]) -> None:
    first, second = workers
    token = proof(Key.generate(), proof_claims(await current_nonce(first, NOW)))
    outcomes = await asyncio.gather(*(verify(w, token) for w in (first, second, first, second)),
                                    return_exceptions=True)
    assert sum(isinstance(o, DpopProof) for o in outcomes) == 1
    assert all(isinstance(o, InvalidDpopProof) for o in outcomes if not isinstance(o, DpopProof))
    with pytest.raises(InvalidDpopProof, match="already used"):
        await verify(first, token, now=NOW + dt.timedelta(seconds=30))


async def test_another_key_may_use_the_same_jti_and_long_jtis_are_fine(services: Services) -> None:
    nonce = await current_nonce(services, NOW)
    for key in (Key.generate(), Key.generate()):
        await verify(services, proof(key, proof_claims(nonce, jti="j" * 255)))


@pytest.mark.parametrize(("method", "url", "htm", "htu"), [
    ("POST", TOKEN_URL, "POST", "HTTP://127.0.0.1:8000/token"),
    ("post", TOKEN_URL, "POST", "http://127.0.0.1:8000/token?x=1#f"),
    ("GET", "https://OP.example.jp/userinfo", "GET", "https://op.example.jp:443/userinfo"),
    ("GET", "http://op.example.jp:80/userinfo", "GET", "http://op.example.jp/userinfo"),
    ("GET", "https://op.example.jp", "GET", "https://op.example.jp/"),
])
async def test_htu_and_htm_are_compared_after_normalisation(services: Services, method: str, url: str, htm: str,
                                                            htu: str) -> None:
    claims = proof_claims(await current_nonce(services, NOW), htm=htm, htu=htu)
    await verify(services, proof(Key.generate(), claims), method=method, url=url)


@pytest.mark.parametrize(("htm", "htu"), [
    ("GET", TOKEN_URL), ("post", TOKEN_URL), ("POST", "http://127.0.0.1:8000/par"),
    ("POST", "https://127.0.0.1:8000/token"), ("POST", "http://127.0.0.1:8001/token"),
    ("POST", "http://127.0.0.2:8000/token"), ("POST", "http://127.0.0.1:8000/TOKEN"),
    ("POST", "http://127.0.0.1:8000/token/"), ("POST", "http://127.0.0.1:bad/token"), ("POST", 42),
])
async def test_wrong_htm_or_htu_is_refused(services: Services, htm: str, htu: object) -> None:
    claims = proof_claims(await current_nonce(services, NOW), htm=htm, htu=htu)
    with pytest.raises(InvalidDpopProof):
        await verify(services, proof(Key.generate(), claims))


@pytest.mark.parametrize("case", ["iat 2 minutes old", "iat 1 minute ahead", "no iat", "no jti", "no htm", "no htu",
                                  "empty jti", "iat a string"])
async def test_bad_claims_are_refused(services: Services, case: str) -> None:
    nonce = await current_nonce(services, NOW)
    changes: dict[str, Any] = {"iat 2 minutes old": {"iat": epoch(minutes=-2)},
                               "iat 1 minute ahead": {"iat": epoch(minutes=1)},
                               "no iat": {"iat": None}, "no jti": {"jti": None}, "no htm": {"htm": None},
                               "no htu": {"htu": None}, "empty jti": {"jti": ""},
                               "iat a string": {"iat": str(epoch())}}[case]
    with pytest.raises(InvalidDpopProof):
        await verify(services, proof(Key.generate(), proof_claims(nonce, **changes)))


async def test_clock_tolerance_admits_a_slightly_early_or_late_iat(services: Services) -> None:
    nonce = await current_nonce(services, NOW)
    for seconds in (10, -70):
        await verify(services, proof(Key.generate(), proof_claims(nonce, iat=epoch(seconds=seconds))))


def _forged(case: str, key: Key, claims: dict[str, Any]) -> str:
    public = {k: v for k, v in key.jwk.items() if k != "kid"}
    if case == "alg none":
        return unsigned({"alg": "none", "typ": "dpop+jwt", "jwk": public}, claims)
    if case == "HS256 with an oct jwk":
        secret = secrets.token_bytes(32)
        header = {"alg": "HS256", "typ": "dpop+jwt", "jwk": {"kty": "oct", "k": b64(secret)}}
        body = unsigned(header, claims).rsplit(".", 1)[0]
        return f"{body}.{b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())}"
    if case == "RS256":
        rsa_key = Key.generate("RS256")
        return proof(rsa_key, claims)
    if case == "private jwk":
        return key.sign(claims, kid=None, typ="dpop+jwt", jwk=key.private_jwk)
    if case == "private member only":
        return key.sign(claims, kid=None, typ="dpop+jwt", jwk={**public, "k": "AAAA"})
    if case == "no typ":
        return key.sign(claims, kid=None, jwk=public)
    if case == "typ JWT":
        return key.sign(claims, kid=None, typ="JWT", jwk=public)
    if case == "no jwk":
        return key.sign(claims, kid=key.kid, typ="dpop+jwt")
    if case == "jwk of another key":
        return Key.generate().sign(claims, kid=None, typ="dpop+jwt", jwk=public)
    if case == "x5c and jwk":
        return key.sign(claims, kid=None, typ="dpop+jwt", jwk=public, x5c=["MIIB"])
    if case == "jwk not an object":
        return key.sign(claims, kid=None, typ="dpop+jwt", jwk="key")
    raise ValueError(case)


@pytest.mark.parametrize("case", ["alg none", "HS256 with an oct jwk", "RS256", "private jwk", "private member only",
                                  "no typ", "typ JWT", "no jwk", "jwk of another key", "x5c and jwk",
                                  "jwk not an object"])
async def test_forged_proofs_are_refused(services: Services, case: str) -> None:
    claims = proof_claims(await current_nonce(services, NOW))
    with pytest.raises(InvalidDpopProof) as caught:
        await verify(services, _forged(case, Key.generate(), claims))
    assert caught.value.error == "invalid_dpop_proof"


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "a.b.c.d.e", "x" * 100_000])
async def test_malformed_proofs_are_refused(services: Services, token: str) -> None:
    with pytest.raises(InvalidDpopProof):
        await verify(services, token)


async def test_ath_binds_the_access_token(services: Services) -> None:
    nonce = await current_nonce(services, NOW)
    key = Key.generate()
    await verify(services, proof(key, proof_claims(nonce, ath=ATH)), access_token=ACCESS_TOKEN)
    for ath in (None, ATH[:-1], b64(hashlib.sha256(b"another-token").digest()), 5):
        with pytest.raises(InvalidDpopProof):
            await verify(services, proof(key, proof_claims(nonce, ath=ath)), access_token=ACCESS_TOKEN)
