"""The provider's check of the card's document signatures, before anything is recorded or released.

The card agent posts, per approved document and in document order, ``{"raw", "cms", "signing_time"}``
(:mod:`idp.endpoints.card_login`): ``raw`` is the card's RSASSA-PKCS1-v1_5 signature over the document's DigestInfo
as the business gave it, ``cms`` the signature over ``DigestInfo(H(signedAttrs))`` (RFC 5652 §5.4) for the CMS
SignerInfo, ``signing_time`` the agent's clock when it built the signed attributes. The certificate is the one the
card login posted; its path to the pinned roots, its revocation status, its validity and its key usage
(digitalSignature + nonRepudiation, the JPKI signing profile) are checked by the card login's verification
(:func:`keys.cardlogin.verify_card_login` with the signing key) before this runs.

:func:`verify_documents` then, for each document:

1. ``signing_time`` lies inside the challenge's window (not before it was issued less the clock skew, not after
   now plus the skew) and inside the certificate's validity (validity at signing time);
2. ``raw`` recovers, under the certificate's key, to exactly the APPROVED DigestInfo (RFC 8017 §8.2.2: the
   encoded message compared as a whole, so no other algorithm, digest or trailing data passes);
3. the signed attributes are rebuilt here from the approved digest, the certificate and ``signing_time``
   (:func:`keys.cms.signed_attributes.build_signed_attributes`; PAdES has no signing-time attribute) and ``cms``
   recovers to exactly ``to_be_signed_digest_info`` of them.

Any failure raises :class:`keys.errors.InvalidSignature` (``BAD_SIGNATURE``) or :class:`ValueError` for a
malformed post: nothing is recorded, nothing released.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature as PycaInvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from idp.sign.requests import Document, DocumentSignature
from keys.cms.digest_info import hash_algorithm_by_name
from keys.cms.signed_attributes import Profile, build_signed_attributes, to_be_signed_digest_info
from keys.errors import InvalidSignature, Reason
from keys.jose.b64 import b64url_decode_loose

_B64URL: Final = re.compile(r"[A-Za-z0-9_-]{1,1400}")
#: Tolerance between the agent's clock and the provider's.
SKEW: Final = dt.timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class PostedSignature:
    """One entry of ``document_signatures`` as the agent posted it."""

    raw: bytes
    cms: bytes
    signing_time: dt.datetime


def parse_posted(value: object, count: int) -> tuple[PostedSignature, ...]:
    """``document_signatures``: exactly ``count`` objects ``{"raw", "cms", "signing_time"}`` (ValueError if not)."""
    if not isinstance(value, list) or len(value) != count:
        raise ValueError(f"document_signatures lists {count} signatures")
    return tuple(_posted(item) for item in value)


def _posted(item: object) -> PostedSignature:
    if not isinstance(item, dict) or set(item) != {"raw", "cms", "signing_time"}:
        raise ValueError("a document signature is {raw, cms, signing_time}")
    raw, cms, when = item["raw"], item["cms"], item["signing_time"]
    if not all(isinstance(v, str) and _B64URL.fullmatch(v) for v in (raw, cms)) or type(when) is not int:
        raise ValueError("raw and cms are base64url, signing_time seconds since the epoch")
    if not 0 <= when < 2**33:
        raise ValueError("signing_time out of range")
    return PostedSignature(b64url_decode_loose(raw), b64url_decode_loose(cms), dt.datetime.fromtimestamp(when, dt.UTC))


def _recovers_to(key: rsa.RSAPublicKey, signature: bytes, expected: bytes) -> None:
    """The PKCS#1 v1.5 signature's encoded message is exactly ``expected`` (a DigestInfo)."""
    if len(signature) != (key.key_size + 7) // 8:
        raise InvalidSignature(Reason.BAD_SIGNATURE, "signature length does not match the key")
    try:
        recovered = key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except (PycaInvalidSignature, ValueError):
        raise InvalidSignature(Reason.BAD_SIGNATURE, "the signature does not verify") from None
    if not hmac.compare_digest(recovered, expected):
        raise InvalidSignature(Reason.BAD_SIGNATURE, "the signature covers other data than the approved document")


def signed_attributes_for(document: Document, certificate: bytes, signing_time: dt.datetime) -> bytes:
    """The signed attributes of ``document`` (what the agent built and the card's ``cms`` signature covers)."""
    profile = Profile(document.profile)
    return build_signed_attributes(hash_algorithm_by_name(document.hash_algorithm), document.digest, certificate,
                                   profile=profile,
                                   signing_time=signing_time if profile is Profile.CADES_BES else None)


def verify_documents(documents: Sequence[Document], certificate: bytes, posted: Sequence[PostedSignature], *,
                     not_before: dt.datetime, now: dt.datetime) -> tuple[DocumentSignature, ...]:
    """Check every posted signature against its approved document (see the module docstring); the verified
    signatures, in document order."""
    if len(posted) != len(documents):
        raise ValueError("one signature per approved document")
    leaf = x509.load_der_x509_certificate(certificate)
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "the card key is an RSA key")
    verified = []
    for document, signature in zip(documents, posted, strict=True):
        when = signature.signing_time
        if not not_before - SKEW <= when <= now + SKEW:
            raise InvalidSignature(Reason.BAD_SIGNATURE, "signing time outside the challenge's window")
        if not leaf.not_valid_before_utc <= when <= leaf.not_valid_after_utc:
            raise InvalidSignature(Reason.BAD_SIGNATURE, "the certificate was not valid at the signing time")
        _recovers_to(key, signature.raw, document.digest_info)
        algorithm = hash_algorithm_by_name(document.hash_algorithm)
        attributes = signed_attributes_for(document, certificate, when)
        _recovers_to(key, signature.cms, to_be_signed_digest_info(algorithm, attributes))
        verified.append(DocumentSignature(signature.raw, signature.cms, when))
    return tuple(verified)


__all__ = ["SKEW", "PostedSignature", "parse_posted", "signed_attributes_for", "verify_documents"]
