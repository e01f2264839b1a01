"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) and back-channel logout (OIDC Back-Channel Logout 1.0): the
browser's session ends after confirmation, and each client of the session receives a logout token at a real HTTP
server on loopback."""

from __future__ import annotations

import datetime as dt
import html
import ipaddress
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import jwt
import pytest

from idp.clients import AuthMethod
from idp.oauth.logout import BACKCHANNEL_EVENT, InvalidIdTokenHint, verify_id_token_hint
from idp.oauth.session import SESSION_COOKIE
from idp.runtime import utcnow
from servicekit.outbound import IPAddress
from tests.idp.protocol import clientfixtures
from tests.idp.protocol.clientfixtures import ISSUER, Key, LoopbackServer, unsigned
from tests.idp.protocol.conftest import Browser, stored
from tests.idp.protocol.tokenkit import IssuedCode, Provider, Rp, provider, verify_id_token
from tests.idp.test_cli import Idp
from tests.support.drip import drip_server

rp_server = clientfixtures.rp_server  # the fixture
BYE = "https://rp.example.jp/bye?from=op"
_HIDDEN = re.compile(r'<input type="hidden" name="logout" value="([^"]+)">')


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    """The provider with a short back-channel timeout."""
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test", MYNACARD_LOGOUT_BACKCHANNEL_TIMEOUT="1") as p:
        yield p


def client(op: Provider, client_id: str, backchannel: str | None = None, **metadata: Any) -> Rp:
    return op.register(client_id, AuthMethod.CLIENT_SECRET_BASIC, post_logout_redirect_uris=[BYE],
                       backchannel_logout_uri=backchannel, **metadata)


def login(op: Provider, browser: Browser, rp: Rp) -> dict[str, Any]:
    """A code flow; the verified ID token's claims, and the token itself under ``_raw``."""
    arrival = browser.authorize(rp, nonce="n-logout")
    tokens = op.redeem(rp, IssuedCode(arrival.code, arrival.verifier, ""))
    assert tokens.status_code == 200, tokens.text
    raw = tokens.json()["id_token"]
    claims = verify_id_token(raw, op.jwks(), client_id=rp.client_id, alg="ES256", nonce="n-logout")
    return {**claims, "_raw": raw}


def start_logout(browser: Browser, **params: str) -> httpx.Response:
    return browser.request("GET", "/logout", params=params)


def confirm(browser: Browser, page: httpx.Response, decision: str = "yes") -> httpx.Response:
    assert page.status_code == 200, page.text
    assert '<form method="post" action="/logout/confirm">' in page.text
    logout_id = html.unescape(_HIDDEN.findall(page.text)[0])
    return browser.request("POST", "/logout/confirm", data={"logout": logout_id, "decision": decision})


def session_alive(op: Provider, sid: str) -> bool:
    return stored(op, "Session", sid) is not None


def verify_logout_token(op: Provider, token: str, client_id: str) -> dict[str, Any]:
    """OIDC Back-Channel Logout §2.6 as a relying party does it, with pyjwt."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt"
    key = jwt.PyJWKSet.from_dict(op.jwks())[header["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"], audience=client_id, issuer=ISSUER,
                                        options={"require": ["iat", "exp", "jti", "events"]})
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert "nonce" not in claims
    assert 0 < claims["exp"] - claims["iat"] <= 120
    return claims


def test_rp_initiated_logout_with_back_channel_to_every_client(op: Provider, rp_server: LoopbackServer) -> None:
    one = client(op, "rp-one", rp_server.route("/bc/one"))
    two = client(op, "rp-two", rp_server.route("/bc/two"), sector_identifier="two.example.jp")
    quiet = client(op, "rp-quiet")
    browser = Browser(op)
    first = login(op, browser, one)
    second = login(op, browser, two)
    login(op, browser, quiet)
    assert first["sid"] == second["sid"]
    assert first["sub"] != second["sub"]
    sid = first["sid"]
    page = start_logout(browser, id_token_hint=first["_raw"], post_logout_redirect_uri=BYE, state="st-1")
    assert "rp-one" in page.text
    assert "form-action 'self' https://rp.example.jp" in page.headers["content-security-policy"]
    assert session_alive(op, sid)
    done = confirm(browser, page)
    assert done.status_code == 303
    location = urlsplit(done.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://rp.example.jp/bye"
    assert dict(parse_qsl(location.query)) == {"from": "op", "state": "st-1"}
    assert not session_alive(op, sid)
    assert not browser.cookie(SESSION_COOKIE)
    received = {r.path: r for r in rp_server.received}
    assert set(received) == {"/bc/one", "/bc/two"}
    for path, rp, sub in (("/bc/one", one, first["sub"]), ("/bc/two", two, second["sub"])):
        request = received[path]
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = parse_qs(request.body.decode())
        claims = verify_logout_token(op, form["logout_token"][0], rp.client_id)
        assert (claims["sub"], claims["sid"]) == (sub, sid)
    assert Browser(op).authorize(one, prompt="none").params["error"] == "login_required"
    assert browser.authorize(one, prompt="none").params["error"] == "login_required"


def log_out_with_a_failing_client(op: Provider, rp_server: LoopbackServer, bad_uri: str, bad_id: str,
                                  caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """Log in to a client at ``bad_uri`` and to a good one, log out: the session ends and the good client is told.
    The bad client's ID token claims."""
    bad = client(op, bad_id, bad_uri)
    good = client(op, "rp-good", rp_server.route("/bc-good"))
    browser = Browser(op)
    claims = login(op, browser, bad)
    login(op, browser, good)
    caplog.set_level(logging.INFO)
    done = confirm(browser, start_logout(browser, id_token_hint=claims["_raw"], post_logout_redirect_uri=BYE))
    assert done.status_code == 303
    assert not session_alive(op, claims["sid"])
    assert rp_server.arrived.wait(5)
    assert any(r.path == "/bc-good" for r in rp_server.received)
    return claims


@pytest.mark.parametrize("failure", ["500", "slow", "unreachable"])
def test_a_failing_client_does_not_stop_the_logout(op: Provider, rp_server: LoopbackServer, failure: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    status, delay = {"500": (500, 0.0), "slow": (200, 3.0), "unreachable": (200, 0.0)}[failure]
    uri = "http://127.0.0.1:9/bc" if failure == "unreachable" else rp_server.route("/bc", status, delay=delay)
    claims = log_out_with_a_failing_client(op, rp_server, uri, "rp-bad", caplog)
    ours = [r for r in caplog.records if r.name.startswith("idp.")]
    expected = "backchannel_logout_refused" if failure == "500" else "backchannel_logout_failed"
    assert [r.__dict__.get("client_id") for r in ours if r.msg == expected] == ["rp-bad"]
    assert not [r for r in ours if claims["_raw"] in f"{r.msg} {r.__dict__}"]


def test_a_slow_drip_is_cut_at_the_deadline(op: Provider, rp_server: LoopbackServer,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """logout.backchannel_timeout (1 s here) bounds the whole post, however quickly each octet comes."""
    with drip_server(b"ok".ljust(150)) as base:
        started = time.monotonic()
        log_out_with_a_failing_client(op, rp_server, base + "/bc", "rp-drip", caplog)
        elapsed = time.monotonic() - started
    failed = [r for r in caplog.records if r.msg == "backchannel_logout_failed"]
    assert [(r.__dict__["client_id"], r.__dict__["reason"]) for r in failed] == [("rp-drip", "timeout")]
    assert elapsed < 20  # two logins and a logout; the drip alone would take 30 s


@pytest.mark.parametrize(("uri", "answers"), [
    ("https://bc.rp.example.jp/bc", ("10.20.30.40",)),          # a name that now resolves to a private address
    ("https://bc.rp.example.jp/bc", ("169.254.169.254",)),      # ... or to the cloud metadata service
    ("https://bc.rp.example.jp/bc", ("203.0.114.9", "fd12::1")),  # one public and one private answer
    ("https://10.20.30.40/bc", ()),                              # a literal stored before registration refused it
])
def test_back_channel_posts_never_go_to_non_public_addresses(op: Provider, rp_server: LoopbackServer, uri: str,
                                                            answers: tuple[str, ...],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(a) for a in answers]

    op.services.outbound.resolver = resolve
    log_out_with_a_failing_client(op, rp_server, uri, "rp-internal", caplog)
    failed = [r for r in caplog.records if r.msg == "backchannel_logout_failed"]
    assert [(r.__dict__["client_id"], r.__dict__["reason"]) for r in failed] == [("rp-internal", "refused_address")]
    assert asked == (["bc.rp.example.jp"] if answers else [])


def test_staying_logged_in(op: Provider, rp_server: LoopbackServer) -> None:
    rp = client(op, "rp-one", rp_server.route("/bc"))
    browser = Browser(op)
    claims = login(op, browser, rp)
    done = confirm(browser, start_logout(browser, id_token_hint=claims["_raw"], post_logout_redirect_uri=BYE,
                                         state="s"), decision="no")
    assert done.status_code == 303
    assert "state=s" in done.headers["location"]
    assert session_alive(op, claims["sid"])
    assert rp_server.received == []
    assert browser.authorize(rp).logins == 0


def test_without_a_session_the_browser_goes_straight_back(op: Provider) -> None:
    rp = client(op, "rp-one")
    claims = login(op, Browser(op), rp)
    stranger = Browser(op)
    done = start_logout(stranger, id_token_hint=claims["_raw"], post_logout_redirect_uri=BYE, state="x")
    assert done.status_code == 303
    assert dict(parse_qsl(urlsplit(done.headers["location"]).query))["state"] == "x"
    plain = start_logout(stranger)
    assert plain.status_code == 200
    assert "Logged out" in start_logout(stranger, ui_locales="en").text
    assert session_alive(op, claims["sid"])


def test_client_id_instead_of_a_hint_and_post(op: Provider) -> None:
    rp = client(op, "rp-one")
    browser = Browser(op)
    claims = login(op, browser, rp)
    page = browser.request("POST", "/logout", data={"client_id": "rp-one", "post_logout_redirect_uri": BYE})
    done = confirm(browser, page)
    assert done.status_code == 303
    assert done.headers["location"] == BYE
    assert not session_alive(op, claims["sid"])


def test_without_a_redirect_the_logout_ends_on_a_page(op: Provider) -> None:
    rp = client(op, "rp-one")
    browser = Browser(op)
    claims = login(op, browser, rp)
    done = confirm(browser, start_logout(browser, ui_locales="en"))
    assert done.status_code == 200
    assert "Logged out" in done.text
    assert not session_alive(op, claims["sid"])


def _bad_request(case: str, op: Provider, claims: dict[str, Any]) -> dict[str, str]:
    hint = claims["_raw"]
    other_key = Key.generate()
    forged = other_key.sign({k: v for k, v in claims.items() if k != "_raw"},
                            kid=jwt.get_unverified_header(hint)["kid"])
    return {
        "unregistered redirect": {"id_token_hint": hint, "post_logout_redirect_uri": "https://evil.example/bye"},
        "redirect prefix": {"id_token_hint": hint, "post_logout_redirect_uri": BYE + "&x=1"},
        "redirect without client": {"post_logout_redirect_uri": BYE},
        "client_id mismatch": {"id_token_hint": hint, "client_id": "rp-two", "post_logout_redirect_uri": BYE},
        "unknown client_id": {"client_id": "rp-nobody", "post_logout_redirect_uri": BYE},
        "forged hint": {"id_token_hint": forged, "post_logout_redirect_uri": BYE},
        "alg none hint": {"id_token_hint": unsigned({"alg": "none"}, {k: v for k, v in claims.items()
                                                                      if k != "_raw"}),
                          "post_logout_redirect_uri": BYE},
        "garbage hint": {"id_token_hint": "not.a.token", "post_logout_redirect_uri": BYE},
        "hint too long": {"id_token_hint": "a" * 20000},
    }[case]


@pytest.mark.parametrize("case", ["unregistered redirect", "redirect prefix", "redirect without client",
                                  "client_id mismatch", "unknown client_id", "forged hint", "alg none hint",
                                  "garbage hint", "hint too long"])
def test_bad_logout_requests_are_shown_an_error_and_never_redirected(op: Provider, case: str) -> None:
    rp = client(op, "rp-one")
    client(op, "rp-two")
    browser = Browser(op)
    claims = login(op, browser, rp)
    response = start_logout(browser, **_bad_request(case, op, claims))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "invalid_request" in response.text
    assert session_alive(op, claims["sid"])


def test_an_access_token_is_not_an_id_token_hint(op: Provider) -> None:
    rp = client(op, "rp-one")
    browser = Browser(op)
    arrival = browser.authorize(rp)
    access = op.redeem(rp, IssuedCode(arrival.code, arrival.verifier, "")).json()["access_token"]
    response = start_logout(browser, id_token_hint=access, post_logout_redirect_uri=BYE)
    assert response.status_code == 400


def test_an_expired_hint_is_accepted_while_a_session_could_live(op: Provider) -> None:
    rp = client(op, "rp-one")
    claims = login(op, Browser(op), rp)
    settings = op.services.settings
    issued = dt.datetime.fromtimestamp(claims["iat"], dt.UTC)
    after_expiry = issued + dt.timedelta(seconds=settings.tokens.id_token_ttl + 60)
    hint = op.call(verify_id_token_hint, op.services, claims["_raw"], after_expiry)
    assert (hint.client.client_id, hint.sub, hint.sid) == ("rp-one", claims["sub"], claims["sid"])
    too_late = issued + dt.timedelta(seconds=settings.tokens.id_token_ttl + settings.authorization.session_ttl + 1)
    with pytest.raises(InvalidIdTokenHint):
        op.call(verify_id_token_hint, op.services, claims["_raw"], too_late)
    with pytest.raises(InvalidIdTokenHint):
        op.call(verify_id_token_hint, op.services, claims["_raw"], issued - dt.timedelta(minutes=5))


@pytest.mark.parametrize("case", ["unknown id", "replayed id", "other browser", "cross-site post"])
def test_the_confirmation_belongs_to_its_browser_and_is_single_use(op: Provider, case: str) -> None:
    rp = client(op, "rp-one")
    browser, other = Browser(op), Browser(op, account="bob")
    claims = login(op, browser, rp)
    other_claims = login(op, other, rp)
    page = start_logout(browser, id_token_hint=claims["_raw"], post_logout_redirect_uri=BYE)
    logout_id = html.unescape(_HIDDEN.findall(page.text)[0])
    form = {"logout": logout_id, "decision": "yes"}
    if case == "unknown id":
        response = browser.request("POST", "/logout/confirm", data={**form, "logout": "x" * 43})
    elif case == "replayed id":
        assert confirm(browser, page).status_code == 303
        claims = login(op, browser, rp)  # a new session
        response = browser.request("POST", "/logout/confirm", data=form)
    elif case == "other browser":
        response = other.request("POST", "/logout/confirm", data=form)
    else:
        response = browser.request("POST", "/logout/confirm", data=form, headers={"Origin": "https://evil.example"})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert session_alive(op, claims["sid"])
    assert session_alive(op, other_claims["sid"])


def test_discovery_advertises_logout(op: Provider) -> None:
    metadata = op.http.get("/.well-known/openid-configuration").json()
    assert metadata["end_session_endpoint"] == ISSUER + "/logout"
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True


def test_logout_tokens_use_the_clients_algorithm(op: Provider, rp_server: LoopbackServer) -> None:
    rp = client(op, "rp-ps", rp_server.route("/bc"), id_token_signed_response_alg="PS256")
    browser = Browser(op)
    arrival = browser.authorize(rp)
    assert op.redeem(rp, IssuedCode(arrival.code, arrival.verifier, "")).status_code == 200
    page = start_logout(browser, client_id="rp-ps")
    assert confirm(browser, page).status_code == 200
    assert rp_server.arrived.wait(5)
    token = parse_qs(rp_server.received[0].body.decode())["logout_token"][0]
    assert jwt.get_unverified_header(token)["alg"] == "PS256"
    assert utcnow().timestamp() - jwt.decode(token, options={"verify_signature": False})["iat"] < 60


def test_the_admin_cli_registers_logout_metadata(tmp_path: Path) -> None:
    idp = Idp(tmp_path)
    added = idp("clients", "add", "rp-cli", "--redirect-uri", "https://rp.example.jp/cb", "--auth-method", "none",
                "--post-logout-redirect-uri", BYE, "--post-logout-redirect-uri", "http://127.0.0.1:65001/bye",
                "--backchannel-logout-uri", "https://rp.example.jp/bc", "--backchannel-logout-session-required",
                "--dpop-bound")
    described = added["client"]
    assert described["post_logout_redirect_uris"] == [BYE, "http://127.0.0.1:65001/bye"]
    assert (described["backchannel_logout_uri"], described["backchannel_logout_session_required"],
            described["dpop_bound_access_tokens"]) == ("https://rp.example.jp/bc", True, True)
    assert idp("clients", "list")[0]["post_logout_redirect_uris"] == [BYE, "http://127.0.0.1:65001/bye"]
    idp("clients", "add", "rp-bad", "--redirect-uri", "https://rp.example.jp/cb", "--auth-method", "none",
        "--post-logout-redirect-uri", "http://rp.example.jp/bye", rc=1)
    assert "post_logout_redirect_uris" in idp.stderr
