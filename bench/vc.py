"""``python -m bench vc``: SD-JWT VC issuance and verification per second, ours vs the OWF reference library
``sd-jwt`` doing the same work, and the Token Status List check time with a warm cache; one JSON line.

The same work on both sides, in one process on one core:

* **issue**: an SD-JWT VC with ``iss``, ``iat``, ``exp``, ``vct``, ``cnf.jwk`` in the clear and 5 selectively
  disclosable claims, decoy digests on (ours by default; ``sd-jwt``'s ``add_decoy_claims=True``), ES256;
* **verify**: a presentation with all 5 Disclosures and a KB-JWT: issuer signature (a known key; no ``x5c``
  path validation, which ``sd-jwt`` does not do), Disclosures against the digests, KB-JWT signature with the
  ``cnf`` key, ``aud``, ``nonce``, ``sd_hash`` (ours also checks ``typ``, ``iat`` window and ``exp``: more work,
  counted against us). Each side verifies presentations its own holder made, cycling through ``--pool``.

Each rate is the best of ``--repeat`` timed runs (as ``timeit`` does), after an untimed pass that also checks the
contender refuses a presentation with a wrong nonce (a bench of a broken verifier measures nothing).

**Status list**: a Status List of 1,000,000 one-bit entries (1 % revoked, random) in an ``x5c``-less ES256 Status
List Token; :meth:`credentials.status.StatusChecker.check` with the verified token in its cache (``ttl`` fresh),
microseconds per check over random indices (median of ``--repeat`` runs); the cold first check (verify the token,
inflate the list) is reported too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import cryptography
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK  # type: ignore[import-untyped]
from sd_jwt.common import SDObj  # type: ignore[import-untyped]
from sd_jwt.holder import SDJWTHolder  # type: ignore[import-untyped]
from sd_jwt.issuer import SDJWTIssuer  # type: ignore[import-untyped]
from sd_jwt.verifier import SDJWTVerifier  # type: ignore[import-untyped]

from credentials.sdjwt import SD, HeldSdJwt, KeyBindingPolicy, key_binding_jwt
from credentials.sdjwtvc import CredentialDraft, IssuerKeys, JwtVcIssuerMetadata, issue_sd_jwt_vc, verify_sd_jwt_vc
from credentials.status import StatusChecker, StatusList, StatusReference, status_list_token
from keys.jose.jwk import VerificationKey, public_jwk
from keys.service.signer import SoftwareSigner

ISSUER = "https://id.example.jp"
VCT = f"{ISSUER}/vct/bench"
AUDIENCE = "x509_hash:bench-verifier"
NONCE = "bench-nonce-0123456789"
#: The five selectively disclosable claims.
CLAIMS = {"given_name": "花子", "family_name": "鈴木", "birthdate": "2001-04-01",
          "address": {"formatted": "大阪府大阪市北区"}, "nationality": "JP"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def best_rate(work: Callable[[int], object], iterations: int, repeat: int) -> float:
    """Best operations per second over ``repeat`` runs of ``iterations`` calls ``work(i)``."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(iterations):
            work(i)
        timings.append(time.perf_counter() - start)
    return iterations / min(timings)


class Ours:
    """Our issuer, holder and verifier."""

    def __init__(self) -> None:
        self.issuer_key = ec.generate_private_key(ec.SECP256R1())
        self.holder_key = ec.generate_private_key(ec.SECP256R1())
        self.signer = SoftwareSigner(self.issuer_key, "ES256", "bench-issuer")
        self.holder = SoftwareSigner(self.holder_key, "ES256", "bench-holder")
        self.holder_jwk = public_jwk(self.holder_key.public_key())
        metadata = JwtVcIssuerMetadata.parse({"issuer": ISSUER, "jwks": {"keys": [
            public_jwk(self.issuer_key.public_key(), kid="bench-issuer")]}})
        self.issuer_keys = IssuerKeys(metadata={ISSUER: metadata})
        self.now = _now()

    def issue(self) -> str:
        draft = CredentialDraft(vct=VCT, claims={k: SD(v) for k, v in CLAIMS.items()}, iat=self.now,
                                exp=self.now + dt.timedelta(days=30))
        return issue_sd_jwt_vc(draft, signer=self.signer, holder_jwk=self.holder_jwk, issuer=ISSUER).compact

    def present(self, issued: str, nonce: str = NONCE) -> str:
        sd_jwt = HeldSdJwt.parse(issued).present([(name,) for name in CLAIMS])
        return sd_jwt + key_binding_jwt(sd_jwt, signer=self.holder, audience=AUDIENCE, nonce=nonce, iat=self.now)

    def verify(self, presentation: str) -> None:
        verify_sd_jwt_vc(presentation, issuer_keys=self.issuer_keys, at=self.now, vcts=(VCT,),
                         key_binding=KeyBindingPolicy(audience=AUDIENCE, nonce=NONCE))


class Reference:
    """The OWF ``sd-jwt`` library (jwcrypto underneath) doing the same work."""

    def __init__(self) -> None:
        self.issuer_key, self.holder_key = JWK.generate(kty="EC", crv="P-256"), JWK.generate(kty="EC", crv="P-256")
        self.now = int(_now().timestamp())

    def issue(self) -> str:
        claims: dict[Any, Any] = {"iss": ISSUER, "iat": self.now, "exp": self.now + 30 * 86400, "vct": VCT}
        claims.update({SDObj(k): v for k, v in CLAIMS.items()})
        issued: str = SDJWTIssuer(claims, self.issuer_key, self.holder_key, add_decoy_claims=True,
                                  extra_header_parameters={"typ": "dc+sd-jwt"}).sd_jwt_issuance
        return issued

    def present(self, issued: str, nonce: str = NONCE) -> str:
        holder = SDJWTHolder(issued)
        holder.create_presentation({k: True for k in CLAIMS}, nonce=nonce, aud=AUDIENCE, holder_key=self.holder_key)
        presentation: str = holder.sd_jwt_presentation
        return presentation

    def verify(self, presentation: str) -> None:
        payload = SDJWTVerifier(presentation, lambda iss, header: self.issuer_key, expected_aud=AUDIENCE,
                                expected_nonce=NONCE).get_verified_payload()
        if len(set(CLAIMS) & set(payload)) != len(CLAIMS):
            raise AssertionError("the reference lost a claim")


def check(name: str, contender: Ours | Reference, presentations: Sequence[str]) -> None:
    """Untimed: accepts its presentations with all five claims, refuses one with another nonce."""
    for presentation in presentations:
        contender.verify(presentation)
    try:
        contender.verify(contender.present(contender.issue(), nonce="another-nonce"))
    except Exception:  # each library has its own error type; any refusal will do
        return
    raise SystemExit(f"{name} accepted a presentation with the wrong nonce")


def status_check(entries: int, checks: int, repeat: int, seed: int) -> dict[str, float]:
    """Cold and warm (cached) :meth:`StatusChecker.check` times for a list of ``entries`` one-bit entries."""
    rng = random.Random(seed)
    statuses = StatusList(entries, bits=1)
    revoked = set(rng.sample(range(entries), entries // 100))
    for index in revoked:
        statuses[index] = 1
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    uri = f"{ISSUER}/status/bench"
    token = status_list_token(statuses, uri=uri, iat=now, exp=now + dt.timedelta(hours=1),
                              ttl=dt.timedelta(minutes=30), signer=SoftwareSigner(key, "ES256", "status"))
    checker = StatusChecker(fetch=lambda _: token, keys=(VerificationKey.from_jwk(public_jwk(key.public_key(),
                                                                                                kid="status")),))
    valid = [i for i in rng.sample(range(entries), checks + len(revoked) // 10) if i not in revoked][:checks]
    references = [StatusReference(i, uri) for i in valid]
    start = time.perf_counter()
    checker.check(references[0], now)
    cold = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for reference in references:
            checker.check(reference, now)
        runs.append((time.perf_counter() - start) / len(references))
    return {"status_list_entries": entries, "status_token_bytes": len(token),
            "status_cold_ms": round(cold * 1e3, 2), "status_warm_us": round(statistics.median(runs) * 1e6, 3)}


def main(argv: list[str]) -> int:
    """Build, check, time, print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench vc", description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=200, help="distinct presentations per verifier")
    parser.add_argument("--iterations", type=int, default=1000, help="timed operations per run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    parser.add_argument("--status-entries", type=int, default=1_000_000)
    parser.add_argument("--status-checks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    cpu = None
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    ours, reference = Ours(), Reference()
    pools = {name: [c.present(c.issue()) for _ in range(args.pool)] for name, c in (("ours", ours),
                                                                                   ("reference", reference))}
    check("ours", ours, pools["ours"])
    check("sd-jwt", reference, pools["reference"])
    rates = {}
    contenders: tuple[tuple[str, Ours | Reference], ...] = (("ours", ours), ("reference", reference))
    for name, contender in contenders:
        pool = pools[name]

        def issue(_: int, c: Ours | Reference = contender) -> object:
            return c.issue()

        def verify(i: int, c: Ours | Reference = contender, p: list[str] = pool) -> object:
            return c.verify(p[i % len(p)])

        rates[f"{name}_issue_per_s"] = best_rate(issue, args.iterations, args.repeat)
        rates[f"{name}_verify_per_s"] = best_rate(verify, args.iterations, args.repeat)
    result: dict[str, Any] = {"bench": "vc", **{k: round(v, 1) for k, v in rates.items()}}
    result["issue_ratio"] = round(rates["ours_issue_per_s"] / rates["reference_issue_per_s"], 2)
    result["verify_ratio"] = round(rates["ours_verify_per_s"] / rates["reference_verify_per_s"], 2)
    result.update(status_check(args.status_entries, args.status_checks, args.repeat, args.seed))
    result.update({"disclosures": len(CLAIMS), "pool": args.pool, "iterations": args.iterations,
                   "repeat": args.repeat, "cpu": cpu, "python": platform.python_version(),
                   "cryptography": cryptography.__version__})
    print(json.dumps(result), file=sys.stdout)
    return 0
