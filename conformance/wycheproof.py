"""``python -m conformance wycheproof [--vectors DIR]``: every Wycheproof vector file through our core.

Raw signatures go through :func:`keys.signatures.verify_signature` with the :data:`~keys.signatures.GENERIC`
policy (keys from the group's SPKI, RSASSA-PSS key parameters included); the ``json_web_*`` files go through
:func:`keys.jose.verify_jws` with keys imported by :mod:`keys.jose.jwk`.

Expectations per case:

* ``valid`` must verify; ``invalid`` must raise a :class:`~keys.errors.VerificationError` (any other exception is
  a crash, hence a failure); ``acceptable`` must be rejected (verification-hardening.md §1).
* Cases whose parameters our policy refuses on purpose (SHA-1, SHA-224, an MGF1 hash other than the message hash,
  RSA below 2048 bits, e below 65537) must be refused with ``ALGORITHM_NOT_ALLOWED`` or ``WEAK_KEY`` whatever their
  result; they count as passed and are tallied as "refused by policy". This table is the harness's own statement
  of the policy, independent of the core's code.
* :data:`DEVIATIONS` pins the few vectors we knowingly disagree with, each with its reason; they are reported
  separately and fail if our behaviour drifts from the pin. :data:`SKIPS` names what is outside the core (JWE).

Output: one line per file, then ``skipped``/``deviations``/``refused by policy`` summaries, then exactly
``wycheproof: N passed, M failed``. The exit status is non-zero on any failure.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from conformance.vectors import VECTORS
from keys.errors import Reason, VerificationError
from keys.jose.jwk import JWS_ALGS, VerificationKey, verification_keys
from keys.jose.jws import verify_jws
from keys.signatures import (
    GENERIC,
    Curve,
    EcdsaEncoding,
    HashAlg,
    Scheme,
    SigParams,
    SubjectPublicKey,
    load_spki,
    verify_signature,
)

#: ``wycheproof`` under the vectors directory (:mod:`conformance.vectors`).
DEFAULT_VECTORS = VECTORS / "wycheproof"


class Expect(StrEnum):
    """What our core must do with a case."""

    ACCEPT = "accept"
    REJECT = "reject"
    POLICY = "refuse by policy"


#: Vectors we knowingly disagree with: (file, tcId) -> (our pinned outcome, why).
DEVIATIONS: Mapping[tuple[str, int], tuple[Expect, str]] = {
    ("json_web_signature_test.json", 367): (
        Expect.ACCEPT, "marked invalid but byte-identical to tcId 357 (valid): the upstream padding was lost"),
    ("json_web_signature_test.json", 370): (
        Expect.ACCEPT, "marked invalid but byte-identical to tcId 357 (valid): the upstream padding was lost"),
    ("json_web_signature_test.json", 372): (
        Expect.REJECT, "marked valid with '?' in the header: RFC 7515 §5.2 step 2 forbids extra characters"),
    ("json_web_signature_test.json", 373): (
        Expect.REJECT, "marked valid with '?' in the payload: RFC 7515 §5.2 step 6 forbids extra characters"),
    # RFC 7520 figures re-used with keys that carry an 'alg' the token does not use: a JWK 'alg' binds the key
    # (RFC 7517 §4.4), and 'ES521' is no registered name (json_web_key tcId 19 and 20 reject such names too).
    **{("json_web_signature_test.json", tc): (Expect.REJECT, why) for tc, why in (
        (346, "RFC 7520 Figure 20 is PS384, but the group's JWK is bound to alg PS256"),
        (350, "RFC 7520 Figure 20 is PS384, but the group's JWK is bound to alg PS256"),
        (347, "the group's JWK names alg 'ES521', which is not a JWS algorithm (RFC 7518 §3.1)"),
        (351, "the group's JWK names alg 'ES521', which is not a JWS algorithm (RFC 7518 §3.1)"),
    )},
}
_JWE_SKIP = "JWE (encryption) is not part of the signature core"
_POLICY_REASONS = (Reason.ALGORITHM_NOT_ALLOWED, Reason.WEAK_KEY)
_CURVES = {"secp256r1": Curve.P256, "secp384r1": Curve.P384, "secp521r1": Curve.P521,
           "edwards25519": Curve.ED25519, "edwards448": Curve.ED448}
_MAX_FAILURE_LINES = 20


@dataclass
class FileResult:
    """Tallies for one vector file."""

    name: str
    passed: int = 0
    failed: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    deviations: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The per-file summary line."""
        extras = [
            f"{sum(self.refused.values())} refused by policy" if self.refused else "",
            f"{sum(self.skipped.values())} skipped" if self.skipped else "",
            f"{len(self.deviations)} deviations" if self.deviations else "",
        ]
        return ", ".join([f"{self.name}: {self.passed} passed", f"{self.failed} failed", *filter(None, extras)])


@dataclass(frozen=True)
class _Case:
    tc_id: int
    comment: str
    result: str
    run: Callable[[], None] | None  # None: skipped
    refusal: str | None = None  # why our policy refuses the case's parameters
    skip: str = ""


def run_file(path: Path) -> FileResult:
    """Run every case of one vector file and tally the outcomes."""
    data = json.loads(path.read_text(encoding="utf-8"))
    outcome = FileResult(path.name)
    handler = _HANDLERS.get(str(data.get("schema")))
    cases = list(handler(data)) if handler else []
    if handler is None or len(cases) != data.get("numberOfTests", len(cases)):
        outcome.failed += 1
        outcome.failures.append(f"schema {data.get('schema')!r}: no handler or case count mismatch")
    for case in cases:
        _tally(outcome, path.name, case)
    return outcome


def _tally(outcome: FileResult, name: str, case: _Case) -> None:
    label = f"tcId {case.tc_id} ({case.comment or 'no comment'})"
    if case.run is None:
        outcome.skipped[case.skip] += 1
        return
    pinned = DEVIATIONS.get((name, case.tc_id))
    if pinned is not None:
        expect = pinned[0]
    elif case.refusal is not None and case.result != "invalid":
        expect = Expect.POLICY
    else:
        expect = Expect.ACCEPT if case.result == "valid" else Expect.REJECT
    try:
        case.run()
        error: VerificationError | None = None
    except VerificationError as exc:
        error = exc
    except Exception as exc:  # a crash is a failure, whatever the expected result
        outcome.failed += 1
        outcome.failures.append(f"{label}: crashed with {type(exc).__name__}: {exc}")
        return
    ok = (
        error is None if expect is Expect.ACCEPT
        else error is not None and (expect is Expect.REJECT or error.reason in _POLICY_REASONS)
    )
    if not ok:
        outcome.failed += 1
        got = "verified" if error is None else f"{error.reason}: {error.detail}"
        outcome.failures.append(f"{label}: vector says {case.result}, expected {expect}, got {got}")
    elif pinned is not None:
        outcome.deviations.append(f"{name} {label}: {pinned[1]}")
    else:
        outcome.passed += 1
        if expect is Expect.POLICY:
            outcome.refused[case.refusal or ""] += 1


# --- raw signatures ---------------------------------------------------------------------------------------------


def _policy_refusal(group: Mapping[str, Any], key: SubjectPublicKey | None) -> str | None:
    """Our policy, stated independently of the core: which parameter sets it refuses and why."""
    sha, mgf_sha = group.get("sha"), group.get("mgfSha")
    if sha in ("SHA-1", "SHA-224"):
        return f"{sha} is not allowed"
    if mgf_sha is not None and mgf_sha != sha:
        return "MGF1 hash differs from the message hash"
    if key is not None and isinstance(key.key, rsa.RSAPublicKey):
        numbers = key.key.public_numbers()
        if numbers.n.bit_length() < 2048:
            return "RSA key below 2048 bits"
        if numbers.e < 65537:
            return "RSA public exponent below 65537"
    return None


def _raw_cases(data: Mapping[str, Any], params_of: Callable[[Mapping[str, Any]], SigParams]) -> Iterator[_Case]:
    for group in data["testGroups"]:
        der = bytes.fromhex(group.get("publicKeyDer") or group["keyDer"])
        try:
            key: SubjectPublicKey | None = load_spki(der)
            load_error: VerificationError | None = None
        except VerificationError as exc:
            key, load_error = None, exc
        params = params_of(group)
        refusal = _policy_refusal(group, key)
        for test in group["tests"]:
            yield _Case(test["tcId"], test["comment"], test["result"],
                        _raw_check(key, load_error, test, params), refusal)


def _raw_check(
    key: SubjectPublicKey | None, load_error: VerificationError | None, test: Mapping[str, Any], params: SigParams
) -> Callable[[], None]:
    def run() -> None:
        if key is None:
            assert load_error is not None
            raise load_error
        verify_signature(key, bytes.fromhex(test["sig"]), bytes.fromhex(test["msg"]), alg=params, policy=GENERIC)

    return run


def _pkcs1(group: Mapping[str, Any]) -> SigParams:
    return SigParams(Scheme.RSA_PKCS1V15, HashAlg(group["sha"]))


def _pss(group: Mapping[str, Any]) -> SigParams:
    if group["mgf"] != "MGF1":
        raise ValueError(f"unsupported MGF {group['mgf']}")
    return SigParams(Scheme.RSA_PSS, HashAlg(group["sha"]), mgf_hash=HashAlg(group["mgfSha"]),
                     salt_length=group["sLen"])


def _ecdsa(encoding: EcdsaEncoding) -> Callable[[Mapping[str, Any]], SigParams]:
    def params(group: Mapping[str, Any]) -> SigParams:
        return SigParams(Scheme.ECDSA, HashAlg(group["sha"]), _CURVES[group["publicKey"]["curve"]], encoding)

    return params


def _eddsa(group: Mapping[str, Any]) -> SigParams:
    return SigParams(Scheme.EDDSA, curve=_CURVES[group["publicKey"]["curve"]])


# --- JOSE -------------------------------------------------------------------------------------------------------


def _jose_cases(data: Mapping[str, Any]) -> Iterator[_Case]:
    for group in data["testGroups"]:
        jwk = group.get("public") or group["private"]
        for test in group["tests"]:
            if "jws" not in test:
                yield _Case(test["tcId"], test["comment"], test["result"], None, skip=_JWE_SKIP)
                continue
            yield _Case(test["tcId"], test["comment"], test["result"], _jose_check(jwk, test["jws"]))


def _jose_check(jwk: Mapping[str, Any], token: str) -> Callable[[], None]:
    """A relying party configured with this JWK (or JWK Set), allowing every algorithm we implement: the key's
    binding, not the allow-list, must stop confusion."""

    def run() -> None:
        if "keys" in jwk:
            symmetric = any(k.get("kty") == "oct" for k in jwk["keys"])
            keys = verification_keys(jwk, allow_symmetric=symmetric)
        else:
            keys = (VerificationKey.from_jwk(jwk, allow_symmetric=jwk.get("kty") == "oct"),)
        verify_jws(token, keys=keys, algorithms=JWS_ALGS, typ=None)

    return run


_HANDLERS: dict[str, Callable[[Mapping[str, Any]], Iterator[_Case]]] = {
    "rsassa_pkcs1_verify_schema_v1.json": lambda d: _raw_cases(d, _pkcs1),
    "rsassa_pkcs1_generate_schema_v1.json": lambda d: _raw_cases(d, _pkcs1),
    "rsassa_pss_verify_schema_v1.json": lambda d: _raw_cases(d, _pss),
    "rsassa_pss_with_parameters_verify_schema.json": lambda d: _raw_cases(d, _pss),
    "ecdsa_verify_schema_v1.json": lambda d: _raw_cases(d, _ecdsa(EcdsaEncoding.DER)),
    "ecdsa_p1363_verify_schema_v1.json": lambda d: _raw_cases(d, _ecdsa(EcdsaEncoding.P1363)),
    "eddsa_verify_schema_v1.json": lambda d: _raw_cases(d, _eddsa),
    "json_web_signature_schema_v1.json": _jose_cases,
    "json_web_key_schema_v1.json": _jose_cases,
    "json_web_crypto_schema_v1.json": _jose_cases,
}


# --- command line -----------------------------------------------------------------------------------------------


def vector_files(directory: Path) -> list[Path]:
    """The vector files of a Wycheproof directory (schemas excluded), sorted."""
    return sorted(p for p in directory.glob("*.json") if p.is_file())


def main(argv: list[str]) -> int:
    """Run every vector file; print per-file lines and the closing ``wycheproof: N passed, M failed``."""
    parser = argparse.ArgumentParser(prog="python -m conformance wycheproof", description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS, help=f"default: {DEFAULT_VECTORS}")
    args = parser.parse_args(argv)
    files = vector_files(args.vectors)
    if not files:
        print(f"wycheproof: no vector files in {args.vectors}")
        return 2
    results = [run_file(path) for path in files]
    for result in results:
        print(result.line())
        for failure in result.failures[:_MAX_FAILURE_LINES]:
            print(f"  FAIL {failure}")
    _summary("skipped", sum((r.skipped for r in results), Counter()))
    deviations = [d for r in results for d in r.deviations]
    if deviations:
        print(f"deviations: {len(deviations)}")
        for deviation in deviations:
            print(f"  - {deviation}")
    _summary("refused by policy", sum((r.refused for r in results), Counter()))
    passed, failed = sum(r.passed for r in results), sum(r.failed for r in results)
    print(f"wycheproof: {passed} passed, {failed} failed")
    return 1 if failed else 0


def _summary(title: str, counts: Counter[str]) -> None:
    if counts:
        print(f"{title}: {sum(counts.values())}")
        for reason, count in sorted(counts.items()):
            print(f"  - {reason} ({count})")
