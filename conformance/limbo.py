"""x509-limbo: score our path validator (:func:`keys.x509.path.validate_path`, GENERIC profile) on the
x509-limbo suite, with pyca/cryptography's own verifier scored the way upstream's harness does as the
baseline (``harness/pyca-cryptography/main.py`` at C2SP/x509-limbo).

Usage: ``python -m conformance limbo [--verbose] [LIMBO_JSON]`` (default
``../shared/vectors/x509-limbo/limbo.json`` from the project root). Prints every failure and every skip
with its reason, then::

    x509-limbo: P passed, F failed, S skipped
    false accepts: K
    baseline: B passed (...)

and exits non-zero when K > 0 (a FAILURE case we accepted, or one that hung).

Mapping of a testcase onto our core:

* ``validate_path(peer, profile=GENERIC, trust=TrustStore.unsafe_unpinned(trusted), at=validation_time or
  now, intermediates=untrusted_intermediates, server_name=expected_peer_name.value)`` for SERVER cases;
  CLIENT cases (and a SERVER case without a peer name) validate without a server name; CLIENT cases then
  require each ``expected_peer_names`` entry in the leaf's subjectAltName. ``max_chain_depth`` becomes
  ``Limits.chain_depth``.
* ``key_usage``, ``extended_key_usage`` and ``signature_algorithms`` constraints are checked here, on the
  validated path (:func:`check_constraints`).
* ``has-crl`` cases then go through :mod:`keys.revocation.crl` for every certificate of the path but the
  anchor, fail-closed: a certificate no CRL of the case covers is a failure (:func:`check_revocation`).
* ``denial-of-service`` cases run in a subprocess with a 5 s timeout, for both engines; a timeout is a
  HANG, which on a FAILURE case counts as a false accept.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import ipaddress
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from cryptography import __version__ as pyca_version
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification as pv
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier, SignatureAlgorithmOID

from conformance.vectors import VECTORS
from keys.errors import MalformedInput, Reason, RevocationUnavailable, UntrustedCertificate, VerificationError
from keys.limits import DEFAULT_LIMITS
from keys.revocation.crl import check_crl, load_crl
from keys.trust import TrustStore, parse_certificate
from keys.x509 import strict
from keys.x509.path import ValidatedPath, validate_path
from keys.x509.profile import GENERIC, key_usage_bits

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VECTORS = VECTORS / "x509-limbo" / "limbo.json"

#: Upstream's harness treats anything slower than this as a hang.
TIMEOUT_SECONDS = 5.0

#: Our limits for Web PKI paths. Servers send cross-signed alternates, so the candidate pool is larger
#: than JPKI's (cve::cve-2024-0567 passes 9); the chain depth comes from the case or stays at ours.
WEB_PKI_LIMITS = dataclasses.replace(DEFAULT_LIMITS, chain_length=16)

#: Features we deliberately do not implement, with the reason printed in the summary.
UNSUPPORTED_FEATURES: Mapping[str, str] = {
    "pedantic-public-suffix-wildcard": "wildcards on public suffixes need the Public Suffix List, which we do "
    "not ship (JPKI certificates carry no DNS names)",
    "pedantic-webpki-eku": "the CA/B Forum subscriber EKU profile (EKU required) contradicts RFC 5280 §4.2.1.12, "
    "under which an absent EKU means any use; JPKI signing certificates carry no EKU",
    "rfc5280-incompatible-with-webpki": "where RFC 5280 and the CA/B Forum BRs disagree we follow the BRs, as "
    "pyca's verifier does (non-critical nameConstraints are processed)",
}

#: Upstream pyca harness: features it skips.
PYCA_UNSUPPORTED_FEATURES = frozenset(
    {
        "pedantic-public-suffix-wildcard",
        "name-constraint-dn",
        "pedantic-webpki-eku",
        "pedantic-webpki-subscriber-key",
        "pedantic-rfc5280",
        "rfc5280-incompatible-with-webpki",
        "has-policy-constraints",
        "has-crl",
    }
)

#: Upstream pyca harness: testcases it skips explicitly (pyca's known, deliberate deviations). The
#: misspelt id is upstream's own (the suite's id is ``...-divisible-...``), kept so the baseline is scored
#: exactly as upstream scores it.
PYCA_SKIP_TESTCASES = frozenset(
    {
        "pathlen::self-issued-certs-pathlen",
        "pathlen::max-chain-depth-1-self-issued",
        "rfc5280::serial::zero",
        "rfc5280::ski::root-missing-ski",
        "rfc5280::ski::intermediate-missing-ski",
        "rfc5280::aki::intermediate-missing-aki",
        "webpki::aki::root-with-aki-ski-mismatch",
        "webpki::forbidden-rsa-not-divisable-by-8-in-root",
        "rfc5280::ca-as-leaf",
        "pathlen::validation-ignores-pathlen-in-leaf",
        "pathological::pathological-chain-same-subject-same-key",
    }
)

_KEY_USAGE_NAMES: Mapping[str, str] = {
    "digitalSignature": "digital_signature",
    "contentCommitment": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only",
    "decipherOnly": "decipher_only",
}

_E = TypeVar("_E", bound=x509.ExtensionType)

_EKU_NAMES: Mapping[str, ObjectIdentifier] = {
    "anyExtendedKeyUsage": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
}


class Verdict(StrEnum):
    """What an engine concluded for one testcase (the expected result is SUCCESS or FAILURE)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    HANG = "HANG"
    #: The engine raised something other than its verification error: a defect, scored as failed.
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One testcase scored for one engine."""

    id: str
    expected: Verdict
    actual: Verdict
    detail: str

    @property
    def passed(self) -> bool:
        return self.actual is self.expected

    @property
    def false_accept(self) -> bool:
        """A FAILURE case that was accepted, or that hung (so could not be shown to be rejected)."""
        return self.expected is Verdict.FAILURE and self.actual in (Verdict.SUCCESS, Verdict.HANG)


@dataclass(frozen=True, slots=True)
class Score:
    """All outcomes of one engine."""

    outcomes: tuple[Outcome, ...]

    @property
    def passed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.actual is not Verdict.SKIPPED and o.passed]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.actual is not Verdict.SKIPPED and not o.passed]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.actual is Verdict.SKIPPED]

    @property
    def false_accepts(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.false_accept]


@dataclass(frozen=True, slots=True)
class Report:
    """Our score and the pyca baseline on the same suite."""

    ours: Score
    baseline: Score
    seconds: float


# --- our engine -------------------------------------------------------------------------------------------


def skip_reasons(cases: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Why we skip each skipped case (by id): an unimplemented feature, or the losing side of a conflict.

    Two cases that name each other in ``conflicts_with`` cannot both pass. When both would be scored we
    score the one that expects FAILURE (fail closed) and skip the other.
    """
    reasons: dict[str, str] = {}
    for case in cases:
        for feature in case.get("features") or ():
            if feature in UNSUPPORTED_FEATURES:
                reasons[case["id"]] = f"feature {feature}: {UNSUPPORTED_FEATURES[feature]}"
                break
    expected = {case["id"]: case["expected_result"] for case in cases}
    for case in cases:
        if case["id"] in reasons or case["expected_result"] != "SUCCESS":
            continue
        for other in case.get("conflicts_with") or ():
            if other in expected and other not in reasons and expected[other] == "FAILURE":
                reasons[case["id"]] = f"conflicts with {other}, which is scored (the fail-closed side)"
                break
    return reasons


def evaluate_ours(case: Mapping[str, Any], *, now: dt.datetime) -> tuple[Verdict, str]:
    """Run one testcase through our core; any VerificationError is a FAILURE, returning is SUCCESS."""
    try:
        path = _validate(case, now)
        check_constraints(case, path)
        if case.get("crls"):
            check_revocation(case, path, _at(case, now))
    except VerificationError as exc:
        return Verdict.FAILURE, f"{type(exc).__name__}: {exc}"
    return Verdict.SUCCESS, f"path of {len(path.chain)}"


def _validate(case: Mapping[str, Any], now: dt.datetime) -> ValidatedPath:
    peer = parse_certificate(case["peer_certificate"].encode(), WEB_PKI_LIMITS)
    intermediates = [parse_certificate(p.encode(), WEB_PKI_LIMITS) for p in case["untrusted_intermediates"]]
    anchors = admit_anchors(parse_certificate(p.encode(), WEB_PKI_LIMITS) for p in case["trusted_certs"])
    limits = WEB_PKI_LIMITS
    if case.get("max_chain_depth") is not None:
        limits = dataclasses.replace(limits, chain_depth=case["max_chain_depth"])
    server_name = None
    if case["validation_kind"] == "SERVER" and case.get("expected_peer_name"):
        server_name = case["expected_peer_name"]["value"]
    path = validate_path(
        peer,
        profile=GENERIC,
        trust=TrustStore.unsafe_unpinned(anchors),
        at=_at(case, now),
        intermediates=intermediates,
        server_name=server_name,
        limits=limits,
    )
    if case["validation_kind"] == "CLIENT":
        check_peer_names(path.leaf, case.get("expected_peer_names") or ())
    return path


def admit_anchors(certificates: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """The case's trust anchors whose extensions parse; the others are refused, as
    :meth:`TrustStore.build` refuses candidates it cannot read (they can anchor no path)."""
    admitted = []
    for cert in certificates:
        try:
            strict.check_extensions(cert)
        except MalformedInput:
            continue
        admitted.append(cert)
    return admitted


def check_peer_names(leaf: x509.Certificate, names: Iterable[Mapping[str, str]]) -> None:
    """CLIENT cases: every expected peer name must be one of the leaf's subjectAltName entries.

    DNS names and e-mail domains compare case-insensitively (RFC 4343, RFC 5280 §4.2.1.6); local parts and
    IP addresses compare exactly.
    """
    san = _extension(leaf, x509.SubjectAlternativeName) or x509.SubjectAlternativeName([])
    present: dict[str, set[str]] = {
        "DNS": {n.lower() for n in san.get_values_for_type(x509.DNSName)},
        "IP": {str(ip) for ip in san.get_values_for_type(x509.IPAddress)},
        "RFC822": {_mailbox(n) for n in san.get_values_for_type(x509.RFC822Name)},
    }
    for name in names:
        kind, value = name["kind"], name["value"]
        if kind == "IP":
            wanted = str(ipaddress.ip_address(value))
        else:
            wanted = value.lower() if kind == "DNS" else _mailbox(value)
        if wanted not in present.get(kind, set()):
            raise UntrustedCertificate(Reason.NAME_MISMATCH, f"{kind} name {value!r} is not in the subjectAltName")


def _mailbox(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def check_constraints(case: Mapping[str, Any], path: ValidatedPath) -> None:
    """The usage constraints a testcase lists, on the validated path.

    * ``key_usage``: when the leaf has a keyUsage extension it asserts every listed bit (RFC 5280 §4.2.1.3;
      an absent extension does not restrict the key).
    * ``extended_key_usage``: when the leaf has an extendedKeyUsage extension it lists every named purpose
      explicitly (RFC 5280 §4.2.1.12 lets applications refuse anyExtendedKeyUsage in its place).
    * ``signature_algorithms``: every certificate of the path but the anchor is signed with a listed one.
    """
    leaf = path.leaf
    if case.get("key_usage"):
        ku = _extension(leaf, x509.KeyUsage)
        if ku is not None:
            bits = key_usage_bits(ku) | _agreement_only_bits(ku)
            missing = [n for n in case["key_usage"] if _KEY_USAGE_NAMES.get(n, n) not in bits]
            if missing:
                raise UntrustedCertificate(Reason.WRONG_KEY_USAGE, f"keyUsage lacks {', '.join(missing)}")
    if case.get("extended_key_usage"):
        eku = _extension(leaf, x509.ExtendedKeyUsage)
        if eku is not None:
            missing = [n for n in case["extended_key_usage"] if _EKU_NAMES.get(n) not in list(eku)]
            if missing:
                raise UntrustedCertificate(
                    Reason.WRONG_EXTENDED_KEY_USAGE, f"extendedKeyUsage lacks {', '.join(missing)}"
                )
    if case.get("signature_algorithms"):
        allowed = {getattr(SignatureAlgorithmOID, n, None) for n in case["signature_algorithms"]} - {None}
        for cert in path.chain[:-1]:
            if cert.signature_algorithm_oid not in allowed:
                raise UntrustedCertificate(
                    Reason.ALGORITHM_NOT_ALLOWED, f"signature algorithm {cert.signature_algorithm_oid.dotted_string}"
                )


def _agreement_only_bits(ku: x509.KeyUsage) -> frozenset[str]:
    if not ku.key_agreement:
        return frozenset()
    return frozenset(n for n in ("encipher_only", "decipher_only") if getattr(ku, n))


def _extension(cert: x509.Certificate, cls: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def check_revocation(case: Mapping[str, Any], path: ValidatedPath, at: dt.datetime) -> None:
    """RFC 5280 §6.3 through :mod:`keys.revocation.crl`, fail-closed: every certificate of the path except
    the anchor must be covered by a CRL of the case issued (and signed) by its issuer, and not revoked."""
    crls = [_crl_der(p) for p in case["crls"]]
    for cert, issuer in zip(path.chain, path.chain[1:], strict=False):
        candidates = [der for name, der in crls if name == issuer.subject]
        if not candidates:
            raise RevocationUnavailable(
                Reason.REVOCATION_UNAVAILABLE, f"no CRL from {issuer.subject.rfc4514_string()}"
            )
        for der in candidates:
            index = load_crl(der, issuer=issuer, at=at, limits=WEB_PKI_LIMITS)
            check_crl(index, cert, at=at, grace=dt.timedelta(0))


def _crl_der(pem: str) -> tuple[x509.Name, bytes]:
    try:
        crl = x509.load_pem_x509_crl(pem.encode())
    except ValueError as exc:
        raise MalformedInput(Reason.BAD_REVOCATION_DATA, f"not a CRL: {exc}") from None
    return crl.issuer, crl.public_bytes(serialization.Encoding.DER)


def _at(case: Mapping[str, Any], now: dt.datetime) -> dt.datetime:
    if case.get("validation_time"):
        return dt.datetime.fromisoformat(case["validation_time"])
    return now


# --- the pyca baseline ------------------------------------------------------------------------------------


def pyca_skip_reason(case: Mapping[str, Any]) -> str | None:
    """Upstream harness/pyca-cryptography/main.py's skip rules, in its order."""
    if case["id"] in PYCA_SKIP_TESTCASES:
        return "testcase skipped (explicitly unsupported case)"
    if PYCA_UNSUPPORTED_FEATURES.intersection(case.get("features") or ()):
        return "testcase skipped (explicit unsupported feature)"
    if case["validation_kind"] != "SERVER":
        return "non-SERVER cases not supported yet"
    if case.get("signature_algorithms"):
        return "signature algorithm customization not supported yet"
    if case.get("extended_key_usage") not in ([], ["serverAuth"]):
        return "non-serverAuth EKUs not supported yet"
    return None


def evaluate_pyca(case: Mapping[str, Any], *, now: dt.datetime) -> tuple[Verdict, str]:
    """Upstream's evaluate_testcase: PolicyBuilder + build_server_verifier, no revocation."""
    del now  # pyca's default time is the wall clock, as upstream
    load = x509.load_pem_x509_certificate
    try:
        trusted = [load(p.encode()) for p in case["trusted_certs"]]
        intermediates = [load(p.encode()) for p in case["untrusted_intermediates"]]
        peer = load(case["peer_certificate"].encode())
        builder = pv.PolicyBuilder().store(pv.Store(trusted))
        if case.get("validation_time"):
            builder = builder.time(dt.datetime.fromisoformat(case["validation_time"]))
        if case.get("max_chain_depth") is not None:
            builder = builder.max_chain_depth(case["max_chain_depth"])
        verifier = builder.build_server_verifier(_pyca_peer(case["expected_peer_name"]))
        verifier.verify(peer, intermediates)
    except (pv.VerificationError, ValueError, TypeError) as exc:
        return Verdict.FAILURE, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return Verdict.SUCCESS, "chain built successfully"


def _pyca_peer(name: Mapping[str, str]) -> x509.DNSName | x509.IPAddress:
    if name["kind"] == "DNS":
        return x509.DNSName(name["value"])
    if name["kind"] == "IP":
        return x509.IPAddress(ipaddress.ip_address(name["value"]))
    raise ValueError(f"unexpected peer kind: {name['kind']}")


# --- running ----------------------------------------------------------------------------------------------

Engine = Callable[..., tuple[Verdict, str]]
ENGINES: Mapping[str, Engine] = {"ours": evaluate_ours, "pyca": evaluate_pyca}


#: How a crash is scored: a defect of ours (ERROR), or FAILURE for pyca as upstream's harness does.
_CRASH: Mapping[str, Verdict] = {"ours": Verdict.ERROR, "pyca": Verdict.FAILURE}


def _run_case(engine: str, case: Mapping[str, Any], now: dt.datetime) -> tuple[Verdict, str]:
    """In process, or in a subprocess with a timeout for denial-of-service cases."""
    if "denial-of-service" not in (case.get("features") or ()):
        try:
            return ENGINES[engine](case, now=now)
        except Exception as exc:  # a crash is scored (and shown), never hidden
            return _CRASH[engine], f"crash: {type(exc).__name__}: {exc}"
    command = [sys.executable, "-m", "conformance.limbo", "--worker", engine, "--now", now.isoformat()]
    try:
        proc = subprocess.run(  # our own interpreter and module
            command, input=json.dumps(case).encode(), capture_output=True, timeout=TIMEOUT_SECONDS, cwd=ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Verdict.HANG, f"no result within {TIMEOUT_SECONDS:g} s"
    if proc.returncode != 0:
        return _CRASH[engine], f"worker crashed without a result (exit code {proc.returncode})"
    result = json.loads(proc.stdout)
    return Verdict(result["verdict"]), result["detail"]


def score(cases: Sequence[Mapping[str, Any]], engine: str, now: dt.datetime) -> Score:
    """Score every case for ``engine`` (``ours`` or ``pyca``)."""
    ours = engine == "ours"
    reasons = skip_reasons(cases) if ours else {}
    outcomes = []
    for case in cases:
        expected = Verdict(case["expected_result"])
        reason = reasons.get(case["id"]) if ours else pyca_skip_reason(case)
        if reason is not None:
            outcomes.append(Outcome(case["id"], expected, Verdict.SKIPPED, reason))
            continue
        verdict, detail = _run_case(engine, case, now)
        outcomes.append(Outcome(case["id"], expected, verdict, detail))
    return Score(tuple(outcomes))


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The testcases of a limbo.json file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("version") != 1:
        raise ValueError(f"{path}: unsupported limbo version {data.get('version')!r}")
    return list(data["testcases"])


def run(path: Path = DEFAULT_VECTORS, *, now: dt.datetime | None = None) -> Report:
    """Score our core and the pyca baseline on the suite at ``path``."""
    started = time.monotonic()
    when = now or dt.datetime.now(dt.UTC)
    cases = load_cases(path)
    return Report(score(cases, "ours", when), score(cases, "pyca", when), time.monotonic() - started)


def format_report(report: Report, *, verbose: bool = False) -> list[str]:
    """Failures and skips with their reasons, then the three summary lines."""
    lines = []
    ours, base = report.ours, report.baseline
    for o in ours.failed:
        tag = "FALSE ACCEPT" if o.false_accept else "failed"
        lines.append(f"{tag}: {o.id}: expected {o.expected}, got {o.actual} ({o.detail})")
    by_reason: dict[str, list[str]] = {}
    for o in ours.skipped:
        by_reason.setdefault(o.detail, []).append(o.id)
    for reason, ids in by_reason.items():
        lines.append(f"skipped {len(ids)}: {reason}: {', '.join(ids)}")
    if verbose:
        lines.extend(f"baseline failed: {o.id}: expected {o.expected}, got {o.actual} ({o.detail})"
                     for o in base.failed)
    lines.append(f"x509-limbo: {len(ours.passed)} passed, {len(ours.failed)} failed, {len(ours.skipped)} skipped")
    lines.append(f"false accepts: {len(ours.false_accepts)}")
    lines.append(
        f"baseline: {len(base.passed)} passed (pyca/cryptography {pyca_version}, upstream harness rules: "
        f"{len(base.failed)} failed, {len(base.skipped)} skipped, {len(base.false_accepts)} false accepts; "
        f"{report.seconds:.1f} s)"
    )
    return lines


def _worker(engine: str, now: dt.datetime) -> int:
    case = json.loads(sys.stdin.buffer.read())
    verdict, detail = ENGINES[engine](case, now=now)
    sys.stdout.write(json.dumps({"verdict": verdict.value, "detail": detail}))
    return 0


def main(argv: Sequence[str]) -> int:
    """``python -m conformance limbo``; exit status 1 when any FAILURE case was accepted."""
    parser = argparse.ArgumentParser(prog="python -m conformance limbo", description=__doc__.splitlines()[0])
    parser.add_argument("vectors", nargs="?", type=Path, default=DEFAULT_VECTORS, help="limbo.json")
    parser.add_argument("--verbose", action="store_true", help="also list the baseline's failures")
    parser.add_argument("--worker", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--now", type=dt.datetime.fromisoformat, help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv))
    # The suite holds certificates with serial 0 or negative on purpose (and one real root with serial 0).
    warnings.filterwarnings("ignore", "Parsed a serial number", CryptographyDeprecationWarning)
    if args.worker:
        return _worker(args.worker, args.now or dt.datetime.now(dt.UTC))
    if not args.vectors.is_file():
        print(f"x509-limbo: {args.vectors} not found", file=sys.stderr)
        return 2
    report = run(args.vectors)
    print("\n".join(format_report(report, verbose=args.verbose)))
    return 1 if report.ours.false_accepts else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
