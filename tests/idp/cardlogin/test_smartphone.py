"""Smartphone tokens (スマホ用電子証明書) through the real parts: the virtual Android (``JPKIAPGPSETOKEN``: the
authentication certificate is readable only after the PIN) and iPhone (``JPKIAPIOSTOKEN``) tokens in a private
pcscd, the card agent with its PIN pad, the provider and the login page's own script. Both keys log in; the page
says スマートフォン (or カード); the APDU trace shows exactly one VERIFY with a PIN per login (the agent spends no
try it did not need) and, on Android, the VERIFY before the authentication certificate is read. Credentials from
the tokens: tests/idp/vci/test_smartphone.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import (
    ANDROID_TOKEN_LABEL,
    DEFAULT_TOKEN_LABEL,
    IOS_TOKEN_LABEL,
    CardProfile,
    create_profile,
)
from idp.web.pages import MESSAGES

from .conftest import AUTH_PIN, HOLDER, NOW, SIGN_PASSWORD, Agent, Pki, Provider, insert
from .test_end_to_end import Browser, clients, run_page  # noqa: F401 (fixture)

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
_VERIFY_WITH_PIN = "C: 00 20 00 80 <pin>"
_SELECT_AUTH_CERTIFICATE = "C: 00 A4 02 0C Lc=02 00 0A"
LABELS = {"android": ANDROID_TOKEN_LABEL, "iphone": IOS_TOKEN_LABEL, "card": DEFAULT_TOKEN_LABEL}


@pytest.fixture(scope="module", params=sorted(LABELS))
def token(request: pytest.FixtureRequest, pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> CardProfile:
    """A smartphone token (or, for comparison, a card) issued from the test PKI (the provider's CRLs do not list
    it)."""
    base = tmp_path_factory.mktemp(request.param)
    return create_profile(base / "token.json", pki_dir=pki.directory, now=NOW, auth_pin=AUTH_PIN,
                          sign_password=SIGN_PASSWORD, holder=HOLDER, token_label=LABELS[request.param])


def _commands(trace: Path) -> list[str]:
    return [line for line in trace.read_text().splitlines() if line.startswith("C: ")]


@pytest.mark.parametrize(("scope", "secret", "acr", "approve"), [
    ("openid", AUTH_PIN, "urn:mynacard:acr:auth-cert", None),
    ("openid profile", SIGN_PASSWORD, "urn:mynacard:acr:sign-cert", ("name",)),
])
def test_the_token_logs_in_spending_one_verify(provider: Provider, agent: Agent, lab: PcscLab, token: CardProfile,
                                               clients: dict[str, str], scope: str, secret: str,  # noqa: F811
                                               acr: str, approve: tuple[str, ...] | None, tmp_path: Path) -> None:
    trace = tmp_path / "apdu.log"
    insert(lab, token, apdu_log=trace)
    browser = Browser.open(provider)
    uid, verifier = browser.authorize("rp1", scope, prompt="login")
    events = run_page(browser, agent, f"/interaction/{uid}", browser.http.get(f"/interaction/{uid}").text, secret,
                      tmp_path)
    assert events[-1] == {"submitted": True}, events
    kind = "card" if token.token_label == DEFAULT_TOKEN_LABEL else "smartphone"
    done = {"id": "step", "text": MESSAGES.message(f"card_login.step.done_{kind}", "ja")}
    assert done in events, events  # the page says which kind of token was used
    tokens = browser.tokens("rp1", browser.follow_to_code(browser.finish(uid), approve), verifier)
    assert tokens["claims"]["acr"] == acr
    commands = _commands(trace)
    assert commands.count(_VERIFY_WITH_PIN) == 1, commands
    if secret == AUTH_PIN:
        verify, select = commands.index(_VERIFY_WITH_PIN), commands.index(_SELECT_AUTH_CERTIFICATE)
        assert (verify < select) is (token.token_label == ANDROID_TOKEN_LABEL), commands
    maximum = {ef: reference.max_tries for ef, reference in token.content().pins.items()}
    assert token.card().counters == maximum  # every try still there
