"""The signed attributes of a card signature over a document (RFC 5652 §5.3, §5.4, §11; RFC 5035; ETSI EN 319
122-1 §5.2 for CAdES, ETSI EN 319 142-1 §5.2 for PAdES), built by the card agent and rebuilt by the provider.

The card signs ``DigestInfo(alg, H(signedAttrs))`` where ``signedAttrs`` is the DER ``SET OF Attribute`` (tag 0x31,
elements in DER order, X.690 §11.6): RFC 5652 §5.4 says the signature covers that SET, not the ``[0] IMPLICIT``
form the SignerInfo carries. The attributes, by :class:`Profile`:

* ``CADES_BES``: content-type id-data (RFC 5652 §11.1), signing-time (§11.3; UTCTime 1950–2049, else
  GeneralizedTime; whole seconds), message-digest (§11.2), signing-certificate-v2 (RFC 5035 §3; one ESSCertIDv2,
  SHA-256 certHash, hashAlgorithm omitted as its DEFAULT, issuerSerial present).
* ``PADES``: the same without signing-time: ETSI EN 319 142-1 §5.2.1 (B-B) forbids it; the claimed time goes in
  the PDF signature dictionary's ``/M``.

Deterministic: the same inputs give the same bytes, so the provider rebuilds the agent's attributes from the
approved digest, the posted certificate and the posted signing time and compares them byte for byte.

Usage::

    from keys.cms.digest_info import HashAlgorithm
    from keys.cms.signed_attributes import Profile, build_signed_attributes, to_be_signed_digest_info

    alg = HashAlgorithm.SHA256
    attrs = build_signed_attributes(alg, alg.hash(document), certificate_der, profile=Profile.CADES_BES,
                                    signing_time=now)
    signature = card.sign(to_be_signed_digest_info(alg, attrs))   # RSASSA-PKCS1-v1_5 over the DigestInfo
"""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import StrEnum

from asn1crypto import cms, tsp, x509

from keys.cms.digest_info import HashAlgorithm, check_digest, encode_digest_info
from keys.errors import MalformedInput, Reason
from keys.limits import DEFAULT_LIMITS, check_size


class Profile(StrEnum):
    """Which signed attributes a card signature over a document carries."""

    CADES_BES = "cades-bes"
    PADES = "pades"


def build_signed_attributes(
    alg: HashAlgorithm,
    digest: bytes,
    certificate_der: bytes,
    *,
    profile: Profile,
    signing_time: dt.datetime | None = None,
) -> bytes:
    """The DER ``SET OF Attribute`` (tag 0x31, DER-sorted) the card's signature covers.

    ``digest`` is ``alg``'s digest of the document (for PAdES, of the ByteRange); ``signing_time`` (timezone-aware,
    truncated to whole seconds) is required for ``CADES_BES`` and must be ``None`` for ``PADES``.
    """
    check_digest(alg, digest)
    if (signing_time is None) is (profile is Profile.CADES_BES):
        raise ValueError("signing_time is required for CAdES-BES and forbidden for PAdES")
    certificate = _load_certificate(certificate_der)
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [_signing_certificate_v2(certificate)]}),
    ]
    if signing_time is not None:
        attributes.append(cms.CMSAttribute({"type": "signing_time", "values": [_time(signing_time)]}))
    return der_set_of([a.dump() for a in attributes])


def to_be_signed_digest_info(alg: HashAlgorithm, signed_attributes: bytes) -> bytes:
    """``DigestInfo(alg, H(signed_attributes))``: the data the card signs for a document (RFC 5652 §5.4)."""
    return encode_digest_info(alg, alg.hash(signed_attributes))


def der_set_of(elements: list[bytes]) -> bytes:
    """DER ``SET OF`` the encoded ``elements``: sorted as octet strings, the shorter padded with zero octets
    at its end (X.690 §11.6)."""
    width = max((len(e) for e in elements), default=0)

    def order(element: bytes) -> tuple[bytes, int]:
        return element.ljust(width, b"\x00"), len(element)

    ordered: list[bytes] = sorted(elements, key=order)
    body = b"".join(ordered)
    return b"\x31" + _length(len(body)) + body


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _load_certificate(der: bytes) -> x509.Certificate:
    check_size(der, DEFAULT_LIMITS.certificate_bytes, "certificate")
    try:
        certificate = x509.Certificate.load(der, strict=True)
        certificate.native  # noqa: B018 - decodes every field: malformed input fails here, not later
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"not a certificate: {str(exc)[:200]}") from None
    return certificate


def _signing_certificate_v2(certificate: x509.Certificate) -> tsp.SigningCertificateV2:
    """RFC 5035 §3: ESSCertIDv2 {certHash SHA-256 (the DEFAULT, so hashAlgorithm is omitted), issuerSerial}."""
    issuer_serial = {
        "issuer": [x509.GeneralName({"directory_name": certificate["tbs_certificate"]["issuer"]})],
        "serial_number": certificate["tbs_certificate"]["serial_number"],
    }
    cert_id = {"cert_hash": hashlib.sha256(certificate.dump()).digest(), "issuer_serial": issuer_serial}
    return tsp.SigningCertificateV2({"certs": [cert_id]})


def _time(moment: dt.datetime) -> cms.Time:
    """RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds in UTC."""
    if moment.tzinfo is None:
        raise ValueError("signing_time must be timezone-aware")
    moment = moment.astimezone(dt.UTC).replace(microsecond=0)
    if 1950 <= moment.year < 2050:
        return cms.Time({"utc_time": moment})
    return cms.Time({"generalized_time": moment})
