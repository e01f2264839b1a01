"""The Digital Agency-shaped signing API over real HTTP (``idp serve`` on loopback, SQLite): registering a sign
transaction with a client-credentials token, binding it with an authorization request (scope ``sign`` +
``sign_transaction_id``), and fetching the result as a JWE, once, with the person's token — and every bad input
answered with a clear RFC-shaped error and nothing released.

The card itself is not in these tests: the signed results are put in place through the signing-request store
(:class:`idp.sign.requests.SigningRequests`, the provider's own, on the provider's database) and the grant
through the authorization-code store, as the card flow leaves them; the token, the guard, the single-use fetch
and the JWE are the real ones. The JWE is opened with jwcrypto, an implementation independent of ours.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from idp.clients import AuthMethod, register_client
from idp.oauth.pkce import s256_challenge
from idp.runtime import utcnow
from idp.sign.requests import DocumentSignature, SigningRequests, SigningResults
from keys.jose.jwk import public_jwk
from keys.service import KeyEncryptionKeys
from tests.idp.protocol.tokenkit import REDIRECT_URI, database, serving, store_code

pytestmark = pytest.mark.slow
DIGEST = hashlib.sha256(b"contract v1").digest()
#: DER DigestInfo(SHA-256, DIGEST) (RFC 8017 §9.2 note 1: this prefix, then the digest).
DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420") + DIGEST


@dataclass
class Rp:
    client_id: str
    secret: str
    key: ec.EllipticCurvePrivateKey

    def basic(self) -> tuple[str, str]:
        return self.client_id, self.secret


@dataclass
class Api:
    url: str
    database_url: str
    rps: dict[str, Rp]

    def client_token(self, rp: Rp, scope: str | None = "sign") -> str:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        answer = httpx.post(f"{self.url}/token", data=form, auth=rp.basic())
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def register(self, token: str, body: Any) -> httpx.Response:
        return httpx.post(f"{self.url}/api/sign-transactions", json=body, headers={"Authorization": f"Bearer {token}"})

    def transaction(self, rp: Rp) -> str:
        answer = self.register(self.client_token(rp), {"digest": base64.b64encode(DIGEST).decode()})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["sign_transaction_id"])

    def authorize(self, rp: Rp, **params: str) -> httpx.Response:
        request = {"client_id": rp.client_id, "redirect_uri": REDIRECT_URI, "response_type": "code",
                   "scope": "openid sign", "state": "st", "nonce": "nn", "code_challenge_method": "S256",
                   "code_challenge": s256_challenge(secrets.token_urlsafe(48)), **params}
        return httpx.get(f"{self.url}/authorize", params=request)

    def result(self, transaction: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}/api/sign-transactions/{transaction}/result", headers=headers)


def _rp(client_id: str, enc: bool = True) -> tuple[Rp, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": [{**public_jwk(key.public_key()), "use": "enc", "kid": f"{client_id}-enc"}]} if enc else None
    client, secret = register_client(client_id, auth_method=AuthMethod.CLIENT_SECRET_BASIC,
                                     redirect_uris=[REDIRECT_URI], jwks=jwks)
    assert secret is not None
    return Rp(client_id, secret, key), client


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    base = tmp_path_factory.mktemp("da-api")
    database_url = f"sqlite:///{base / 'idp.sqlite3'}"
    made = dict(rp=_rp("da-rp"), other=_rp("da-other"), noenc=_rp("da-noenc", enc=False))

    async def register() -> None:
        async with database(database_url) as (_, clients):
            for _, client in made.values():
                await clients.add(client)
    anyio.run(register)
    env = {"MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_DATABASE_URL": database_url,
           "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(), "MYNACARD_TEST_MODE": "1",
           "MYNACARD_LOGIN_AUTHENTICATOR": "test", "MYNACARD_KEYS_ALGORITHMS": "ES256",
           "MYNACARD_TOKENS_CLIENT_CREDENTIALS_SCOPES": "sign", "MYNACARD_LOGGING_REQUESTS": "false"}
    with serving(env, base) as urls:
        yield Api(urls[0], database_url, {name: rp for name, (rp, _) in made.items()})


def _error(answer: httpx.Response, status: int, error: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error, answer.text
    return str(answer.json().get("error_description", ""))


def _redirect_error(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code in (302, 303), answer.text[:300]
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI), location
    return dict(parse_qsl(urlsplit(location).query))


# --- POST /api/sign-transactions ---------------------------------------------------------------------------------


def test_a_client_registers_a_digest_or_a_digest_info(api: Api) -> None:
    rp = api.rps["rp"]
    token = api.client_token(rp)
    for body in ({"digest": base64.b64encode(DIGEST).decode()},
                 {"digest_info": base64.b64encode(DIGEST_INFO).decode(), "label": "申込書"}):
        answer = api.register(token, body)
        assert answer.status_code == 201, answer.text
        assert answer.headers["cache-control"] == "no-store"
        assert uuid.UUID(answer.json()["sign_transaction_id"]).version == 4


@pytest.mark.parametrize("body", [
    {"digest": base64.b64encode(DIGEST[:31]).decode()},  # not a SHA-256 digest
    {"digest": base64.urlsafe_b64encode(b"\xfb" * 32).decode().rstrip("=")},  # not standard padded base64
    {"digest_info": base64.b64encode(DIGEST_INFO[:-1]).decode()},  # DigestInfo with a short digest
    {"digest_info": base64.b64encode(bytes.fromhex("3021300906052b0e03021a05000414") + bytes(20)).decode()},  # SHA-1
    {"digest": base64.b64encode(DIGEST).decode(), "digest_info": base64.b64encode(DIGEST_INFO).decode()},
    {},
    {"digest": base64.b64encode(DIGEST).decode(), "callback": "https://x.example"},  # unknown member
    {"digest": base64.b64encode(DIGEST).decode(), "label": "x" * 101},
    {"digest": base64.b64encode(DIGEST).decode(), "label": "契約\u202e書"},  # a bidi override hides text
    [],
])
def test_a_malformed_body_is_invalid_request(api: Api, body: Any) -> None:
    _error(api.register(api.client_token(api.rps["rp"]), body), 400, "invalid_request")


def test_only_a_client_credentials_token_with_scope_sign_may_register(api: Api) -> None:
    body = {"digest": base64.b64encode(DIGEST).decode()}
    missing = httpx.post(f"{api.url}/api/sign-transactions", json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith(("Bearer", "DPoP"))
    _error(api.register("not-a-token", body), 401, "invalid_token")
    _error(api.register(api.client_token(api.rps["rp"], scope=None), body), 403, "insufficient_scope")
    description = _error(api.register(api.client_token(api.rps["noenc"]), body), 400, "invalid_request")
    assert "use enc" in description  # the client learns what to register


# --- the authorization request -----------------------------------------------------------------------------------


def test_a_transaction_binds_to_one_authorization_request_of_its_client(api: Api) -> None:
    rp, other = api.rps["rp"], api.rps["other"]
    transaction = api.transaction(rp)
    stolen = _redirect_error(api.authorize(other, sign_transaction_id=transaction))
    assert (stolen["error"], stolen["state"]) == ("invalid_request", "st")  # another client's: refused, not used up
    first = api.authorize(rp, sign_transaction_id=transaction)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/interaction/")
    replay = _redirect_error(api.authorize(rp, sign_transaction_id=transaction))
    assert replay["error"] == "invalid_request"
    assert "sign_transaction_id" in replay["error_description"]
    unknown = _redirect_error(api.authorize(rp, sign_transaction_id=str(uuid.uuid4())))
    assert unknown["error"] == "invalid_request"


def test_an_expired_transaction_is_refused(api: Api) -> None:
    rp = api.rps["rp"]
    transaction = api.transaction(rp)

    async def expire() -> None:
        async with database(api.database_url) as (objects, _):
            stored = await objects.find("SigningRequest", transaction, now=utcnow())
            assert stored is not None
            await objects.upsert("SigningRequest", transaction, stored.payload, utcnow() - dt.timedelta(seconds=1))
    anyio.run(expire)
    assert _redirect_error(api.authorize(rp, sign_transaction_id=transaction))["error"] == "invalid_request"


@pytest.mark.parametrize("params", [
    {"scope": "openid sign"},  # sign without a transaction
    {"scope": "openid", "sign_transaction_id": "37a52ac8-b232-4bac-a454-04d68916489f"},  # a transaction without sign
    {"sign_transaction_id": "not-a-uuid"},
])
def test_scope_sign_and_the_transaction_go_together(api: Api, params: dict[str, str]) -> None:
    assert _redirect_error(api.authorize(api.rps["rp"], **params))["error"] == "invalid_request"


# --- GET /api/sign-transactions/{id}/result ---------------------------------------------------------------------


def _signed(api: Api, rp: Rp, certificate: bytes, raw: bytes) -> tuple[str, str]:
    """A transaction of ``rp`` signed and granted, as the card flow leaves it; and the person's access token."""
    transaction = api.transaction(rp)

    async def sign_and_grant() -> tuple[str, str]:
        now = utcnow()
        async with database(api.database_url) as (objects, _):
            requests = SigningRequests(objects)
            bound = await requests.bind(transaction, client_id=rp.client_id, interaction="uid-" + transaction,
                                        now=now)
            assert bound is not None
            approved = await requests.approve(bound, now=now)
            results = SigningResults((DocumentSignature(raw, b"cms-signature", now),), certificate, "record.jws", now)
            await requests.record_results(approved, results, now=now)
            assert await requests.grant(transaction, expires_at=now + dt.timedelta(hours=1), now=now) is not None
            issued = await store_code(objects, rp.client_id, scope="openid sign",
                                      grant_members={"signing_request": transaction})
            return issued.code, issued.verifier
    code, verifier = anyio.run(sign_and_grant)
    tokens = httpx.post(f"{api.url}/token", auth=rp.basic(), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    return transaction, str(tokens.json()["access_token"])


def test_the_result_is_a_jwe_to_the_client_fetched_once_with_the_persons_token(api: Api) -> None:
    rp = api.rps["rp"]
    certificate = secrets.token_bytes(900)  # the stored certificate goes through unchanged
    raw = secrets.token_bytes(256)
    transaction, token = _signed(api, rp, certificate, raw)
    other_transaction, other_token = _signed(api, rp, certificate, raw)
    # another person's token (a grant that signed another transaction): nothing, and this result stays
    refused = api.result(transaction, other_token)
    _error(refused, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]  # RFC 6750 §3
    _error(api.result(transaction, api.client_token(rp)), 403, "insufficient_scope")
    assert api.result(transaction, None).status_code == 401

    answer = api.result(transaction, token)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/jose")
    assert answer.headers["cache-control"] == "no-store"
    key = jwcrypto_jwk.JWK.from_pyca(rp.key)
    opened = jwcrypto_jwe.JWE()
    opened.deserialize(answer.text, key=key)
    header = json.loads(opened.objects["protected"])
    assert (header["alg"], header["enc"], header["kid"]) == ("ECDH-ES", "A256GCM", "da-rp-enc")
    assert json.loads(opened.payload) == {"signature": base64.b64encode(raw).decode(),
                                          "certificate": base64.b64encode(certificate).decode()}
    _error(api.result(transaction, token), 403, "insufficient_scope")  # once
    assert api.result(other_transaction, other_token).status_code == 200


def test_a_pushed_request_binds_its_transaction_when_it_is_used(api: Api) -> None:
    rp = api.rps["rp"]
    transaction = api.transaction(rp)

    def push() -> str:
        answer = httpx.post(f"{api.url}/par", auth=rp.basic(), data={
            "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid sign", "state": "st",
            "code_challenge_method": "S256", "code_challenge": s256_challenge(secrets.token_urlsafe(48)),
            "sign_transaction_id": transaction})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["request_uri"])

    first, second = push(), push()  # pushing checks the form only; the transaction is bound at /authorize, once
    used = httpx.get(f"{api.url}/authorize", params={"client_id": rp.client_id, "request_uri": first})
    assert used.status_code == 303
    assert used.headers["location"].startswith("/interaction/")
    replay = httpx.get(f"{api.url}/authorize", params={"client_id": rp.client_id, "request_uri": second})
    assert _redirect_error(replay)["error"] == "invalid_request"
