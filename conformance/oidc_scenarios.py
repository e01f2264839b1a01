"""Scenarios driven by openid-client, and negative modules of the OpenID conformance Basic and Config plans.

Each scenario returns a one-line detail on success and raises :class:`Failed` (or any other exception, which the
runner reports as a failure with its type) otherwise. Module names in brackets are the conformance suite's
(``oidcc-basic-certification-test-plan``, ``oidcc-config-certification-test-plan``); the suite itself cannot run
here (oidc-anchors.md §3), so its checks are re-done with openid-client as the relying party.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from conformance.oidc_browser import Arrival, Browser
from conformance.oidc_clients import ACCOUNT, OTHER_ACCOUNT, POST_LOGOUT_REDIRECT_URI, ClientSpec, stop_uris
from conformance.oidc_driver import OpenIdClient, RpError
from conformance.oidc_targets import Target

_REQUIRED_METADATA: Final = (
    "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
    "pushed_authorization_request_endpoint", "revocation_endpoint", "introspection_endpoint", "end_session_endpoint",
)
_PROMPT_NONE_ERRORS: Final = ("login_required", "interaction_required")
#: Parameters asking for a refresh token: offline_access, with the consent prompt OIDC Core §11 requires for it.
OFFLINE: Final = {"scope": "openid offline_access", "prompt": "consent"}
#: A token value no provider issued.
_UNKNOWN_TOKEN: Final = "never-issued-token"


class Failed(Exception):
    """The provider did not behave as the scenario requires; the message says how."""


def check(condition: object, message: str) -> None:
    """Raise :class:`Failed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Failed(message)


def jwt_part(token: str, index: int) -> dict[str, Any]:
    """Header (0) or payload (1) of a compact JWS, decoded without verification (for reporting only)."""
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


@dataclass
class Flow:
    """A completed code flow: the driver's flow id, the token response and the browser walk."""

    id: str
    tokens: dict[str, Any]
    arrival: Arrival

    @property
    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = self.tokens.get("claims") or {}
        return claims


@dataclass
class Context:
    """What scenarios share: the target, the relying party (openid-client) and the registered clients."""

    target: Target
    rp: OpenIdClient
    clients: dict[str, ClientSpec]
    metadata: dict[str, Any]
    #: The user agent the scenarios' browsers are (the card target's logs in with the card).
    browser_type: type[Browser] = Browser
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _browsers: list[Browser] = field(default_factory=list)

    @property
    def stop_at(self) -> tuple[str, ...]:
        return stop_uris(self.clients)

    def browser(self, account: str = ACCOUNT) -> Browser:
        """A new user agent (empty cookie jar), closed when the run ends."""
        browser = self.browser_type(account)
        self._browsers.append(browser)
        return browser

    def close(self) -> None:
        for browser in self._browsers:
            browser.close()

    def authorize(self, client: str = "jwt", **options: Any) -> tuple[str, str]:
        """A new flow's id and its authorization URL (openid-client builds it; ``options`` as driver.mjs)."""
        flow, result = self.authorize_with_key(client, **options)
        return flow, result["url"]

    def authorize_with_key(self, client: str = "jwt", **options: Any) -> tuple[str, dict[str, Any]]:
        """Like :meth:`authorize`, with the driver's whole answer (``url``, and ``jkt`` for DPoP flows)."""
        flow = f"f{next(self._ids)}"
        return flow, self.rp.call("authorize", client=client, flow=flow, **options)

    def code_flow(self, client: str = "jwt", *, browser: Browser | None = None, **options: Any) -> Flow:
        """Authorize (logging in if needed), then redeem the code with openid-client."""
        flow, url = self.authorize(client, **options)
        arrival = (browser or self.browser()).go(url, stop_at=self.stop_at)
        check(arrival.arrived and "code" in arrival.params, f"no authorization code: {arrival.describe()}")
        return Flow(flow, self.rp.call("callback", flow=flow, url=arrival.url), arrival)

    def authorization_error(self, url: str, browser: Browser, *, login: bool = True) -> dict[str, str]:
        """The error parameters of the authorization response the browser is sent back with."""
        arrival = browser.go(url, stop_at=self.stop_at, login=login)
        check(arrival.arrived, f"expected an error response at the redirect URI, {arrival.describe()}")
        params = arrival.params
        check("error" in params and "code" not in params, f"expected an error response, got {arrival.url}")
        if self.metadata.get("authorization_response_iss_parameter_supported"):
            check(params.get("iss") == self.target.issuer, f"error response without iss (RFC 9207 §2): {params}")
        return params


def expect_rp_error(call: Callable[[], object], *errors: str, status: int | None = None) -> RpError:
    """Run ``call``; it must fail with one of ``errors`` (OAuth error codes) or, if given, HTTP ``status``."""
    try:
        outcome = call()
    except RpError as exc:
        check(exc.error in errors or (status is not None and exc.status == status),
              f"expected {' or '.join(errors) or f'HTTP {status}'}, got {exc}")
        return exc
    raise Failed(f"expected {' or '.join(errors) or f'HTTP {status}'}, but it succeeded: {str(outcome)[:160]}")


# -- openid-client -----------------------------------------------------------------------------------------------


def discovery(ctx: Context) -> str:
    m = ctx.metadata
    missing = [name for name in _REQUIRED_METADATA if not m.get(name)]
    check(not missing, f"metadata lacks {', '.join(missing)}")
    check(m.get("code_challenge_methods_supported") == ["S256"],
          f"code_challenge_methods_supported {m.get('code_challenge_methods_supported')}, expected only S256")
    check("code" in m.get("response_types_supported", []), "response type code is not supported")
    for member, value in (("token_endpoint_auth_methods_supported", "private_key_jwt"),
                          ("subject_types_supported", "pairwise"), ("id_token_signing_alg_values_supported", "ES256")):
        check(value in m.get(member, []), f"{member} lacks {value}: {m.get(member)}")
    check("none" not in m.get("id_token_signing_alg_values_supported", []), "unsigned ID tokens are advertised")
    check(m.get("dpop_signing_alg_values_supported"), "dpop_signing_alg_values_supported is missing")
    check(m.get("authorization_response_iss_parameter_supported") is True, "RFC 9207 iss parameter not advertised")
    keys = httpx.get(m["jwks_uri"], timeout=10).json().get("keys", [])
    check(keys and all(k.get("kid") and "d" not in k and "p" not in k for k in keys),
          "JWKS keys lack kid or hold private members")
    return f"{len(m)} members, {len(keys)} signing keys, PKCE S256 only, PAR/DPoP/logout endpoints advertised"


def code_pkce(ctx: Context) -> str:
    flow = ctx.code_flow("basic")
    header, claims = jwt_part(flow.tokens["id_token"], 0), flow.claims
    check(header.get("alg") == "ES256", f"ID token alg {header.get('alg')}, registered ES256")
    check(flow.tokens["token_type"].lower() == "bearer", f"token_type {flow.tokens['token_type']}")
    check(flow.arrival.logins == 1, f"{flow.arrival.logins} logins")
    return (f"client_secret_basic; ID token {header['alg']} verified by openid-client (iss, aud, nonce, exp, "
            f"signature); sub {claims['sub'][:12]}…")


def pkce_required(ctx: Context) -> str:
    browser = ctx.browser()
    _, url = ctx.authorize("jwt", pkce=False)
    missing = ctx.authorization_error(url, browser)
    check(missing["error"] == "invalid_request", f"without code_challenge: {missing}")
    _, url = ctx.authorize("jwt", pkce=False, params={"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                                                       "code_challenge_method": "plain"})
    plain = ctx.authorization_error(url, browser)
    check(plain["error"] == "invalid_request", f"with code_challenge_method=plain: {plain}")
    flow, url = ctx.authorize("jwt")
    arrival = browser.go(url, stop_at=ctx.stop_at)
    check("code" in arrival.params, f"no code: {arrival.describe()}")
    expect_rp_error(lambda: ctx.rp.call("callback", flow=flow, url=arrival.url, code_verifier="x" * 43),
                    "invalid_grant")
    return "missing and plain code_challenge refused (invalid_request); wrong code_verifier refused (invalid_grant)"


def par(ctx: Context) -> str:
    browser = ctx.browser()
    flow_id, url = ctx.authorize("jwt", par=True)
    query = dict(httpx.URL(url).params)
    check(set(query) == {"client_id", "request_uri"}, f"PAR authorization URL carries {sorted(query)}")
    check(query["request_uri"].startswith("urn:ietf:params:oauth:request_uri:"), f"request_uri {query['request_uri']}")
    arrival = browser.go(url, stop_at=ctx.stop_at)
    check("code" in arrival.params, f"no code: {arrival.describe()}")
    tokens = ctx.rp.call("callback", flow=flow_id, url=arrival.url)
    replay = browser.go(url, stop_at=ctx.stop_at)
    check("code" not in replay.params, "the request_uri was accepted twice")
    return f"pushed with private_key_jwt, request_uri used once; sub {tokens['claims']['sub'][:12]}…"


def private_key_jwt(ctx: Context) -> str:
    flow = ctx.code_flow("jwt")
    check(flow.tokens.get("access_token") and flow.tokens.get("id_token"), "token response incomplete")
    return f"token endpoint accepted openid-client's ES256 client assertion; expires_in {flow.tokens.get('expires_in')}"


def dpop(ctx: Context) -> str:
    flow_id, request = ctx.authorize_with_key("jwt", par=True, dpop=True, params=OFFLINE)
    arrival = ctx.browser().go(request["url"], stop_at=ctx.stop_at)
    check("code" in arrival.params, f"no code: {arrival.describe()}")
    tokens = ctx.rp.call("callback", flow=flow_id, url=arrival.url)
    check(tokens["token_type"].lower() == "dpop", f"token_type {tokens['token_type']}")
    introspection = ctx.rp.call("introspect", client="jwt", token=tokens["access_token"])
    bound = (introspection.get("cnf") or {}).get("jkt")
    check(bound == request["jkt"], f"introspection cnf {introspection.get('cnf')}, proof key {request['jkt']}")
    ctx.rp.call("userinfo", flow=flow_id, access_token=tokens["access_token"], sub=tokens["claims"]["sub"])
    expect_rp_error(lambda: ctx.rp.call("userinfo", flow=flow_id, access_token=tokens["access_token"], dpop=False),
                    "invalid_token", "invalid_request", status=401)
    refreshed = ctx.rp.call("refresh", flow=flow_id, refresh_token=tokens["refresh_token"])
    check(refreshed["token_type"].lower() == "dpop", f"refreshed token_type {refreshed['token_type']}")
    return "PAR with DPoP; token_type DPoP, cnf.jkt bound; userinfo with proof ok, as Bearer 401; refresh stays DPoP"


def userinfo(ctx: Context) -> str:
    flow = ctx.code_flow("jwt")
    claims = ctx.rp.call("userinfo", flow=flow.id, access_token=flow.tokens["access_token"], sub=flow.claims["sub"])
    expect_rp_error(lambda: ctx.rp.call("userinfo", flow=flow.id, access_token=_UNKNOWN_TOKEN), status=401)
    return f"sub matches the ID token ({len(claims)} claims); an unknown token gets 401"


def pairwise(ctx: Context) -> str:
    browser = ctx.browser()
    first = ctx.code_flow("jwt", browser=browser).claims["sub"]
    other_sector = ctx.code_flow("other", browser=browser).claims["sub"]
    again = ctx.code_flow("jwt").claims["sub"]
    other_account = ctx.code_flow("jwt", browser=ctx.browser(OTHER_ACCOUNT)).claims["sub"]
    check(first == again, "sub changed between two logins of one account at one client")
    check(first != other_sector, "two sectors see the same sub")
    check(first != other_account, "two accounts share a sub")
    check(ACCOUNT not in (first, other_sector), "sub is the account id itself")
    return "stable per sector, different across sectors and accounts, not the account id"


def refresh_rotation(ctx: Context) -> str:
    flow = ctx.code_flow("jwt", params=OFFLINE)
    old = flow.tokens.get("refresh_token")
    check(old, "no refresh token issued for offline_access")
    new = ctx.rp.call("refresh", flow=flow.id, refresh_token=old)
    check(new.get("access_token") and new["access_token"] != flow.tokens["access_token"], "no new access token")
    check(new.get("refresh_token") and new["refresh_token"] != old, "the refresh token was not rotated")
    try:  # RFC 9700 §4.14.2 allows a grace window in which a retry gets the same answer, nothing else
        retry = ctx.rp.call("refresh", flow=flow.id, refresh_token=old)
        check((retry["access_token"], retry["refresh_token"]) == (new["access_token"], new["refresh_token"]),
              "replaying the old refresh token minted new tokens")
        replay = "an immediate retry gets the same response (grace window)"
    except RpError as exc:
        check(exc.error == "invalid_grant", f"replay: expected invalid_grant, got {exc}")
        replay = "replay refused"
    expect_rp_error(lambda: ctx.rp.call("refresh", flow=flow.id, refresh_token=old, params={"scope": "openid"}),
                    "invalid_grant")
    expect_rp_error(lambda: ctx.rp.call("refresh", flow=flow.id, refresh_token=new["refresh_token"]), "invalid_grant")
    return f"rotated on use; {replay}; a replay with another scope revokes the successor too (RFC 9700 §4.14.2)"


def revocation(ctx: Context) -> str:
    flow = ctx.code_flow("jwt", params=OFFLINE)
    access, refresh = flow.tokens["access_token"], flow.tokens["refresh_token"]
    ctx.rp.call("revoke", client="jwt", token=access, hint="access_token")
    check(ctx.rp.call("introspect", client="jwt", token=access).get("active") is False,
          "revoked access token still active")
    expect_rp_error(lambda: ctx.rp.call("userinfo", flow=flow.id, access_token=access), status=401)
    ctx.rp.call("revoke", client="jwt", token=refresh, hint="refresh_token")
    expect_rp_error(lambda: ctx.rp.call("refresh", flow=flow.id, refresh_token=refresh), "invalid_grant")
    ctx.rp.call("revoke", client="jwt", token=_UNKNOWN_TOKEN)
    return "access token inactive and refused at userinfo; refresh token refused; unknown token answered 200"


def introspection(ctx: Context) -> str:
    flow = ctx.code_flow("jwt", params=OFFLINE)
    access = ctx.rp.call("introspect", client="jwt", token=flow.tokens["access_token"])
    check(access.get("active") is True, f"access token: {access}")
    check(access.get("client_id") == "rp-jwt", f"client_id {access.get('client_id')}")
    check(access.get("sub") == flow.claims["sub"], "sub differs from the ID token's")
    check("openid" in str(access.get("scope", "")).split(), f"scope {access.get('scope')}")
    check(int(access.get("exp", 0)) > time.time(), f"exp {access.get('exp')}")
    refresh = ctx.rp.call("introspect", client="jwt", token=flow.tokens["refresh_token"])
    check(refresh.get("active") is True, f"refresh token: {refresh}")
    check(ctx.rp.call("introspect", client="jwt", token=_UNKNOWN_TOKEN).get("active") is False, "garbage is active")
    return "access and refresh tokens active with client_id, sub, scope, exp; unknown token inactive"


def logout(ctx: Context) -> str:
    browser = ctx.browser()
    flow = ctx.code_flow("jwt", browser=browser)
    url = ctx.rp.call("end_session_url", client="jwt", params={
        "id_token_hint": flow.tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT_REDIRECT_URI,
        "state": "logout-state"})["url"]
    arrival = browser.go(url, stop_at=(POST_LOGOUT_REDIRECT_URI,))
    check(arrival.arrived, f"not sent back to post_logout_redirect_uri: {arrival.describe()}")
    check(arrival.params.get("state") == "logout-state", f"state not returned: {arrival.url}")
    _, url = ctx.authorize("jwt", params={"prompt": "none"})
    after = ctx.authorization_error(url, browser)
    check(after["error"] in _PROMPT_NONE_ERRORS, f"session still usable after logout: {after}")
    return f"id_token_hint + post_logout_redirect_uri + state honoured; then prompt=none gives {after['error']}"


# -- negative modules of the Basic and Config plans --------------------------------------------------------------


def auth_code_reuse(ctx: Context) -> str:
    flow = ctx.code_flow("jwt")
    expect_rp_error(lambda: ctx.rp.call("callback", flow=flow.id, url=flow.arrival.url), "invalid_grant")
    state = ctx.rp.call("introspect", client="jwt", token=flow.tokens["access_token"])
    check(state.get("active") is False, "tokens issued with the code stay active after its reuse (RFC 6749 §4.1.2)")
    return "second redemption invalid_grant; tokens of the first redemption revoked"


def redirect_uri_mismatch(ctx: Context) -> str:
    bad = "http://127.0.0.1:65001/not-registered"
    _, url = ctx.authorize("jwt", params={"redirect_uri": bad})
    arrival = ctx.browser().go(url, stop_at=(bad, *ctx.stop_at))
    check(not arrival.arrived, f"the browser was sent to {arrival.url}")
    check(400 <= arrival.status < 500 and arrival.logins == 0, f"expected an error page: {arrival.describe()}")
    return f"error page (HTTP {arrival.status}) without redirect, no login asked"


def missing_nonce(ctx: Context) -> str:
    flow = ctx.code_flow("jwt", nonce=False)
    check("nonce" not in flow.claims, "ID token carries a nonce that was not sent")
    return "code flow without nonce succeeds; ID token has no nonce"


def prompt_none_not_logged_in(ctx: Context) -> str:
    _, url = ctx.authorize("jwt", params={"prompt": "none"})
    params = ctx.authorization_error(url, ctx.browser(), login=False)
    check(params["error"] in _PROMPT_NONE_ERRORS, f"error {params['error']}")
    check(params.get("state"), "state not returned with the error")
    return f"error={params['error']} with state and iss"


def prompt_none_logged_in(ctx: Context) -> str:
    browser = ctx.browser()
    first = ctx.code_flow("jwt", browser=browser)
    second = ctx.code_flow("jwt", browser=browser, params={"prompt": "none"})
    check(second.arrival.logins == 0, "prompt=none showed a login form")
    check(second.claims["sub"] == first.claims["sub"], "sub differs within one session")
    return "code issued without interaction; same sub"


def prompt_login(ctx: Context) -> str:
    browser = ctx.browser()
    ctx.code_flow("jwt", browser=browser)
    again = ctx.code_flow("jwt", browser=browser, params={"prompt": "login"})
    check(again.arrival.logins == 1, f"prompt=login with a session: {again.arrival.logins} logins")
    return "login asked again despite the session"


def max_age(ctx: Context) -> str:
    browser = ctx.browser()
    ctx.code_flow("jwt", browser=browser)
    kept = ctx.code_flow("jwt", browser=browser, params={"max_age": "10000"})
    check(kept.arrival.logins == 0 and "auth_time" in kept.claims, "max_age=10000: login asked or no auth_time")
    time.sleep(2)
    fresh = ctx.code_flow("jwt", browser=browser, params={"max_age": "1"})
    check(fresh.arrival.logins == 1, "max_age=1 after 2 s did not ask for a new login")
    check(fresh.claims.get("auth_time", 0) > kept.claims["auth_time"], "auth_time did not move on")
    return "MaxAge10000 keeps the session (auth_time present); MaxAge1 forces a new login, auth_time advances"


def bad_client_assertion(ctx: Context) -> str:
    flow_id, url = ctx.authorize("jwt")
    arrival = ctx.browser().go(url, stop_at=ctx.stop_at)
    check("code" in arrival.params, f"no code: {arrival.describe()}")
    exc = expect_rp_error(lambda: ctx.rp.call("callback", flow=flow_id, url=arrival.url, client="impostor"),
                          "invalid_client")
    check(exc.status == 401, f"invalid_client with HTTP {exc.status}, RFC 6749 §5.2 says 401")
    return "assertion signed with an unregistered key: invalid_client, HTTP 401"


@contextmanager
def context(target: Target, rp: OpenIdClient, clients: dict[str, ClientSpec]) -> Iterator[Context]:
    """Configure openid-client for every client (discovery) and yield the shared context."""
    registered = {name: c.driver_view() for name, c in clients.items()}
    metadata = rp.call("configure", issuer=target.issuer, clients=registered)["metadata"]
    ctx = Context(target, rp, clients, metadata)
    try:
        yield ctx
    finally:
        ctx.close()


#: (name, scenario), in run order.
SCENARIOS: Final[tuple[tuple[str, Callable[[Context], str]], ...]] = (
    ("openid-client discovery", discovery),
    ("openid-client code + PKCE", code_pkce),
    ("openid-client PKCE S256 required", pkce_required),
    ("openid-client PAR", par),
    ("openid-client private_key_jwt", private_key_jwt),
    ("openid-client DPoP-bound tokens", dpop),
    ("openid-client userinfo", userinfo),
    ("openid-client pairwise subject", pairwise),
    ("openid-client refresh with rotation", refresh_rotation),
    ("openid-client revocation", revocation),
    ("openid-client introspection", introspection),
    ("openid-client RP-initiated logout", logout),
    ("Basic AuthCodeReuse", auth_code_reuse),
    ("Basic EnsureRegisteredRedirectUri", redirect_uri_mismatch),
    ("Basic EnsureRequestWithoutNonceSucceedsForCodeFlow", missing_nonce),
    ("Basic PromptNoneNotLoggedIn", prompt_none_not_logged_in),
    ("Basic PromptNoneLoggedIn", prompt_none_logged_in),
    ("Basic PromptLogin", prompt_login),
    ("Basic MaxAge1 / MaxAge10000", max_age),
    ("Config bad client assertion", bad_client_assertion),
)

__all__ = ["SCENARIOS", "Context", "Failed", "Flow", "check", "context", "expect_rp_error", "jwt_part"]
