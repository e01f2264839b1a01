"""``python -m keys``: verify a JPKI certificate from the command line, and the verification demo.

``verify-cert`` prints exactly one JSON object and exits 0 (valid), 1 (invalid, including unreadable
input) or 2 (bad usage). The certificate and every ``--crl`` may be DER or PEM (``-----BEGIN CERTIFICATE-----``,
``-----BEGIN X509 CRL-----``); anything else is invalid with reason ``malformed``. Revocation is required unless
``--no-revocation`` is given (fail closed): a chain-only check is a non-authoritative pre-check and is reported as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from keys.errors import MalformedInput, Reason, VerificationError
from keys.revocation.crl import load_crl
from keys.revocation.policy import RevocationPolicy, check_revocation
from keys.trust import parse_certificate
from keys.trust_files import load_trust_directory
from keys.x509.facts import decode_basic_facts
from keys.x509.path import validate_path
from keys.x509.profile import JPKI_AUTH, JPKI_SIGN, Profile

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_PROFILES: dict[str, Profile] = {"auth": JPKI_AUTH, "sign": JPKI_SIGN}
_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


def _parse_time(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("the time needs a zone (e.g. 2026-11-22T12:00:00Z)")
    return parsed.astimezone(dt.UTC)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="python -m keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify-cert", help="validate a JPKI certificate and print one JSON object")
    verify.add_argument("--purpose", choices=sorted(_PROFILES), required=True)
    verify.add_argument("--trust", type=Path, required=True, help="directory of root certificates")
    verify.add_argument("--crl", type=Path, action="append", default=[], help="a DER or PEM CRL (repeatable)")
    verify.add_argument("--ocsp-response", type=Path, action="append", default=[], help="a DER OCSP response")
    verify.add_argument("--at", type=_parse_time, help="validation time, ISO 8601 with zone (default: now)")
    verify.add_argument("--test-roots", action="store_true", help="admit test roots (test/demo mode only)")
    verify.add_argument("--no-revocation", action="store_true",
                        help="skip revocation (a non-authoritative chain-only pre-check)")
    verify.add_argument("certificate", type=Path, help="the card certificate, DER or PEM")
    demo = sub.add_parser("demo", help="issue a virtual test card and verify it end to end")
    demo.add_argument("--data-dir", type=Path, default=Path("var"))
    return parser


def verify_cert(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run ``verify-cert``; returns the exit code and the JSON object to print."""
    profile = _PROFILES[args.purpose]
    result: dict[str, Any] = {"valid": False, "reason": None, "profile": profile.purpose.value}
    at: dt.datetime = args.at or dt.datetime.now(dt.UTC)
    result["at"] = at.isoformat().replace("+00:00", "Z")
    if not args.trust.is_dir():
        raise _UsageError(f"--trust {args.trust} is not a directory")
    try:
        trust = load_trust_directory(args.trust, allow_test_roots=args.test_roots)
        if not trust.anchors:
            result.update(reason=Reason.UNTRUSTED_ROOT.value, detail="no trust anchor admitted from --trust")
            return EXIT_INVALID, result
        path = validate_path(_certificate_der(_read(args.certificate)), profile=profile, trust=trust, at=at)
        result["root"] = path.anchor.label
        if args.no_revocation:
            result["revocation"] = "skipped"
        else:
            crls = [load_crl(_read(p), issuer=path.issuer, at=at) for p in args.crl]
            ocsp = [_read(p) for p in args.ocsp_response]
            status = check_revocation(path.leaf, path.issuer, at=at, policy=RevocationPolicy(), crls=crls,
                                      ocsp_responses=ocsp)
            result["revocation"] = {"status": status.status.value, "source": status.source}
        if profile is JPKI_SIGN:
            facts = decode_basic_facts(path.leaf)
            result["facts"] = {
                "name": facts.name,
                "birthdate": facts.birth_date,
                "sex": facts.sex.value,
                "address": facts.address,
                "name_substitution": facts.name_substitution,
                "address_substitution": facts.address_substitution,
            }
    except VerificationError as exc:
        result.update(reason=exc.reason.value, detail=exc.detail)
        return EXIT_INVALID, result
    result["valid"] = True
    return EXIT_VALID, result


class _UsageError(Exception):
    pass


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MalformedInput(Reason.MALFORMED, f"cannot read {path.name}: {exc.strerror}") from None


def _certificate_der(data: bytes) -> bytes:
    """The DER of a certificate given as DER (unchanged: path validation parses it strictly) or PEM (its first
    ``CERTIFICATE`` block, within the size limit; text before it, as ``openssl x509 -text`` writes, is ignored)."""
    start = data.find(_PEM_CERTIFICATE)
    if start >= 0 or data.lstrip().startswith(b"-----BEGIN"):
        return parse_certificate(data[max(start, 0):]).public_bytes(Encoding.DER)
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m keys``."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from keys.demo import run_demo

        return run_demo(args.data_dir)
    try:
        code, result = verify_cert(args)
    except _UsageError as exc:
        print(f"python -m keys: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result, ensure_ascii=False))
    return code


__all__ = ["build_parser", "main", "verify_cert"]
