"""What the client-side tests share: the provider's services on SQLite and PostgreSQL (two of them on one database
stand for two workers), client keys of each algorithm, and JWTs signed with pyjwt — an independent JOSE library —
or assembled by hand when a test needs a token no library would make."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from idp.clients import AuthMethod, Client, register_client
from idp.runtime import Services, open_services
from keys.jose.b64 import b64url_encode as b64
from keys.jose.jwk import public_jwk
from tests.idp.conftest import NOW, settings_for
from tests.idp.protocol.tokenkit import KEK

ISSUER = "http://127.0.0.1:8000"
TOKEN_URL = ISSUER + "/token"
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def epoch(at: dt.datetime = NOW, **delta: float) -> int:
    """Seconds since the epoch of ``at`` moved by ``delta`` (timedelta keywords)."""
    return int((at + dt.timedelta(**delta)).timestamp())


def unsigned(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes = b"") -> str:
    """A compact JWS assembled by hand (for ``alg: none`` and other tokens no library signs)."""
    return ".".join((b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)))


@dataclass(frozen=True)
class Key:
    """A client's signing key and the JWS algorithm it signs with."""

    private: PrivateKey
    alg: str
    kid: str

    @classmethod
    def generate(cls, alg: str = "ES256", kid: str | None = None) -> Key:
        private: PrivateKey
        if alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg in ("PS256", "RS256"):
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(alg)
        return cls(private, alg, kid or f"{alg.lower()}-{secrets.token_hex(4)}")

    @property
    def jwk(self) -> dict[str, str]:
        """The public JWK, with ``kid`` and ``use`` (and no ``alg``: RSA keys are bound by the provider)."""
        return {**public_jwk(self.private.public_key()), "kid": self.kid, "use": "sig"}

    @property
    def private_jwk(self) -> dict[str, Any]:
        """The private JWK (as pyjwt exports it)."""
        exported: dict[str, Any] = json.loads(jwt.algorithms.get_default_algorithms()[self.alg].to_jwk(self.private))
        return exported

    def sign(self, claims: Mapping[str, Any], *, alg: str | None = None, **header: Any) -> str:
        """``claims`` signed with pyjwt; ``header`` adds protected header members (``kid`` defaults to ours; None
        removes a member)."""
        headers = {name: value for name, value in {"kid": self.kid, **header}.items() if value is not None}
        return jwt.encode(dict(claims), self.private, algorithm=alg or self.alg, headers=headers)


#: The forgeries :func:`forged` makes.
FORGERIES: tuple[str, ...] = ("alg none", "HS256 with the public key as secret", "RS256", "another key, same kid",
                              "embedded jwk")


def forged(case: str, key: Key, claims: Mapping[str, Any], typ: str) -> str:
    """``claims`` signed the wrong way for a holder of ``key`` (RFC 8725 §2.1 algorithm confusion, §3.1 alg none;
    a key not registered), with ``typ`` in the header: one of :data:`FORGERIES`."""
    if case == "alg none":
        return unsigned({"alg": "none", "typ": typ}, claims)
    if case == "HS256 with the public key as secret":
        body = unsigned({"alg": "HS256", "kid": key.kid, "typ": typ}, claims).rsplit(".", 1)[0]
        return f"{body}.{b64(hmac.new(key.jwk['x'].encode(), body.encode(), hashlib.sha256).digest())}"
    if case == "RS256":
        return Key.generate("RS256", kid=key.kid).sign(claims, typ=typ)
    if case == "another key, same kid":
        return Key.generate().sign(claims, kid=key.kid, typ=typ)
    if case == "embedded jwk":
        other = Key.generate()
        return other.sign(claims, kid=None, jwk=other.jwk, typ=typ)
    raise ValueError(case)


def jwks(*keys: Key) -> dict[str, Any]:
    return {"keys": [key.jwk for key in keys]}


def assertion_claims(client_id: str, *, aud: str | list[str] = ISSUER, at: dt.datetime = NOW,
                     **overrides: Any) -> dict[str, Any]:
    """RFC 7523 §3 client assertion claims; an override of None removes the claim."""
    claims: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": aud, "jti": secrets.token_urlsafe(16),
                              "iat": epoch(at), "exp": epoch(at, seconds=60), **overrides}
    return {name: value for name, value in claims.items() if value is not None}


async def add_client(services: Services, client_id: str, auth_method: AuthMethod = AuthMethod.NONE,
                     **metadata: Any) -> tuple[Client, str | None]:
    """Register a client through the admin path (:func:`idp.clients.register_client`)."""
    metadata.setdefault("redirect_uris", ["https://rp.example.jp/cb"])
    client, secret = register_client(client_id, auth_method=auth_method, **metadata)
    await services.clients.add(client)
    return client, secret


@dataclass
class Received:
    """One request the loopback server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 (its own thread) standing for a relying party: it answers each path with
    the configured (status, body, delay in seconds) and records every request it receives."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, float]] = {}
        self.received: list[Received] = []
        self.arrived = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                server.received.append(Received(self.command, self.path, {k.lower(): v for k, v in
                                                                          self.headers.items()}, body))
                server.arrived.set()
                status, content, delay = server.routes.get(self.path.partition("?")[0], (404, b"", 0.0))
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    self.send_header("Cache-Control", "no-store")
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def route(self, path: str, status: int = 200, body: bytes | str = b"", delay: float = 0.0) -> str:
        """Answer ``path`` so; its absolute URL."""
        self.routes[path] = (status, body.encode() if isinstance(body, str) else body, delay)
        return self.url + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def rp_server() -> Iterator[LoopbackServer]:
    """A relying party's HTTP server on loopback."""
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
async def workers(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Services, Services]]:
    """Two workers' services (own engines and stores) on one migrated database, SQLite or PostgreSQL."""
    settings = settings_for(tmp_path, db_url, MYNACARD_KEYS_KEKS=KEK, MYNACARD_TEST_MODE="1")
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_services(settings))
        second = await stack.enter_async_context(open_services(settings))
        yield first, second


@pytest.fixture
def services(workers: tuple[Services, Services]) -> Services:
    """One worker's services."""
    return workers[0]


__all__ = ["ISSUER", "NOW", "TOKEN_URL", "Key", "LoopbackServer", "Received", "add_client", "assertion_claims", "b64",
           "epoch", "jwks", "rp_server", "services", "unsigned", "workers"]
