"""Offline verification of a verification record: the provider's signed evidence that it verified a card
signature (which documents, which certificate, which revocation answer, when), checked against the signature the
business kept.

The record is the compact JWS (RFC 7515 §7.1; ``typ`` :data:`RECORD_TYP`) the provider issues with its results
(``idp.sign.record``), signed with the provider's service key, whose JWKS the business keeps too::

    {"iss": issuer, "jti": record id, "iat": verification time, "client_id": the business,
     "signing_request": request id,
     "documents": [{"label", "hashAlgorithmOID", "hash" (base64), "signatureFormat", "signing_time"}],
     "certificate": {"issuer" (RFC 4514), "serial" (hex), "sha256" (hex of the DER), "not_after"},
     "revocation": {"source": "crl", "crl_issuer", "crl_number", ...} | {"source": "platform", "operator", ...}
                 | {"source": "ocsp", "responder", "produced_at"},
     "x5c": [base64 DER]}        # only where the deployment may keep certificates

:func:`verify_record` returns normally only when every step holds (else a reason):

1. The JWS verifies with a key of the given JWKS, ``typ`` is :data:`RECORD_TYP`, ``iss`` is the expected issuer
   when one is given (:func:`keys.jose.jws.verify_jws`); the payload has the shape above (``MALFORMED``).
2. The kept signature is one of the recorded documents': a detached CMS whose message-digest is a recorded
   digest (:func:`keys.cms.verify.verify_detached`), or a raw PKCS#1 v1.5 signature over a recorded digest's
   DigestInfo with the certificate given or recorded in ``x5c`` (``RECORD_MISMATCH``, ``BAD_SIGNATURE``).
3. The signer's certificate is the recorded one: SHA-256, serial and issuer (``RECORD_MISMATCH``).
4. The certificate path to the pinned roots and its revocation from the given CRL, both at the record's time
   (the CRL the business kept, named by the record's ``revocation``).
5. If the document itself is given, its digest is the recorded one (``DIGEST_MISMATCH``).

Usage::

    verified = verify_record(record_jws, jwks, cms=Path("contract.p7s").read_bytes(), trust=trust_store,
                             crls=[crl_der], issuer="https://id.example.jp", content=contract_pdf)
    print(verified.document.label, verified.record.verified_at)
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from keys import signatures
from keys.cms.digest_info import HashAlgorithm, hash_algorithm_by_oid
from keys.cms.verify import DOCUMENT_SIGNATURES, SIGNATURE_HASHES, VerifiedCms, validate_signer, verify_detached
from keys.errors import InvalidSignature, InvalidToken, MalformedInput, Reason, VerificationError
from keys.jose.json import loads_object
from keys.jose.jwk import JWS_ALGS, verification_keys
from keys.jose.jws import verify_jws
from keys.trust import TrustStore, parse_certificate

RECORD_TYP = "signing-record+jwt"
_ASYMMETRIC = sorted(a for a in JWS_ALGS if not a.startswith("HS"))


@dataclass(frozen=True, slots=True)
class RecordedDocument:
    """One document of a record: what was signed."""

    label: str
    hash_algorithm: HashAlgorithm
    digest: bytes
    signature_format: str
    signing_time: int | None


@dataclass(frozen=True, slots=True)
class CertificateReference:
    """The signer's certificate, named without keeping it."""

    issuer: str
    serial: int
    sha256: bytes
    not_after: int | None


@dataclass(frozen=True, slots=True)
class VerificationRecord:
    """A record's payload (see the module docstring)."""

    issuer: str
    record_id: str
    verified_at: dt.datetime
    client_id: str
    signing_request: str | None
    documents: tuple[RecordedDocument, ...]
    certificate: CertificateReference
    revocation: Mapping[str, Any]
    certificate_der: bytes | None = None

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> VerificationRecord:
        """Parse a payload; anything out of shape is ``MALFORMED``."""
        try:
            reference = payload["certificate"]
            x5c = payload.get("x5c")
            return cls(
                issuer=_text(payload["iss"]), record_id=_text(payload["jti"]),
                verified_at=dt.datetime.fromtimestamp(_int(payload["iat"]), dt.UTC),
                client_id=_text(payload["client_id"]), signing_request=payload.get("signing_request"),
                documents=tuple(_document(d) for d in payload["documents"]),
                certificate=CertificateReference(
                    _text(reference["issuer"]), int(_text(reference["serial"]), 16),
                    bytes.fromhex(_text(reference["sha256"])), reference.get("not_after"),
                ),
                revocation=dict(payload["revocation"]),
                certificate_der=base64.b64decode(x5c[0], validate=True) if x5c else None,
            )
        except (KeyError, TypeError, ValueError, IndexError, binascii.Error) as exc:
            raise MalformedInput(Reason.MALFORMED, f"verification record out of shape: {exc!r}"[:300]) from None

    def to_json(self) -> dict[str, Any]:
        """The payload (the inverse of :meth:`from_json`)."""
        payload: dict[str, Any] = {
            "iss": self.issuer, "jti": self.record_id, "iat": int(self.verified_at.timestamp()),
            "client_id": self.client_id, "signing_request": self.signing_request,
            "documents": [{"label": d.label, "hashAlgorithmOID": d.hash_algorithm.oid,
                           "hash": base64.b64encode(d.digest).decode("ascii"), "signatureFormat": d.signature_format,
                           "signing_time": d.signing_time} for d in self.documents],
            "certificate": {"issuer": self.certificate.issuer, "serial": format(self.certificate.serial, "x"),
                            "sha256": self.certificate.sha256.hex(), "not_after": self.certificate.not_after},
            "revocation": dict(self.revocation),
        }
        if self.certificate_der is not None:
            payload["x5c"] = [base64.b64encode(self.certificate_der).decode("ascii")]
        return payload


@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    """A record whose signature, kept signature, certificate, path and revocation all verified."""

    record: VerificationRecord
    document: RecordedDocument


def read_record(record_jws: str, jwks: Mapping[str, Any], *, issuer: str | None = None) -> VerificationRecord:
    """Step 1: the record's JWS with the provider's JWKS, and its payload."""
    verified = verify_jws(record_jws, algorithms=_ASYMMETRIC, typ=RECORD_TYP, keys=verification_keys(jwks))
    record = VerificationRecord.from_json(loads_object(verified.payload, what="verification record"))
    if issuer is not None and record.issuer != issuer:
        raise InvalidToken(Reason.WRONG_ISSUER, f"the record was issued by {record.issuer[:100]}, not {issuer}")
    return record


def verify_record(
    record_jws: str,
    jwks: Mapping[str, Any],
    *,
    trust: TrustStore,
    crls: Sequence[bytes],
    cms: bytes | None = None,
    raw_signature: bytes | None = None,
    certificate: bytes | None = None,
    content: bytes | None = None,
    issuer: str | None = None,
) -> VerifiedRecord:
    """Verify a record against the kept ``cms``, or ``raw_signature`` (with ``certificate`` unless the record
    carries it); see the module docstring."""
    if (cms is None) is (raw_signature is None):
        raise ValueError("give either the CMS or the raw signature")
    record = read_record(record_jws, jwks, issuer=issuer)
    at = record.verified_at
    if cms is not None:
        signers = _verify_cms_against(record, cms, trust, crls).signers
        if len(signers) != 1:
            raise MalformedInput(Reason.MALFORMED, "a card signature's CMS has one signer")
        signer = signers[0]
        leaf, document = signer.certificate, _document_with(record, signer.hash_algorithm, signer.digest)
    else:
        assert raw_signature is not None
        der = certificate or record.certificate_der
        if der is None:
            raise VerificationError(Reason.RECORD_MISMATCH, "a raw signature needs the signer's certificate")
        leaf = parse_certificate(der)
        document = _raw_signature_document(record, raw_signature, leaf)
        validate_signer(leaf, trust=trust, crls=crls, at=at, signing_time=at)
    _check_certificate(record.certificate, leaf)
    if content is not None and not hmac.compare_digest(document.hash_algorithm.hash(content), document.digest):
        raise InvalidSignature(Reason.DIGEST_MISMATCH, "the document is not the one the record names")
    return VerifiedRecord(record, document)


def _verify_cms_against(
    record: VerificationRecord, cms: bytes, trust: TrustStore, crls: Sequence[bytes]
) -> VerifiedCms:
    """The CMS verified over each recorded digest of its algorithm until one matches."""
    last: VerificationError | None = None
    for document in record.documents:
        try:
            return verify_detached(cms, digest=(document.hash_algorithm, document.digest), trust=trust, crls=crls,
                                   at=record.verified_at)
        except VerificationError as exc:
            if exc.reason is not Reason.DIGEST_MISMATCH:
                raise
            last = exc
    raise VerificationError(Reason.RECORD_MISMATCH, "the CMS signs none of the recorded documents") from last


def _document_with(record: VerificationRecord, alg: HashAlgorithm, digest: bytes) -> RecordedDocument:
    for document in record.documents:
        if document.hash_algorithm is alg and hmac.compare_digest(document.digest, digest):
            return document
    raise VerificationError(Reason.RECORD_MISMATCH, "the signature is over none of the recorded documents")


def _raw_signature_document(record: VerificationRecord, signature: bytes, leaf: x509.Certificate) -> RecordedDocument:
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "the signer's key is not an RSA key")
    for document in record.documents:
        params = signatures.SigParams(signatures.Scheme.RSA_PKCS1V15, SIGNATURE_HASHES[document.hash_algorithm])
        try:
            signatures.verify_signature(key, signature, document.digest, alg=params, policy=DOCUMENT_SIGNATURES,
                                        prehashed=True)
        except InvalidSignature as exc:
            if exc.reason is not Reason.BAD_SIGNATURE:
                raise
            continue
        return document
    raise VerificationError(Reason.RECORD_MISMATCH, "the raw signature is over none of the recorded documents")


def _check_certificate(reference: CertificateReference, leaf: x509.Certificate) -> None:
    if not hmac.compare_digest(hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest(), reference.sha256):
        raise VerificationError(Reason.RECORD_MISMATCH, "the signer's certificate is not the recorded one")
    if leaf.serial_number != reference.serial or leaf.issuer.rfc4514_string() != reference.issuer:
        raise VerificationError(Reason.RECORD_MISMATCH, "the recorded issuer or serial differs from the certificate")


def _document(entry: Mapping[str, Any]) -> RecordedDocument:
    alg = hash_algorithm_by_oid(_text(entry["hashAlgorithmOID"]))
    digest = base64.b64decode(_text(entry["hash"]), validate=True)
    if len(digest) != alg.digest_size:
        raise ValueError(f"a {alg.value} digest of {len(digest)} bytes")
    signing_time = entry.get("signing_time")
    return RecordedDocument(_text(entry["label"]), alg, digest, _text(entry.get("signatureFormat", "cades-bes")),
                            None if signing_time is None else _int(signing_time))


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, not {type(value).__name__}")
    return value
