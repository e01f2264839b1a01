"""Fuzz targets of the X.509 side: DER certificates (raw reader, strict checks, path validation), CRLs, OCSP
responses, platform operators' answers and card logins (certificate plus signature).

Errors let through: :class:`keys.errors.VerificationError` and its subclasses (``MalformedInput``,
``LimitExceeded``, ``UntrustedCertificate``, ``InvalidSignature``, ``RevokedCertificate``,
``RevocationUnavailable``), the documented failures of every entry point here.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import struct
from contextlib import suppress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from keys.cardlogin import LoginMessage, RevocationInputs, encode_login_message, verify_card_login
from keys.errors import VerificationError
from keys.jose.json import loads_object
from keys.revocation.crl import check_crl, load_crl
from keys.revocation.ocsp import check_ocsp_response
from keys.revocation.platform import judge_platform_answer, parse_platform_answer
from keys.revocation.policy import RevocationPolicy
from keys.testpki import CardMaterial, TestPki
from keys.testpki.hierarchy import make_root
from keys.testpki.revocation import issue_crl, issue_ocsp_response
from keys.trust import TrustStore, parse_certificate
from keys.x509.path import validate_path
from keys.x509.profile import JPKI_AUTH, Purpose
from keys.x509.rawcert import raw_certificate
from keys.x509.strict import check_certificate, is_self_signed
from tests.fuzz.harness import target

AT = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Pki:
    """One auth root and one signing root of generation 3, a card, and a trust store of the two roots."""

    pki: TestPki
    card: CardMaterial
    trust: TrustStore


@functools.cache
def pki() -> Pki:
    """Made once per process (RSA key generation takes a moment)."""
    test_pki = TestPki({(p, 3): make_root(p, 3) for p in (Purpose.AUTH, Purpose.SIGN)})
    card = test_pki.issue_card(now=AT)
    trust = TrustStore.build(
        [(f"r{i}", r.certificate.public_bytes(serialization.Encoding.DER)) for i, r in enumerate(test_pki.roots())],
        allow_test_roots=True,
    )
    return Pki(test_pki, card, trust)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


#: The organizationName attribute with a UTF8String value, and the same with tag 13 (no string type).
ORG_UTF8 = b"\x06\x03\x55\x04\x0a\x0c"
ORG_BAD_TAG = b"\x06\x03\x55\x04\x0a\x0d"
#: The same attribute typed BIT STRING (0 unused bits), which only x500UniqueIdentifier may be.
ORG_BITSTRING = b"\x06\x03\x55\x04\x0a\x03\x09\x00"
#: rsaEncryption with its NULL parameters, and the OID grown over the NULL (crash found by fuzzing).
RSA_OID_AND_NULL = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00"
RSA_OID_SWALLOWING_NULL = b"\x06\x0b" + RSA_OID_AND_NULL[2:]


def _certificate_seeds() -> dict[str, bytes]:
    context = pki()
    assert context.card.sign_certificate is not None
    leaf = _der(context.card.auth_certificate)
    return {"auth_leaf.der": leaf, "sign_leaf.der": _der(context.card.sign_certificate),
            "root.der": _der(context.card.auth_root.certificate),
            # regressions: validate_path raised ValueError / UnsupportedAlgorithm on these
            "regress-issuer-tag.der": leaf.replace(ORG_UTF8, ORG_BAD_TAG, 1),
            "regress-key-oid.der": leaf.replace(RSA_OID_AND_NULL, RSA_OID_SWALLOWING_NULL, 1),
            # regression: parse_certificate let cryptography's InvalidVersion (not a ValueError) through
            "regress-version.der": leaf.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x2b", 1),
            # regression (atheris): an x400Address in issuerAltName, UnsupportedGeneralNameType on reading
            "regress-x400-name.der": _x400_issuer_alt_name(leaf),
            # regression (atheris): a BIT STRING organizationName, TypeError on reading the issuer
            "regress-bitstring-name.der": leaf.replace(ORG_UTF8 + b"\x09J", ORG_BITSTRING, 1)}


def _x400_issuer_alt_name(der: bytes) -> bytes:
    at = der.index(b"\xa4", der.index(b"\x06\x03\x55\x1d\x12"))  # issuerAltName's directoryName [4]
    return der[:at] + b"\xa3" + der[at + 1 :]  # -> x400Address [3]


@target("x509_raw", seeds=_certificate_seeds)
def x509_raw(data: bytes) -> None:
    """:func:`keys.x509.rawcert.raw_certificate` and its lazily read extensions."""
    with suppress(VerificationError):
        raw = raw_certificate(data)
        raw.authority_key_id()
        raw.is_ca()
        raw.distribution_point_names()


@target("x509_strict", seeds=_certificate_seeds)
def x509_strict(data: bytes) -> None:
    """:func:`keys.trust.parse_certificate`, then :mod:`keys.x509.strict` on whatever it accepts."""
    try:
        cert = parse_certificate(data)
    except VerificationError:
        return
    with suppress(VerificationError):
        check_certificate(cert, is_leaf=True)
    with suppress(VerificationError):
        check_certificate(cert, is_leaf=False, is_anchor=True)
    with suppress(VerificationError):
        is_self_signed(cert)


@target("x509_path", seeds=_certificate_seeds)
def x509_path(data: bytes) -> None:
    """:func:`keys.x509.path.validate_path` of a DER leaf against the test roots."""
    with suppress(VerificationError):
        validate_path(data, profile=JPKI_AUTH, trust=pki().trust, at=AT)


def _crl_seeds() -> dict[str, bytes]:
    context = pki()
    serial = context.card.auth_certificate.serial_number
    good = issue_crl(context.card.auth_root, [(serial + 1, AT - dt.timedelta(days=2), x509.ReasonFlags.key_compromise)],
                     this_update=AT - dt.timedelta(hours=1), next_update=AT + dt.timedelta(days=1), crl_number=7)
    revoked = issue_crl(context.card.auth_root, [(serial, AT - dt.timedelta(days=2), None)],
                        this_update=AT - dt.timedelta(hours=1), next_update=None, crl_number=None)
    # regression: load_crl raised ValueError on an issuer name with a string of tag 13
    return {"crl.der": good, "revoked.der": revoked, "regress-issuer-tag.der": good.replace(ORG_UTF8, ORG_BAD_TAG, 1),
            # regression (atheris): InvalidVersion, not a ValueError, escaped load_crl
            "regress-version.der": good.replace(b"\x02\x01\x01", b"\x02\x01\x2b", 1),
            "regress-bitstring-name.der": good.replace(ORG_UTF8 + b"\x09J", ORG_BITSTRING, 1)}


@target("crl", seeds=_crl_seeds)
def crl(data: bytes) -> None:
    """:func:`keys.revocation.crl.load_crl` under the auth root, then :func:`check_crl` of the card."""
    context = pki()
    with suppress(VerificationError):
        index = load_crl(data, issuer=context.card.auth_root.certificate, at=AT)
        check_crl(index, context.card.auth_certificate, at=AT, grace=dt.timedelta(0))


def _ocsp_seeds() -> dict[str, bytes]:
    context = pki()
    cert, root = context.card.auth_certificate, context.card.auth_root
    good = issue_ocsp_response(cert, root, status="good", this_update=AT - dt.timedelta(minutes=5),
                               next_update=AT + dt.timedelta(hours=1), nonce=b"n" * 16)
    revoked = issue_ocsp_response(cert, root, status="revoked", this_update=AT - dt.timedelta(minutes=5),
                                  next_update=None, revoked_at=AT - dt.timedelta(days=1),
                                  revocation_reason=x509.ReasonFlags.key_compromise, hash_algorithm="sha256")
    return {"good.der": good, "revoked.der": revoked}


@target("ocsp", seeds=_ocsp_seeds)
def ocsp(data: bytes) -> None:
    """:func:`keys.revocation.ocsp.check_ocsp_response` for the card under the auth root."""
    context = pki()
    with suppress(VerificationError):
        check_ocsp_response(data, cert=context.card.auth_certificate, issuer=context.card.auth_root.certificate,
                            at=AT, max_age=dt.timedelta(hours=1), nonce=b"n" * 16)


def _platform_seeds() -> dict[str, bytes]:
    digest = hashlib.sha256(_der(pki().card.auth_certificate)).hexdigest()
    answer = {"operator": "op-1", "certificate_sha256": digest, "status": "good", "checked_at": "2026-11-22T11:59:00Z",
              "next_update": "2026-11-23T00:00:00Z", "max_age": 300, "revoked_at": None, "reason": None,
              "nonce": "bm5ubm5ubm5ubm5ubm5ubg"}
    revoked = dict(answer, status="revoked", revoked_at="2026-11-01T00:00:00Z", reason="keyCompromise", nonce=None,
                   max_age=None, next_update=None)
    return {"good.json": json.dumps(answer).encode(), "revoked.json": json.dumps(revoked).encode(),
            # regressions (atheris): a huge max_age overflowed timedelta; nextUpdate 9999-12-31 overflowed + skew
            "regress-max-age.json": json.dumps(dict(answer, max_age=10**80)).encode(),
            "regress-end-of-time.json": json.dumps(dict(answer, max_age=None,
                                                        next_update="9999-12-31T23:59:59Z")).encode()}


@target("platform_answer", seeds=_platform_seeds)
def platform_answer(data: bytes) -> None:
    """A platform operator's answer payload: strict JSON, :func:`parse_platform_answer`, then
    :func:`judge_platform_answer` for the card."""
    with suppress(VerificationError):
        answer = parse_platform_answer(loads_object(data, what="platform answer"), signature_verified=True)
        for max_age in (dt.timedelta(minutes=5), None):
            with suppress(VerificationError):
                judge_platform_answer(answer, certificate=pki().card.auth_certificate, at=AT, max_age=max_age,
                                      nonce=answer.nonce)


def login_message() -> LoginMessage:
    return LoginMessage("https://id.example.jp", "i-1", bytes(range(32)), AT - dt.timedelta(seconds=10), Purpose.AUTH)


def _login_seeds() -> dict[str, bytes]:
    card = pki().card
    signature = card.auth_key.sign(encode_login_message(login_message()), padding.PKCS1v15(), hashes.SHA256())
    certificate = _der(card.auth_certificate)
    return {"login.bin": struct.pack(">H", len(certificate)) + certificate + signature}


@target("card_login", seeds=_login_seeds)
def card_login(data: bytes) -> None:
    """:func:`keys.cardlogin.verify_card_login`: ``data`` is a 2-byte length, the certificate, the signature."""
    size = int.from_bytes(data[:2], "big")
    certificate, signature = data[2 : 2 + size], data[2 + size :]
    with suppress(VerificationError):
        verify_card_login(certificate, signature, expected=login_message(), trust=pki().trust,
                          revocation=RevocationInputs(policy=RevocationPolicy(required=False)), at=AT)
