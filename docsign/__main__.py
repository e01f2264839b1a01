"""``python -m docsign``: sign a PDF around the card in two steps, and verify signed PDFs, CMS files and
verification records offline.

Commands (each verification prints one JSON object, ``{"valid": true, ...}`` or ``{"valid": false, "reason": ...,
"detail": ...}``, and exits 0 when valid, 1 when not, 2 on bad usage)::

    python -m docsign pdf-prepare contract.pdf prepared.pdf        # prints the digest to have signed (PAdES)
    python -m docsign pdf-finish prepared.pdf signature.p7s signed.pdf [--tsa URL]
    python -m docsign verify-pdf signed.pdf --root sign-root.pem --crl sign.crl
    python -m docsign verify-cms contract.p7s --content contract.pdf --root sign-root.pem --crl sign.crl
    python -m docsign verify-record record.jws --jwks provider-jwks.json --cms contract.p7s --root ... --crl ...

Roots are given as files (``--root``, repeatable) or a directory (``--trust``); only pinned J-LIS roots are
admitted, test roots only with ``--test-roots``. ``verify-record`` checks the certificate at the record's time,
so give it the CRL the record names (issuer and number). ``pdf-prepare`` writes ``prepared.pdf`` and
``prepared.pdf.state.json`` (the ByteRange digest and placeholder); ``pdf-finish`` reads both.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from docsign.pdf import Prepared, finish, prepare
from docsign.record import verify_record
from docsign.verify import verify_cms, verify_pdf
from keys.cli import _parse_time, _read
from keys.cms.digest_info import HashAlgorithm
from keys.cms.verify import VerifiedSigner
from keys.errors import MalformedInput, Reason, VerificationError
from keys.jose.b64 import b64url_encode
from keys.jose.json import loads_object
from keys.trust import TrustStore
from keys.trust_files import load_trust_directory

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="python -m docsign", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("pdf-prepare", help="add a signature placeholder; print the digest to sign")
    prep.add_argument("pdf", type=Path)
    prep.add_argument("out", type=Path)
    prep.add_argument("--field", default="Signature1", help="signature field name")
    prep.add_argument("--hash", default="sha256", choices=[a.value for a in HashAlgorithm])
    fin = sub.add_parser("pdf-finish", help="embed the CMS for the prepared digest")
    fin.add_argument("prepared", type=Path)
    fin.add_argument("cms", type=Path, help="the detached CMS (DER) over the printed digest, PAdES attributes")
    fin.add_argument("out", type=Path)
    fin.add_argument("--tsa", help="RFC 3161 timestamp authority URL (PAdES B-T)")
    for name, what in (("verify-pdf", "every signature of a PDF"), ("verify-cms", "a detached CMS"),
                       ("verify-record", "a verification record against the kept signature")):
        verify = sub.add_parser(name, help=f"verify {what}")
        verify.add_argument("file", type=Path)
        verify.add_argument("--root", type=Path, action="append", default=[], help="a root certificate (repeatable)")
        verify.add_argument("--trust", type=Path, help="a directory of root certificates")
        verify.add_argument("--test-roots", action="store_true", help="admit test roots (test/demo mode only)")
        verify.add_argument("--crl", type=Path, action="append", default=[], help="a DER or PEM CRL (repeatable)")
        if name != "verify-record":
            verify.add_argument("--at", type=_parse_time, help="verification time, ISO 8601 with zone (default: now)")
    sub.choices["verify-pdf"].add_argument("--tsa-root", type=Path, action="append", default=[],
                                           help="a timestamp authority's root certificate (repeatable)")
    sub.choices["verify-cms"].add_argument("--content", type=Path, required=True, help="the signed document")
    record = sub.choices["verify-record"]
    record.add_argument("--jwks", type=Path, required=True, help="the provider's JWK Set (JSON)")
    record.add_argument("--issuer", help="the provider's issuer URL the record must name")
    kept = record.add_mutually_exclusive_group(required=True)
    kept.add_argument("--cms", type=Path, help="the kept detached CMS")
    kept.add_argument("--signature", type=Path, help="the kept raw PKCS#1 v1.5 signature")
    record.add_argument("--cert", type=Path, help="the signer's certificate (with --signature, unless recorded)")
    record.add_argument("--document", type=Path, help="the signed document, to check its digest too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m docsign``."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "pdf-prepare":
            return _prepare(args)
        if args.command == "pdf-finish":
            return _finish(args)
        code, result = _verify(args)
    except _UsageError as exc:
        print(f"python -m docsign: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except VerificationError as exc:
        code, result = EXIT_INVALID, {"valid": False, **exc.as_dict()}
    print(json.dumps(result, ensure_ascii=False))
    return code


class _UsageError(Exception):
    pass


def _prepare(args: argparse.Namespace) -> int:
    """Write the prepared PDF and its state; print the digest to sign."""
    prepared = asyncio.run(prepare(_read(args.pdf), field_name=args.field, hash_algorithm=HashAlgorithm(args.hash)))
    args.out.write_bytes(prepared.pdf)
    args.out.with_name(args.out.name + ".state.json").write_text(prepared.state_json(), encoding="utf-8")
    print(json.dumps({"hash_algorithm": prepared.hash_algorithm.value, "digest": b64url_encode(prepared.digest),
                      "digest_hex": prepared.digest.hex(), "profile": "pades"}))
    return EXIT_VALID


def _finish(args: argparse.Namespace) -> int:
    """Embed the CMS into the prepared PDF."""
    state = args.prepared.with_name(args.prepared.name + ".state.json")
    prepared = Prepared.from_state(_read(args.prepared), _read(state).decode("utf-8", "replace"))
    args.out.write_bytes(asyncio.run(finish(prepared, _read(args.cms), timestamp_url=args.tsa)))
    print(json.dumps({"signed": str(args.out)}))
    return EXIT_VALID


def _verify(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    trust = _trust(args)
    crls = [_crl_der(_read(p)) for p in args.crl]
    data = _read(args.file)
    at: dt.datetime = getattr(args, "at", None) or dt.datetime.now(dt.UTC)
    if args.command == "verify-pdf":
        pdf = asyncio.run(verify_pdf(data, trust=trust, crls=crls, at=at,
                                     tsa_roots=[_certificate(_read(p)) for p in args.tsa_root]))
        return EXIT_VALID, {"valid": True, "signatures": [
            {"field": s.field_name, "byte_range": list(s.byte_range), "covers_whole_file": s.covers_whole_file,
             "timestamp": _iso(s.timestamp), **(_signer(s.signer) if s.signer else {"document_timestamp": True})}
            for s in pdf.signatures]}
    if args.command == "verify-cms":
        cms = asyncio.run(verify_cms(data, _read(args.content), trust=trust, crls=crls, at=at))
        return EXIT_VALID, {"valid": True, "signers": [_signer(s) for s in cms.signers]}
    jwks = loads_object(_read(args.jwks), what="JWKS")
    verified = verify_record(
        data.decode("ascii", "replace").strip(), jwks, trust=trust, crls=crls,
        cms=_read(args.cms) if args.cms else None, raw_signature=_read(args.signature) if args.signature else None,
        certificate=_certificate(_read(args.cert)) if args.cert else None,
        content=_read(args.document) if args.document else None, issuer=args.issuer,
    )
    record = verified.record
    return EXIT_VALID, {"valid": True, "record": record.record_id, "issuer": record.issuer,
                        "verified_at": _iso(record.verified_at), "document": verified.document.label,
                        "revocation": dict(record.revocation)}


def _trust(args: argparse.Namespace) -> TrustStore:
    if args.trust is not None and not args.trust.is_dir():
        raise _UsageError(f"--trust {args.trust} is not a directory")
    if args.trust is None and not args.root:
        raise _UsageError("give the pinned roots with --root FILE or --trust DIR")
    if args.trust is not None:
        return load_trust_directory(args.trust, allow_test_roots=args.test_roots)
    store = TrustStore.build([(str(p), _read(p)) for p in args.root], allow_test_roots=args.test_roots)
    if not store.anchors:
        raise VerificationError(Reason.UNTRUSTED_ROOT, "; ".join(f"{r.source}: {r.detail}" for r in store.refused))
    return store


def _signer(signer: VerifiedSigner) -> dict[str, Any]:
    """What names the signer without personal data: the certificate's issuer, serial and digest."""
    leaf = signer.certificate
    return {"certificate": {"issuer": leaf.issuer.rfc4514_string(), "serial": format(leaf.serial_number, "x"),
                            "sha256": leaf.fingerprint(hashes.SHA256()).hex()},
            "hash_algorithm": signer.hash_algorithm.value, "signing_time": _iso(signer.signing_time),
            "claimed_signing_time": _iso(signer.claimed_signing_time), "revocation": signer.revocation.source}


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _certificate(data: bytes) -> bytes:
    """DER of a certificate given as DER or PEM."""
    try:
        is_pem = data.lstrip().startswith(b"-----BEGIN")
        return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER) if is_pem else data
    except ValueError as exc:
        raise MalformedInput(Reason.MALFORMED, f"not a PEM certificate: {exc}") from None


def _crl_der(data: bytes) -> bytes:
    """DER of a CRL given as DER or PEM (pyHanko takes DER)."""
    try:
        return x509.load_pem_x509_crl(data).public_bytes(Encoding.DER) if data.lstrip().startswith(b"-----") else data
    except ValueError as exc:
        raise MalformedInput(Reason.MALFORMED, f"not a PEM CRL: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
