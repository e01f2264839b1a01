"""``python -m bench sign``: signing round trips for a business — one and three documents — through the real
provider, the card agent and the virtual card, with the card's own time apart from the provider's.

One round trip is what a business, a browser and the card agent do together for a ``jpki_sign`` request
(:mod:`idp.sign.details`; CAdES-BES, SHA-256):

1. the business pushes the request (``POST /par``, RFC 9126) with the documents' digests;
2. ``GET /authorize`` → the signing consent page (``GET`` and ``POST /interaction/{uid}/sign``, approve) → the
   card login page (its token);
3. the agent's work, :func:`cardreader.login.run_login` in this process: ``POST /card-login/challenge`` (the
   approved documents), read the card, the signing password once, sign the login message and per document its
   DigestInfo and its CMS signed attributes in one card session, ``POST /card-login/response`` — where the
   provider verifies path, CRL, keyUsage and every signature and signs the verification record;
4. ``POST /interaction/{uid}/card/finish`` and the redirects to the code; ``POST /token``;
   ``GET /sign/results`` (the CMS SignedData assembled around the card's signatures, the record), fetched once.

Parts, all real processes on loopback, as ``python -m bench cardlogin`` sets them up
(:func:`bench.card_parts.card_and_provider`). Round trips run one after the other; the first of each size is
untimed warm-up (a request for signatures alone has no claims consent page).

Reported per document count (one JSON line; ``documents_1`` and ``documents_3``): ``round_trip_p50_ms``/``p99``
(steps 1-4); ``card_p50_ms`` — the card's own time (reading it, and the APDUs of signing: steps
``waiting_for_card`` to ``waiting_for_pin`` and ``signing`` to ``sending``); ``provider_p50_ms``, the rest of the
round trip (every HTTP exchange with the provider, our client's share included), and inside it
``challenge_p50_ms`` (``/card-login/challenge``), ``verify_p50_ms`` (the ``/card-login/response`` round trip:
path, CRL, signatures, record signed and stored) and ``results_p50_ms`` (``GET /sign/results``: CMS assembled,
results taken once). The machine is shared: ``loadavg_at_start``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx

from bench import card_parts as bench_card
from cardreader.jpki import Key
from cardreader.login import CardOptions, PinRequest, Step, run_login

SHA256_OID = "2.16.840.1.101.3.4.2.1"


def _documents_shown(request: PinRequest) -> None:
    """The person is asked for the signing password, with the approved documents on the prompt."""
    assert request.key is Key.SIGN, "a signing request asks for the signing password"
    assert request.documents, "the challenge lists the approved documents"


def _details(count: int) -> str:
    documents = [{"hash": base64.b64encode(hashlib.sha256(f"契約書 {i} {time.time_ns()}".encode()).digest()).decode(),
                  "label": f"契約書 第{i}号"} for i in range(1, count + 1)]
    return json.dumps([{"type": "jpki_sign", "hashAlgorithmOID": SHA256_OID, "documentDigests": documents}])


def _round_trip(parts: bench_card.Parts, count: int) -> dict[str, float]:
    """One complete signing round trip for ``count`` documents; its timings in seconds."""
    issuer = parts.issuer
    marks: dict[Step, float] = {}
    started = time.perf_counter()
    with httpx.Client(base_url=issuer, timeout=30, follow_redirects=False) as browser:
        verifier, challenge = bench_card.pkce()
        pushed = browser.post("/par", data={
            "response_type": "code", "client_id": "bench", "redirect_uri": bench_card.REDIRECT_URI, "scope": "openid",
            "state": "s", "nonce": "n", "code_challenge": challenge, "code_challenge_method": "S256",
            "authorization_details": _details(count)})
        assert pushed.status_code == 201, pushed.text
        query = urlencode({"client_id": "bench", "request_uri": pushed.json()["request_uri"]})
        location = browser.get(f"/authorize?{query}").headers["location"]
        consent = urljoin(issuer, browser.get(location).headers["location"])
        assert consent.endswith("/sign"), consent
        assert browser.get(consent).status_code == 200
        approved = browser.post(consent, content="decision=approve", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Origin": issuer})
        assert approved.status_code == 303, approved.text
        prompt = bench_card.TypingPrompt(Key.SIGN, _documents_shown)
        run_login(parts.provider, bench_card.card_token(browser.get(location).text), prompt,
                  CardOptions(test_mode=True), on_step=lambda step: marks.__setitem__(step, time.perf_counter()))
        tokens = bench_card.redeem(browser, bench_card.follow_to_code(browser, issuer, location), verifier)
        fetching = time.perf_counter()
        results = browser.get("/sign/results", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        fetched = time.perf_counter()
        assert results.status_code == 200, results.text
        assert len(results.json()["documents"]) == count
    total = time.perf_counter() - started
    card = bench_card.card_time(marks)
    return {"total": total, "card": card, "provider": total - card,
            "challenge": marks[Step.WAITING_FOR_CARD] - marks[Step.FETCHING],
            "verify": marks[Step.DONE] - marks[Step.SENDING], "results": fetched - fetching}


def _summary(runs: list[dict[str, float]]) -> dict[str, float]:
    def column(name: str) -> list[float]:
        return [run[name] for run in runs]

    return {
        "round_trip_p50_ms": bench_card.ms(column("total"), 0.5),
        "round_trip_p99_ms": bench_card.ms(column("total"), 0.99),
        "card_p50_ms": bench_card.ms(column("card"), 0.5),
        "card_share": round(sum(column("card")) / sum(column("total")), 3),
        "provider_p50_ms": bench_card.ms(column("provider"), 0.5),
        "challenge_p50_ms": bench_card.ms(column("challenge"), 0.5),
        "verify_p50_ms": bench_card.ms(column("verify"), 0.5),
        "results_p50_ms": bench_card.ms(column("results"), 0.5),
    }


def _measure(parts: bench_card.Parts, args: argparse.Namespace) -> dict[str, Any]:
    summaries: dict[str, Any] = {}
    for count in (1, 3):
        for _ in range(args.warmup):
            _round_trip(parts, count)
        summaries[f"documents_{count}"] = _summary([_round_trip(parts, count) for _ in range(args.iterations)])
    return summaries


def main(argv: list[str]) -> int:
    """Run the benchmark and print one JSON line."""
    return bench_card.run_bench("sign", argv, __doc__, _measure, iterations=20, warmup=1)


__all__ = ["main"]
