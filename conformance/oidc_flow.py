"""One confidential relying party's complete OpenID Connect flow over HTTP, for load (``python -m bench oidc``) and
faults (``python -m conformance faults``).

The client is ``rp-jwt`` of :func:`conformance.oidc_clients.standard_clients` (private_key_jwt, ES256 assertions
signed with PyJWT, not our JOSE code). The user already has a session at the provider (:func:`log_in`, the scripted
TEST login of :class:`conformance.oidc_browser.Browser`), so a flow needs no interaction:

1. ``POST`` the pushed authorization request (RFC 9126) with PKCE S256, ``state`` and ``nonce``;
2. ``GET`` the authorization endpoint with the ``request_uri`` and the session cookie, following redirects to the
   redirect URI with a code;
3. ``POST`` the token request (authorization code, ``code_verifier``, a fresh client assertion);
4. ``GET`` userinfo with the access token.

Usage::

    rp = Relying(client_id, private_jwk, redirect_uri)
    endpoints, cookies = log_in(issuer, rp)
    async with httpx.AsyncClient(cookies=cookies) as http:
        flow = await run_flow(http, endpoints, rp)   # FlowError names the step and status that failed
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from conformance.oidc_browser import Browser
from conformance.oidc_clients import ACCOUNT

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Endpoints:
    """The provider's endpoints, from its discovery document."""

    issuer: str
    par: str
    authorization: str
    token: str
    userinfo: str


class Relying:
    """The client's side of a flow: assertions and PKCE."""

    def __init__(self, client_id: str, private_jwk: dict[str, str], redirect_uri: str) -> None:
        d = int.from_bytes(base64.urlsafe_b64decode(private_jwk["d"] + "=="), "big")
        self.key = ec.derive_private_key(d, ec.SECP256R1())
        self.kid = private_jwk["kid"]
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        #: Seconds added to this client's clock (its clock follows a provider whose clock was stepped).
        self.clock_offset = 0.0

    def assertion(self, audience: str) -> dict[str, str]:
        """Client authentication parameters with a fresh ``private_key_jwt`` assertion (RFC 7523 §2.2)."""
        now = int(time.time() + self.clock_offset)
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": audience, "jti": uuid.uuid4().hex,
                  "iat": now, "exp": now + 60}
        return {"client_id": self.client_id, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})}


class FlowError(RuntimeError):
    """A step answered other than expected: its name, the HTTP status and the response (when there was one)."""

    def __init__(self, step: str, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.response = response

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status_code


@dataclass
class Flow:
    """A completed flow: each step's latency (ms), the code and the token response."""

    steps: dict[str, float] = field(default_factory=dict)
    code: str = ""
    tokens: dict[str, Any] = field(default_factory=dict)


def _expect(step: str, response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise FlowError(step, f"{response.status_code}: {response.text[:200]}", response)
    return response


async def authorize(http: httpx.AsyncClient, ep: Endpoints, rp: Relying, *, scope: str = "openid",
                    steps: dict[str, float] | None = None) -> tuple[str, str]:
    """Steps 1 and 2: a fresh authorization code and its PKCE ``code_verifier``."""
    steps = {} if steps is None else steps
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    started = time.perf_counter()
    pushed = await http.post(ep.par, data={
        "response_type": "code", "redirect_uri": rp.redirect_uri, "scope": scope, "state": secrets.token_urlsafe(),
        "nonce": secrets.token_urlsafe(), "code_challenge": challenge, "code_challenge_method": "S256",
        **rp.assertion(ep.issuer)})
    steps["par"] = (time.perf_counter() - started) * 1000
    _expect("par", pushed, 201)
    url = f"{ep.authorization}?{urlencode({'client_id': rp.client_id, 'request_uri': pushed.json()['request_uri']})}"
    started = time.perf_counter()
    for _ in range(6):
        response = await http.get(url)
        if not response.is_redirect:
            raise FlowError("authorize", f"{response.status_code} at {url}: {response.text[:200]}", response)
        url = urljoin(url, response.headers["location"])
        if url.startswith(rp.redirect_uri):
            break
    steps["authorize"] = (time.perf_counter() - started) * 1000
    code = parse_qs(urlsplit(url).query).get("code")
    if not code:
        raise FlowError("authorize", f"no code: {url}")
    return code[0], verifier


def token_form(ep: Endpoints, rp: Relying, code: str, verifier: str) -> dict[str, str]:
    """Step 3's form: the code, its verifier and a fresh client assertion."""
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier, **rp.assertion(ep.issuer)}


async def run_flow(http: httpx.AsyncClient, ep: Endpoints, rp: Relying, *, scope: str = "openid") -> Flow:
    """One complete flow (steps 1-4)."""
    flow = Flow()
    flow.code, verifier = await authorize(http, ep, rp, scope=scope, steps=flow.steps)
    started = time.perf_counter()
    token = await http.post(ep.token, data=token_form(ep, rp, flow.code, verifier))
    flow.steps["token"] = (time.perf_counter() - started) * 1000
    flow.tokens = _expect("token", token, 200).json()
    started = time.perf_counter()
    info = await http.get(ep.userinfo, headers={"Authorization": f"Bearer {flow.tokens['access_token']}"})
    flow.steps["userinfo"] = (time.perf_counter() - started) * 1000
    _expect("userinfo", info, 200)
    return flow


def log_in(issuer: str, rp: Relying, *, scope: str = "openid") -> tuple[Endpoints, httpx.Cookies]:
    """Discover the endpoints and log in once (scripted TEST login, consent approved) for a session cookie."""
    metadata = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    ep = Endpoints(issuer, metadata["pushed_authorization_request_endpoint"], metadata["authorization_endpoint"],
                   metadata["token_endpoint"], metadata["userinfo_endpoint"])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": rp.client_id, "response_type": "code", "redirect_uri": rp.redirect_uri,
                       "scope": scope, "state": "s", "nonce": "n", "code_challenge": challenge,
                       "code_challenge_method": "S256",
                       **({"prompt": "consent"} if "offline_access" in scope.split() else {})})
    with Browser(ACCOUNT) as browser:
        arrival = browser.go(f"{ep.authorization}?{query}", stop_at=(rp.redirect_uri,))
        if "code" not in arrival.params:
            raise RuntimeError(f"login failed: {arrival.describe()}")
        return ep, httpx.Cookies(browser.http.cookies)


__all__ = ["ASSERTION_TYPE", "Endpoints", "Flow", "FlowError", "Relying", "authorize", "log_in", "run_flow",
           "token_form"]
