"""``python -m conformance oidc --target ours-card``: openid-client against our provider with the real card login in
the loop, instead of the TEST authenticator.

The target (:func:`ours_card`) is ``idp serve`` with ``login.authenticator = "card"`` (test mode for the test PKI's
roots, a CRL per root), a private pcscd with the vsmartcard driver and a virtual My Number card issued from the test
PKI, and the card agent (``python -m cardreader agent``, PIN pad entry) on loopback. The harness's user agent
(:class:`CardBrowser`) does what the login page's script and the person do: it hands the page's token to the agent
(with the provider's ``Origin``), types the PIN (or the signing password, when the page asks for the signing key)
into the agent's PIN pad, waits for the provider to report the login verified, and posts the finish form.

Scenarios (:data:`SCENARIOS`), each with openid-client as the relying party: discovery; code + PKCE with
client_secret_basic and an auth-certificate login (``acr`` and ``amr`` checked in the verified ID token); PAR with
private_key_jwt; userinfo; a signing-certificate login releasing the basic facts approved on the consent page; an
RFC 9396 ``jpki_sign`` request (PAR) signed by the card, its results fetched once.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import create_profile
from conformance.oidc_browser import Browser
from conformance.oidc_clients import ClientSpec
from conformance.oidc_scenarios import Context, check, code_pkce, discovery, jwt_part, par, userinfo
from conformance.oidc_targets import Process, Target, TargetError, free_port, ours
from keys.testpki import TestPki
from keys.testpki.revocation import issue_crl

AUTH_PIN: Final = "4682"
SIGN_PASSWORD: Final = "CONF0RM4"
_TOKEN: Final = re.compile(r'data-token="([A-Za-z0-9_-]{43})"')
_KEY: Final = re.compile(r'data-key="(auth|sign)"')
_UID: Final = re.compile(r"/interaction/([A-Za-z0-9_-]{43})")
_TIMEOUT: Final = 30.0


@dataclass(frozen=True)
class CardSetup:
    """Where the agent listens."""

    agent_url: str


#: The running card setup of the target, for the browsers the scenarios open.
_current: list[CardSetup] = []


@contextlib.contextmanager
def ours_card(clients: Mapping[str, ClientSpec], workdir: Path) -> Iterator[Target]:
    """Our provider with the card authenticator, the virtual card in a private pcscd, and the card agent."""
    now = dt.datetime.now(dt.UTC)
    profile = create_profile(workdir / "card" / "card.json", pki_dir=workdir / "pki", now=now, auth_pin=AUTH_PIN,
                             sign_password=SIGN_PASSWORD)
    pki = TestPki.open(workdir / "pki")
    trust = pki.write_trust_directory(workdir / "trust")
    crls = workdir / "crls"
    crls.mkdir(exist_ok=True)
    for root in pki.roots():
        (crls / f"{root.purpose.value}-gen{root.generation}.crl").write_bytes(issue_crl(
            root, [], this_update=now - dt.timedelta(minutes=5), next_update=now + dt.timedelta(days=1),
            crl_number=1))
    agent_port = free_port()
    env = {"MYNACARD_LOGIN_AUTHENTICATOR": "card", "MYNACARD_CARD_LOGIN_TRUST_DIR": str(trust),
           "MYNACARD_CARD_LOGIN_CRL_DIR": str(crls), "MYNACARD_CARD_LOGIN_AGENT_URL": f"http://127.0.0.1:{agent_port}"}
    try:
        lab = PcscLab(workdir / "lab").start()
    except (OSError, RuntimeError) as exc:
        raise TargetError(f"pcscd with vsmartcard-vpcd is needed: {exc}") from None
    try:
        lab.insert(profile.path)
        with ours(clients, workdir, extra_env=env) as target:
            agent = Process([sys.executable, "-m", "cardreader", "agent", "--provider", target.issuer, "--port",
                             str(agent_port), "--pin-entry", "pinpad", "--card-timeout", "10"],
                            workdir / "agent.log", env=lab.env)
            try:
                agent.wait_ready(f"http://127.0.0.1:{agent_port}/pinpad")  # a static page: /v1/ needs the Origin
                _current.append(CardSetup(f"http://127.0.0.1:{agent_port}"))
                yield Target("ours-card", target.issuers, target.processes, workdir)
            finally:
                _current.clear()
                agent.stop()
    finally:
        lab.close()


class CardBrowser(Browser):
    """The harness's user agent, logging in with the virtual card through the agent (see the module docstring)."""

    def login_step(self, url: str, html: str) -> tuple[str, str] | None:
        token, uid = _TOKEN.search(html), _UID.search(url)
        if token is None or uid is None or not _current:
            return None
        agent = _current[0].agent_url
        issuer = f"{httpx.URL(url).scheme}://{httpx.URL(url).netloc.decode()}"
        key = _KEY.search(html)
        secret = SIGN_PASSWORD if key is not None and key[1] == "sign" else AUTH_PIN
        started = httpx.post(f"{agent}/v1/login", json={"token": token[1]}, headers={"Origin": issuer}, timeout=10)
        if started.status_code != 202:
            raise RuntimeError(f"the agent refused the login: {started.text}")
        pad = {"Origin": agent}  # the agent's own origin: the PIN pad's state is not for other pages
        _wait(lambda: httpx.get(f"{agent}/pinpad/state", headers=pad, timeout=5).json().get("prompt"),
              "the PIN pad's prompt")
        prompt = httpx.get(f"{agent}/pinpad/state", headers=pad, timeout=5).json()["prompt"]
        httpx.post(f"{agent}/pinpad/answer", json={"prompt": prompt, "pin": secret}, headers={"Origin": agent},
                   timeout=10)
        status = f"{issuer}/interaction/{uid[1]}/card/status"
        _wait(lambda: self.http.get(status).json()["state"] != "pending", "the provider's verdict")
        state = self.http.get(status).json()
        if state["state"] != "verified":
            raise RuntimeError(f"the card login failed: {state['error']}")
        return "POST", f"{issuer}/interaction/{uid[1]}/card/finish"


def _wait(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + _TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {_TIMEOUT:.0f} s")
        time.sleep(0.05)


def card_claims(ctx: Context) -> str:
    """An auth-certificate login: acr and amr of the card in the ID token openid-client verified."""
    flow = ctx.code_flow("jwt")
    claims = flow.claims
    check(claims.get("acr") == "urn:mynacard:acr:auth-cert", f"acr {claims.get('acr')}")
    check(claims.get("amr") == ["sc", "pin"], f"amr {claims.get('amr')}")
    check(not {"name", "birthdate", "gender", "address"} & set(claims), "personal data from an auth-cert login")
    return f"acr auth-cert, amr sc+pin, no personal data; ID token {jwt_part(flow.tokens['id_token'], 0)['alg']}"


def signing_certificate(ctx: Context) -> str:
    """A signing-certificate login (the request asks for basic facts): the approved facts reach userinfo."""
    flow = ctx.code_flow("jwt", params={"scope": "openid name birthdate", "prompt": "login consent"})
    check(flow.claims.get("acr") == "urn:mynacard:acr:sign-cert", f"acr {flow.claims.get('acr')}")
    check(flow.arrival.forms >= 1, "no consent page before the basic facts were released")
    claims = ctx.rp.call("userinfo", flow=flow.id, access_token=flow.tokens["access_token"], sub=flow.claims["sub"])
    check(isinstance(claims.get("name"), str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", claims.get("birthdate", "")),
          f"userinfo lacks the approved facts: {sorted(claims)}")
    check("address" not in claims, "a fact that was not requested was released")
    return "acr sign-cert; name and birthdate released after consent, nothing else"


def signing_request(ctx: Context) -> str:
    """RFC 9396 ``jpki_sign`` pushed by openid-client (PAR): the consent page, the card signs with the signing
    password, the token response returns the granted details (§7), the results come once with the access token."""
    digest = base64.b64encode(hashlib.sha256(b"conformance contract").digest()).decode()
    details = [{"type": "jpki_sign", "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
                "documentDigests": [{"hash": digest, "label": "Conformance contract"}]}]
    flow = ctx.code_flow("jwt", par=True, params={"authorization_details": json.dumps(details)})
    check(flow.tokens.get("authorization_details") == details,
          f"token response details {flow.tokens.get('authorization_details')}")
    check(flow.claims.get("acr") == "urn:mynacard:acr:sign-cert", f"acr {flow.claims.get('acr')}")
    url = f"{ctx.target.issuer}/sign/results"
    bearer = {"Authorization": f"Bearer {flow.tokens['access_token']}"}
    results = httpx.get(url, headers=bearer, timeout=10)
    check(results.status_code == 200, f"results: HTTP {results.status_code} {results.text[:200]}")
    check([d["hash"] for d in results.json()["documents"]] == [digest], "the results name another digest")
    again = httpx.get(url, headers=bearer, timeout=10)
    check(again.status_code == 403, f"results fetched twice: HTTP {again.status_code}")
    return "jpki_sign via PAR: consent, signing password, details in the token response, results once"


#: (name, scenario), in run order.
SCENARIOS: Final[tuple[tuple[str, Callable[[Context], str]], ...]] = (
    ("card: openid-client discovery", discovery),
    ("card: openid-client code + PKCE (auth certificate)", code_pkce),
    ("card: acr and amr of an auth-certificate login", card_claims),
    ("card: openid-client PAR + private_key_jwt", par),
    ("card: openid-client userinfo", userinfo),
    ("card: signing certificate, facts after consent", signing_certificate),
    ("card: openid-client RAR jpki_sign (sign a digest)", signing_request),
)

__all__ = ["AUTH_PIN", "SCENARIOS", "SIGN_PASSWORD", "CardBrowser", "ours_card"]
