"""Fixtures for the protocol tests: a provider in process on SQLite with the TEST authenticator, registered clients
of each authentication method, and a browser that drives ``/authorize`` → test login → consent → code.

Generic on purpose, for the token and client sides too: ``op`` (:class:`tests.idp.protocol.tokenkit.Provider`),
``rp_jwt`` (private_key_jwt with its P-256 key), ``rp_basic`` (client_secret_basic), ``rp_public`` (none), and
``browser`` (:class:`Browser`; ``Browser(op)`` is another one, with an empty cookie jar).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from idp.clients import AuthMethod
from idp.oauth.pkce import s256_challenge
from idp.runtime import utcnow
from keys.jose.jwk import public_jwk
from tests.idp.protocol.clientfixtures import services, workers  # noqa: F401 (fixtures: two workers in process)
from tests.idp.protocol.tokenkit import ISSUER, REDIRECT_URI, DpopKey, Provider, Rp, provider

_FORM = re.compile(r'<form method="post" action="([^"]+)"')
_CHECKBOX = re.compile(r'<input type="checkbox" name="claim" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@dataclass(frozen=True)
class JwtRp(Rp):
    """A private_key_jwt client: its assertions are signed with ``key`` (RFC 7523 §3, OIDC Core §9)."""

    key: ec.EllipticCurvePrivateKey | None = None

    def assertion(self, audience: str = ISSUER) -> str:
        assert self.key is not None
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": audience, "jti": secrets.token_urlsafe(16),
                  "iat": now, "exp": now + 60}
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "rp-key"})

    def auth(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        return {**form, "client_id": self.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.assertion()}, {}


@dataclass
class Arrival:
    """Where a browser walk ended: at the redirect URI (``params`` the authorization response) or on a page."""

    response: httpx.Response
    params: dict[str, str]
    verifier: str
    logins: int = 0
    consents: int = 0
    pages: list[str] = field(default_factory=list)

    @property
    def arrived(self) -> bool:
        return bool(self.params)

    @property
    def code(self) -> str:
        assert "code" in self.params, (self.params, self.response.status_code, self.response.text[:500])
        return self.params["code"]


def authorization_params(client_id: str, verifier: str, **params: str | None) -> dict[str, str]:
    """A code-flow request with PKCE S256, ``openid`` scope, state and nonce; ``None`` removes a parameter."""
    base: dict[str, str | None] = {
        "client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": "openid",
        "state": "st-" + secrets.token_urlsafe(8), "nonce": "n-" + secrets.token_urlsafe(8),
        "code_challenge": s256_challenge(verifier), "code_challenge_method": "S256", **params}
    return {name: value for name, value in base.items() if value is not None}


class Browser:
    """A user agent with its own cookie jar, speaking to the provider in process."""

    def __init__(self, op: Provider, account: str = "alice") -> None:
        self.op = op
        self.account = account
        self.jar = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        http = self.op.http
        http.cookies = self.jar
        try:
            return http.request(method, url, follow_redirects=False, **kwargs)
        finally:
            self.jar = http.cookies

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar.jar if c.name == name), None)

    def start(self, client_id: str, *, verifier: str | None = None, method: str = "GET",
              **params: str | None) -> tuple[httpx.Response, str]:
        """Send an authorization request (GET query or POST form); its response and the PKCE verifier."""
        verifier = verifier or secrets.token_urlsafe(48)
        query = authorization_params(client_id, verifier, **params)
        if method == "POST":
            return self.request("POST", "/authorize", data=query), verifier
        return self.request("GET", "/authorize", params=query), verifier

    def walk(self, response: httpx.Response, verifier: str, *, login_claims: Mapping[str, Any] | None = None,
             approve: list[str] | None = None, login: bool = True, consent: bool = True,
             account: str | None = None) -> Arrival:
        """Follow redirects, log in with the test form (as ``account``, the login giving ``login_claims``) and
        approve consent (``approve``: the claims to tick, None for all offered) until the browser is sent to the
        redirect URI or stops on a page."""
        arrival = Arrival(response, {}, verifier)
        for _ in range(20):
            arrival.response = response
            if response.is_redirect:
                location = response.headers["location"]
                if location.startswith(REDIRECT_URI):
                    arrival.params = dict(parse_qsl(urlsplit(location).query))
                    return arrival
                arrival.pages.append(urlsplit(location).path)
                response = self.request("GET", location)
                continue
            forms = _FORM.findall(response.text) if response.status_code == 200 else []
            if not forms:
                return arrival
            action = html.unescape(forms[0])
            if action.startswith(REDIRECT_URI):
                arrival.params = {html.unescape(k): html.unescape(v) for k, v in _HIDDEN.findall(response.text)}
                return arrival
            if action.endswith("/test-login") and login:
                arrival.logins += 1
                form = {"account_id": account or self.account}
                if login_claims is not None:
                    form["claims"] = json.dumps(login_claims)
                response = self.request("POST", action, data=form)
            elif action.endswith("/consent") and consent:
                arrival.consents += 1
                offered = [html.unescape(v) for v in _CHECKBOX.findall(response.text)]
                ticked = offered if approve is None else approve
                response = self.request("POST", action, data={"decision": "allow", "claim": ticked})
            else:
                return arrival
        raise AssertionError("the walk did not end")

    def authorize(self, rp: Rp | str, *, login_claims: Mapping[str, Any] | None = None,
                  approve: list[str] | None = None,
                  login: bool = True, consent: bool = True, account: str | None = None,
                  **params: str | None) -> Arrival:
        """A whole authorization: request (``params``), login, consent, response."""
        response, verifier = self.start(rp if isinstance(rp, str) else rp.client_id, **params)
        return self.walk(response, verifier, login_claims=login_claims, approve=approve, login=login, consent=consent,
                         account=account)


def stored(op: Provider, kind: str, id_: str) -> dict[str, Any] | None:
    """The payload of a stored object (as the provider sees it now)."""
    async def find() -> dict[str, Any] | None:
        found = await op.services.objects.find(kind, id_, now=utcnow())
        return None if found is None else found.payload
    return op.call(find)


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    """The provider (SQLite, test mode, TEST authenticator)."""
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test") as p:
        yield p


@pytest.fixture
def rp_jwt(op: Provider) -> JwtRp:
    key = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": [{**public_jwk(key.public_key()), "kid": "rp-key", "alg": "ES256", "use": "sig"}]}
    rp = op.register("rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks)
    return JwtRp(rp.client, None, key)


@pytest.fixture
def rp_basic(op: Provider) -> Rp:
    return op.register("rp-basic", AuthMethod.CLIENT_SECRET_BASIC)


@pytest.fixture
def rp_public(op: Provider) -> Rp:
    return op.register("rp-public")


@pytest.fixture
def browser(op: Provider) -> Browser:
    return Browser(op)


__all__ = ["Arrival", "Browser", "DpopKey", "JwtRp", "authorization_params", "stored"]
