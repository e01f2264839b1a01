"""``python -m bench cardlogin``: complete card logins per second through the real provider and the virtual card,
and how soon the login page moves on after the card's answer.

One login is what a relying party, a browser and the card agent do together, with the authentication certificate
(the 4-digit PIN; no consent page after the first login, which is untimed warm-up):

1. ``GET /authorize`` (public client, PKCE S256) → the interaction; ``GET`` its card login page (the token); the
   page's event stream ``GET /interaction/{uid}/card/events`` opened with the page's cookie, as the page's
   ``EventSource`` does (:mod:`idp.endpoints.card_login_events`), and its first event received;
2. the agent's work, :func:`cardreader.login.run_login` in this process: ``POST /card-login/challenge``, wait for
   the card, read it (select the JPKI AP, certificate, tries), the PIN, sign the login message, ``POST
   /card-login/response`` — where the provider verifies path, CRL and signature and records the login;
3. the page's ``verified`` event; ``POST /interaction/{uid}/card/finish`` and the redirects to the code;
   ``POST /token``.

Parts, all real processes on loopback: ``idp serve`` (``--workers``, default 1; SQLite, or with ``--database
postgresql`` a private PostgreSQL cluster; test mode, the test PKI's roots and a CRL per root), a private pcscd with
vpcd and the virtual card (:class:`cardreader.virtual.lab.PcscLab`), this process as browser (an HTTP and
event-stream client), relying party and agent. Logins run one after the other.

Reported (one JSON line): ``logins_per_s`` (timed logins over their wall time); ``login_p50_ms``/``p99``;
``card_p50_ms`` — the card's own time (reading it and signing, steps ``waiting_for_card`` to ``waiting_for_pin``
and ``signing`` to ``sending``), reported apart from ``provider_p50_ms``, the rest of the login (every HTTP
exchange with the provider, our client's share included); ``verify_p50_ms``/``verify_p99_ms`` — the provider-side
verification as the agent sees it: the ``/card-login/response`` round trip (body parsing, challenge consumed,
path to the pinned root, CRL lookup, signature, login recorded); ``page_delay_p50_ms``/``p99`` — from the card's
answer being recorded by the provider (the wall-clock time of the provider's ``card_login_verified`` log line,
written right after the login is stored; millisecond resolution) to the page's event stream delivering
``verified`` to this client (wall clock, the same host), which is when the page submits its finish form. With
``--workers 2`` the stream and the card's answer may be served by different workers: on PostgreSQL
(``--database postgresql``, a private cluster) the answer's worker announces it and the stream's worker wakes at
once; on SQLite the stream's worker sees it at its next store re-check (:data:`idp.login.progress.RECHECK`). The
machine is shared: ``loadavg_at_start``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.card_parts import (
    REDIRECT_URI,
    Parts,
    TypingPrompt,
    card_time,
    card_token,
    follow_to_code,
    ms,
    pkce,
    redeem,
    run_bench,
)
from cardreader.jpki import Key
from cardreader.login import CardOptions, Step, run_login


class _PageStream(threading.Thread):
    """The login page's event stream, read as its ``EventSource`` reads it: :attr:`opened` once the first event
    came, :attr:`verified_at` (wall clock) when the ``verified`` event arrives."""

    def __init__(self, issuer: str, location: str, cookies: httpx.Cookies) -> None:
        super().__init__(daemon=True)
        self.issuer, self.location, self.cookies = issuer, location, cookies
        self.opened = threading.Event()
        self.verified_at: float | None = None

    def run(self) -> None:
        with httpx.Client(base_url=self.issuer, cookies=self.cookies, timeout=30) as page, \
                page.stream("GET", f"{self.location}/card/events") as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                self.opened.set()
                if json.loads(line.partition(":")[2])["state"] == "verified":
                    self.verified_at = time.time()
                    return


class _RecordedAt:
    """When the provider recorded each verified card login: its ``card_login_verified`` log lines (JSON, wall
    clock in milliseconds), read as they are appended."""

    def __init__(self, log: Path) -> None:
        self._log, self._offset = log, log.stat().st_size

    def next(self, timeout: float = 5) -> float:
        deadline = time.monotonic() + timeout
        while True:
            with self._log.open("rb") as log:
                log.seek(self._offset)
                for line in log:
                    if not line.endswith(b"\n"):
                        break  # half written: read it again next time
                    self._offset += len(line)
                    if b'"card_login_verified"' in line:
                        return dt.datetime.fromisoformat(json.loads(line)["time"]).timestamp()
            if time.monotonic() > deadline:
                raise AssertionError("no card_login_verified line in the provider's log (logging at INFO?)")
            time.sleep(0.01)


def _login(parts: Parts, recorded: _RecordedAt) -> dict[str, float]:
    """One complete login; its timings in seconds."""
    marks: dict[Step, float] = {}
    started = time.perf_counter()
    with httpx.Client(base_url=parts.issuer, timeout=20, follow_redirects=False) as browser:
        verifier, challenge = pkce()
        query = urlencode({"response_type": "code", "client_id": "bench", "redirect_uri": REDIRECT_URI,
                           "scope": "openid", "state": "s", "nonce": "n", "code_challenge": challenge,
                           "code_challenge_method": "S256", "prompt": "login"})
        location = browser.get(f"/authorize?{query}").headers["location"]
        ticket = card_token(browser.get(location).text)
        page = _PageStream(parts.issuer, location, browser.cookies)
        page.start()
        assert page.opened.wait(10), "the page's event stream sent no first event"
        run_login(parts.provider, ticket, TypingPrompt(Key.AUTH), CardOptions(test_mode=True),
                  on_step=lambda step: marks.__setitem__(step, time.perf_counter()))
        page.join(10)
        assert page.verified_at is not None, "the page's event stream never said verified"
        page_delay = page.verified_at - recorded.next()
        redeem(browser, follow_to_code(browser, parts.issuer, location), verifier)
    total = time.perf_counter() - started
    card = card_time(marks)
    return {"total": total, "card": card, "provider": total - card, "verify": marks[Step.DONE] - marks[Step.SENDING],
            "page_delay": page_delay}


def _measure(parts: Parts, args: argparse.Namespace) -> dict[str, Any]:
    recorded = _RecordedAt(parts.log)
    for _ in range(args.warmup):
        _login(parts, recorded)
    started = time.perf_counter()
    runs = [_login(parts, recorded) for _ in range(args.iterations)]
    wall = time.perf_counter() - started

    def column(name: str) -> list[float]:
        return [run[name] for run in runs]

    return {
        "logins_per_s": round(args.iterations / wall, 2),
        "login_p50_ms": ms(column("total"), 0.5),
        "login_p99_ms": ms(column("total"), 0.99),
        "card_p50_ms": ms(column("card"), 0.5),
        "card_share": round(sum(column("card")) / sum(column("total")), 3),
        "provider_p50_ms": ms(column("provider"), 0.5),
        "verify_p50_ms": ms(column("verify"), 0.5),
        "verify_p99_ms": ms(column("verify"), 0.99),
        "page_delay_p50_ms": ms(column("page_delay"), 0.5),
        "page_delay_p99_ms": ms(column("page_delay"), 0.99),
        "mean_ms": round(1000 * statistics.fmean(column("total")), 3),
    }


def main(argv: list[str]) -> int:
    """Run the benchmark and print one JSON line."""
    return run_bench("cardlogin", argv, __doc__, _measure, iterations=100, warmup=5)


__all__ = ["main"]
