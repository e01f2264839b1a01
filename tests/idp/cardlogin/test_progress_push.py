"""The provider pushes a card login's progress to its page (issue 14: push, not poll), with real ``idp serve``, the
virtual card in a real pcscd and the card's own signatures: ``GET /interaction/{uid}/card/events`` (server-sent
events) and the long poll ``GET /interaction/{uid}/card/status?wait=&state=``. Checked: only the browser that
started the interaction reads either; the stream sends the view at once and each change (a failed answer, then a
verified one: a failed login can still be answered again) and ends once verified; the long poll answers at a
change of the state the page names, and a bad ``wait`` is a 400."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile
from keys.cardlogin import LoginMessage, encode_login_message
from keys.jose.b64 import b64url_decode_loose as b64decode
from keys.jose.b64 import b64url_encode as b64url
from keys.x509.profile import Purpose

from . import test_end_to_end
from .conftest import Provider
from .test_end_to_end import Browser, _sign

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
card, clients = test_end_to_end.card, test_end_to_end.clients  # the end-to-end module's fixtures


class Collected(threading.Thread):
    """A page's event stream, read in a thread: the views it delivered, in order, until it ended."""

    def __init__(self, browser: Browser, uid: str) -> None:
        super().__init__(daemon=True)
        self.http, self.uid = browser.http, uid
        self.views: list[dict[str, Any]] = []
        self.first = threading.Event()
        self.start()

    def run(self) -> None:
        with httpx.Client(base_url=str(self.http.base_url), cookies=self.http.cookies, timeout=60) as page, \
                page.stream("GET", f"/interaction/{self.uid}/card/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    self.views.append(json.loads(line[6:]))
                    self.first.set()


class LongPoll(threading.Thread):
    """One long poll of the page, in a thread: its answer."""

    def __init__(self, browser: Browser, uid: str, state: str) -> None:
        super().__init__(daemon=True)
        self.http, self.uid, self.state = browser.http, uid, state
        self.answer: dict[str, Any] = {}
        self.start()

    def run(self) -> None:
        self.answer = self.http.get(f"/interaction/{self.uid}/card/status",
                                    params={"wait": "25", "state": self.state}, timeout=60).json()


def answer_card(provider: Provider, ticket: dict[str, str], lab: PcscLab, tmp_path: Path,
                message: bytes | None = None) -> httpx.Response:
    """The agent's part: a challenge, the card's signature over ``message`` (default: the login message)."""
    fields = httpx.post(f"{provider.url}/card-login/challenge", json=ticket).json()
    issued_at = dt.datetime.fromtimestamp(fields["issued_at"], dt.UTC)
    login = encode_login_message(LoginMessage(provider.url, fields["interaction"], b64decode(fields["challenge"]),
                                              issued_at, Purpose(fields["key"])))
    certificate, signature = _sign(lab, login if message is None else message, tmp_path)
    return httpx.post(f"{provider.url}/card-login/response", json={
        **ticket, "challenge": fields["challenge"], "certificate": b64url(certificate),
        "signature": b64url(signature)})


def test_the_provider_pushes_each_change_to_its_page_only(provider: Provider, lab: PcscLab, card: CardProfile,
                                                          clients: dict[str, str], tmp_path: Path) -> None:
    browser = Browser.open(provider)
    uid, _ = browser.authorize("rp1", "openid", prompt="login")
    ticket = {"token": browser.login_page(uid)["token"]}
    stranger = Browser.open(provider)
    assert stranger.http.get(f"/interaction/{uid}/card/events").status_code == 404
    assert stranger.http.get(f"/interaction/{uid}/card/status?wait=1").status_code == 404
    assert browser.http.get(f"/interaction/{uid}/card/status?wait=x").status_code == 400
    stream = Collected(browser, uid)
    assert stream.first.wait(10)
    assert stream.views == [{"state": "pending", "error": None, "token": None}]
    waiting = LongPoll(browser, uid, "pending")
    refused = answer_card(provider, ticket, lab, tmp_path, message=b"not the login message")
    assert refused.status_code == 400
    waiting.join(30)
    assert waiting.answer["state"] == "failed"
    assert waiting.answer["error"]["error"] == "bad_signature"
    waiting = LongPoll(browser, uid, "failed")  # the person tries again with the same page
    assert answer_card(provider, ticket, lab, tmp_path).json() == {"status": "verified"}
    waiting.join(30)
    assert waiting.answer["state"] == "verified"
    stream.join(30)  # the stream ended by itself once verified
    assert not stream.is_alive()
    assert [view["state"] for view in stream.views] == ["pending", "failed", "verified"]
    assert stream.views[-1] == browser.http.get(f"/interaction/{uid}/card/status").json()
