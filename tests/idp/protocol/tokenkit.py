"""What the token-side tests share: a provider in process, registered clients, authorization codes stored as
the authorization side stores them (contracts.md, "Authorization code"), DPoP proofs, and ID-token checks
with our strict JOSE and, independently, with pyjwt."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar
from litestar.testing import TestClient

from idp.app import create_app
from idp.clients import AuthMethod, Client, register_client
from idp.oauth.pkce import s256_challenge
from idp.runtime import Services
from idp.storage import ClientStore, Database, ObjectStore, migrate
from keys.jose.jwk import jwk_thumbprint, public_jwk, verification_keys
from keys.jose.jwt import verify_jwt
from keys.service import KeyEncryptionKeys
from tests.idp.conftest import settings_for
from tests.support.processes import free_port, logged_errors, start, stop, wait_healthy

T = TypeVar("T")
KEK = KeyEncryptionKeys.generate()
ISSUER = "http://127.0.0.1:8000"
REDIRECT_URI = "https://rp.example.jp/cb"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


@dataclass(frozen=True)
class IssuedCode:
    code: str
    verifier: str
    grant_id: str


async def store_code(
    objects: ObjectStore,
    client_id: str,
    *,
    scope: str = "openid",
    nonce: str | None = "n-0S6_WzA2Mj",
    dpop_jkt: str | None = None,
    claims: Mapping[str, Mapping[str, Any]] | None = None,
    redirect_uri: str = REDIRECT_URI,
    code_ttl: float = 60,
    grant_ttl: float = 30 * 86400,
    grant_members: Mapping[str, Any] | None = None,
) -> IssuedCode:
    """An authorization code and its grant, exactly as contracts.md has the authorization side store them
    (``grant_members``: what a feature adds to the grant, e.g. ``signing_request``)."""
    now = utcnow()
    verifier, code, grant_id = new_verifier(), secrets.token_urlsafe(32), "g-" + secrets.token_urlsafe(16)
    released = {"id_token": {}, "userinfo": {}, **(claims or {})}
    sub = "pairwise-" + hashlib.sha256(f"acct-1|{client_id}".encode()).hexdigest()[:32]
    await objects.upsert("Grant", grant_id, {"client_id": client_id, "sub": sub, "account_id": "acct-1",
                                             "scope": scope, "claims": released, **(grant_members or {})},
                         now + dt.timedelta(seconds=grant_ttl), grant_id=grant_id)
    payload = {"client_id": client_id, "redirect_uri": redirect_uri, "scope": scope, "nonce": nonce,
               "code_challenge": s256_challenge(verifier), "code_challenge_method": "S256", "sub": sub,
               "account_id": "acct-1", "auth_time": int(now.timestamp()) - 5,
               "acr": "urn:mynacard:acr:auth-cert", "amr": ["sc", "pin"], "sid": "sid-" + secrets.token_urlsafe(8),
               "claims": released, "dpop_jkt": dpop_jkt, "grant_id": grant_id}
    await objects.upsert("AuthorizationCode", code, payload, now + dt.timedelta(seconds=code_ttl), grant_id=grant_id)
    return IssuedCode(code, verifier, grant_id)


@dataclass
class DpopKey:
    """A client's DPoP key (P-256) and its proofs (RFC 9449 §4.2)."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    nonce: str | None = None

    @property
    def jwk(self) -> dict[str, str]:
        return public_jwk(self.key.public_key())

    @property
    def jkt(self) -> str:
        return jwk_thumbprint(self.jwk)

    def proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        if self.nonce is not None:
            claims["nonce"] = self.nonce
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self.jwk})


@dataclass(frozen=True)
class Rp:
    """A registered client and how it authenticates at the token endpoint."""

    client: Client
    secret: str | None = None

    @property
    def client_id(self) -> str:
        return self.client.client_id

    def auth(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """(form, headers) carrying this client's authentication: client_secret_basic or client_id (none)."""
        if self.secret is not None:
            basic = base64.b64encode(f"{quote(self.client_id, safe='')}:{quote(self.secret, safe='')}".encode())
            return form, {"Authorization": "Basic " + basic.decode()}
        return {**form, "client_id": self.client_id}, {}


class Provider:
    """The provider in process (litestar TestClient) with helpers that speak its protocol."""

    def __init__(self, app: Litestar, client: TestClient[Litestar]) -> None:
        self.app = app
        self.http = client

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        with self.http.portal() as portal:
            return portal.call(fn, *args)

    def register(self, client_id: str, auth_method: AuthMethod = AuthMethod.NONE, **metadata: Any) -> Rp:
        client, secret = register_client(client_id, auth_method=auth_method, redirect_uris=[REDIRECT_URI], **metadata)
        self.call(self.services.clients.add, client)
        return Rp(client, secret)

    def code(self, rp: Rp, **options: Any) -> IssuedCode:
        async def store() -> IssuedCode:
            return await store_code(self.services.objects, rp.client_id, **options)
        return self.call(store)

    def post(self, path: str, rp: Rp, form: dict[str, str], dpop: DpopKey | None = None,
             access_token: str | None = None) -> httpx.Response:
        """POST a form with the client's authentication, and a DPoP proof (retrying once with the server's
        nonce when it asks for one, RFC 9449 §8)."""
        body, headers = rp.auth(form)
        for _ in range(2):
            if dpop is not None:
                headers["DPoP"] = dpop.proof("POST", ISSUER + path, access_token=access_token)
            response = self.http.post(path, data=body, headers=headers)
            if dpop is None or "dpop-nonce" not in response.headers:
                return response
            dpop.nonce = response.headers["dpop-nonce"]
            if response.status_code < 400:
                return response
        return response

    def redeem(self, rp: Rp, issued: IssuedCode, dpop: DpopKey | None = None, **overrides: str) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": issued.code, "redirect_uri": REDIRECT_URI,
                "code_verifier": issued.verifier, **overrides}
        return self.post("/token", rp, {k: v for k, v in form.items() if v}, dpop)

    def refresh(self, rp: Rp, refresh_token: str, dpop: DpopKey | None = None, **extra: str) -> httpx.Response:
        return self.post("/token", rp, {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}, dpop)

    def userinfo(self, access_token: str, dpop: DpopKey | None = None, method: str = "GET") -> httpx.Response:
        for _ in range(2):
            if dpop is None:
                headers = {"Authorization": f"Bearer {access_token}"}
            else:
                headers = {"Authorization": f"DPoP {access_token}",
                           "DPoP": dpop.proof(method, ISSUER + "/userinfo", access_token=access_token)}
            response = self.http.request(method, "/userinfo", headers=headers)
            if dpop is None or response.status_code != 401 or "dpop-nonce" not in response.headers:
                return response
            dpop.nonce = response.headers["dpop-nonce"]
        return response

    def jwks(self) -> dict[str, Any]:
        document: dict[str, Any] = self.http.get("/jwks").json()
        return document

    def grant_exists(self, grant_id: str) -> bool:
        async def find() -> bool:
            return await self.services.objects.find("Grant", grant_id, now=utcnow()) is not None
        return self.call(find)


@contextmanager
def provider(tmp_path: Path, **env: str) -> Iterator[Provider]:
    """A provider on a fresh SQLite database (or ``MYNACARD_DATABASE_URL``) with ES256, PS256 and RS256 keys."""
    settings = settings_for(tmp_path, env.pop("MYNACARD_DATABASE_URL", None), MYNACARD_KEYS_KEKS=KEK,
                            MYNACARD_TEST_MODE="1", **env)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Provider(app, client)


def verify_id_token(token: str, jwks: Mapping[str, Any], *, client_id: str, alg: str,
                    nonce: str | None) -> dict[str, Any]:
    """OIDC Core §3.1.3.7 with our strict JOSE, then again with pyjwt; both must agree on the claims."""
    ours = verify_jwt(token, algorithms=[alg], typ=None, issuer=ISSUER, audience=client_id, at=utcnow(),
                      leeway=dt.timedelta(seconds=5), required_claims=("exp", "iat", "sub", "auth_time"),
                      keys=verification_keys(jwks))
    kid = jwt.get_unverified_header(token)["kid"]
    theirs = jwt.decode(token, jwt.PyJWKSet.from_dict(dict(jwks))[kid], algorithms=[alg], audience=client_id,
                        issuer=ISSUER, leeway=5, options={"require": ["exp", "iat", "sub"]})
    assert dict(ours.claims) == theirs
    assert ours.header["alg"] == alg
    assert theirs.get("nonce") == nonce
    return theirs


def verify_access_jwt(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 9068 §4 as a resource server does it, with pyjwt: typ at+jwt, iss, aud, signature."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    key = jwt.PyJWKSet.from_dict(dict(jwks))[header["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"], audience=ISSUER, issuer=ISSUER)
    return claims


@contextmanager
def serving(env: Mapping[str, str], log_dir: Path, *, processes: int = 1, workers: int = 1) -> Iterator[list[str]]:
    """``idp serve`` as ``processes`` separate real processes (each with ``workers`` workers) sharing the
    configuration ``env`` (so one database); their base URLs once all are healthy. Stops them afterwards
    and fails if any logged an error."""
    servers: list[tuple[subprocess.Popen[bytes], Path]] = []
    urls: list[str] = []
    try:
        for n in range(processes):
            port = free_port()
            log = log_dir / f"serve-{n}.log"
            log.unlink(missing_ok=True)
            command = [sys.executable, "-m", "idp", "serve", "--workers", str(workers), "--port", str(port)]
            servers.append((start(command, env={**os.environ, **env}, log=log), log))
            urls.append(f"http://127.0.0.1:{port}")
        for (process, log), url in zip(servers, urls, strict=True):
            wait_healthy(url, process, log, timeout=60)
        yield urls
    finally:
        for process, _ in servers:
            process.terminate()
        for process, _ in servers:
            stop(process)
    for _, log in servers:
        errors = logged_errors(log)
        assert not errors, errors[:3]


@asynccontextmanager
async def database(url: str) -> AsyncIterator[tuple[ObjectStore, ClientStore]]:
    """The object and client stores of a provider's database, from outside the provider (as a test)."""
    db = Database.connect(url)
    try:
        await migrate(db)
        yield ObjectStore(db), ClientStore(db)
    finally:
        await db.dispose()
