"""Revocation data for the test PKI: CRLs, OCSP responses and delegated OCSP responders, plus the forged
variants the verification tests need (wrong signer, unauthorised responder, mismatched CertID, unsigned
error responses).

CRLs are assembled as DER here rather than with cryptography's CRL builder: the builder creates one
Python object per entry, which is far too slow for the 1,000,000-entry CRL of the benchmark, and it
cannot produce the malformed shapes the tests feed the verifier. Every CRL is signed over its exact
TBSCertList bytes with the root's key (sha256WithRSAEncryption) and loads with cryptography.

OCSP responses are assembled with asn1crypto for the same reason: cryptography's builder stamps
``producedAt`` with the wall clock, and tests pin every time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import Literal

from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keys.der import subject_public_key_bits
from keys.testpki.hierarchy import TEST_ORGANISATION, Root, new_rsa_key

#: DER AlgorithmIdentifier of sha256WithRSAEncryption (RFC 4055 §5, NULL parameters).
_SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")

OcspStatus = Literal["good", "revoked", "unknown"]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _integer(n: int) -> bytes:
    return _tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def _time(moment: dt.datetime) -> bytes:
    """RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050."""
    moment = moment.astimezone(dt.UTC)
    if 1950 <= moment.year < 2050:
        return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


def _extension(value: x509.ExtensionType, critical: bool) -> bytes:
    """DER Extension (RFC 5280 §4.1): extnID, critical only when true (DER omits a DEFAULT), extnValue."""
    body = asn1_core.ObjectIdentifier(value.oid.dotted_string).dump() + (b"\x01\x01\xff" if critical else b"")
    return _tlv(0x30, body + _tlv(0x04, value.public_bytes()))


def _root_key_id(root: Root) -> bytes:
    return root.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def issue_crl(
    root: Root,
    revoked: Iterable[tuple[int, dt.datetime, x509.ReasonFlags | None]],
    *,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
    crl_number: int | None,
    idp_name: x509.Name | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    entry_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    signing_key: rsa.RSAPrivateKey | None = None,
) -> bytes:
    """A DER CRL issued by ``root`` listing ``revoked`` as ``(serial, revocationDate, reason)``.

    Extensions (RFC 5280 §5.2): authorityKeyIdentifier, cRLNumber (omitted when ``crl_number`` is
    ``None``), an issuingDistributionPoint naming ``idp_name`` (critical, as §5.2.5 requires), then
    ``extensions`` as given. ``entry_extensions`` are added to every entry after its reasonCode;
    ``signing_key`` replaces the root's key (a forgery). Encodings of repeated dates and reasons are
    cached, so a million entries take a few seconds.
    """
    crl_extensions = [_extension(x509.AuthorityKeyIdentifier(_root_key_id(root), None, None), False)]
    if crl_number is not None:
        crl_extensions.append(_extension(x509.CRLNumber(crl_number), False))
    if idp_name is not None:
        idp = x509.IssuingDistributionPoint(
            full_name=[x509.DirectoryName(idp_name)], relative_name=None, only_contains_user_certs=False,
            only_contains_ca_certs=False, only_some_reasons=None, indirect_crl=False,
            only_contains_attribute_certs=False,
        )
        crl_extensions.append(_extension(idp, True))
    crl_extensions.extend(_extension(value, critical) for value, critical in extensions)
    extra = b"".join(_extension(value, critical) for value, critical in entry_extensions)
    times: dict[dt.datetime, bytes] = {}
    tails: dict[x509.ReasonFlags | None, bytes] = {}
    entries = []
    for serial, revoked_at, reason in revoked:
        when = times.get(revoked_at)
        if when is None:
            when = times[revoked_at] = _time(revoked_at)
        tail = tails.get(reason)
        if tail is None:
            reason_ext = _extension(x509.CRLReason(reason), False) if reason is not None else b""
            tail = tails[reason] = _tlv(0x30, reason_ext + extra) if reason_ext or extra else b""
        body = _integer(serial) + when + tail
        entries.append(b"\x30" + _length(len(body)) + body)
    tbs_parts = [
        _integer(1),  # v2
        _SHA256_WITH_RSA,
        root.certificate.subject.public_bytes(),
        _time(this_update),
        _time(next_update) if next_update is not None else b"",
        _tlv(0x30, b"".join(entries)) if entries else b"",
        _tlv(0xA0, _tlv(0x30, b"".join(crl_extensions))),
    ]
    tbs = _tlv(0x30, b"".join(tbs_parts))
    signature = (signing_key or root.key).sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return _tlv(0x30, tbs + _SHA256_WITH_RSA + _tlv(0x03, b"\x00" + signature))


def issue_large_crl(
    root: Root,
    serials: Iterable[int],
    *,
    revoked_at: dt.datetime,
    this_update: dt.datetime,
    next_update: dt.datetime,
    crl_number: int,
    reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise,
    idp_name: x509.Name | None = None,
) -> bytes:
    """A CRL revoking every serial of ``serials`` at ``revoked_at`` for one ``reason`` (benchmark scale)."""
    return issue_crl(
        root, ((s, revoked_at, reason) for s in serials), this_update=this_update, next_update=next_update,
        crl_number=crl_number, idp_name=idp_name,
    )


def issue_ocsp_responder(
    root: Root,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ocsp_signing: bool = True,
    no_check: bool = True,
    key: rsa.RSAPrivateKey | None = None,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A delegated OCSP responder certificate issued by ``root`` (RFC 6960 §4.2.2.2): EKU id-kp-OCSPSigning
    and id-pkix-ocsp-nocheck, unless ``ocsp_signing``/``no_check`` is false (an unauthorised responder)."""
    key = key or new_rsa_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, f"OCSP responder {root.purpose.value} gen{root.generation}"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number() >> 96)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(
            x509.AuthorityKeyIdentifier(_root_key_id(root), None, None), critical=False
        )
    )
    if ocsp_signing:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    if no_check:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    return builder.sign(root.key, hashes.SHA256()), key


def _key_hash(cert: x509.Certificate, algorithm: str) -> bytes:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.new(algorithm, subject_public_key_bits(spki)).digest()


def issue_ocsp_response(
    cert: x509.Certificate,
    root: Root,
    *,
    status: OcspStatus,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
    produced_at: dt.datetime | None = None,
    responder: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    nonce: bytes | None = None,
    revoked_at: dt.datetime | None = None,
    revocation_reason: x509.ReasonFlags | None = None,
    hash_algorithm: Literal["sha1", "sha256"] = "sha1",
    serial: int | None = None,
    cert_id_issuer: x509.Certificate | None = None,
    responder_name: x509.Name | None = None,
    signing_key: rsa.RSAPrivateKey | None = None,
    single_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> bytes:
    """A DER OCSPResponse (RFC 6960 §4.2.1) about ``cert``, signed by ``root`` or by a delegated ``responder``
    (whose certificate is then included).

    ``producedAt`` defaults to ``this_update``. The responderID is the signer's key hash, or
    ``responder_name`` by name. Forgeries: ``serial`` and ``cert_id_issuer`` change the CertID,
    ``signing_key`` signs with another key, ``single_extensions`` are added to the SingleResponse.
    """
    signer_cert, signer_key = responder if responder is not None else (root.certificate, root.key)
    id_issuer = cert_id_issuer or root.certificate
    if status == "revoked":
        info: dict[str, object] = {"revocation_time": revoked_at or this_update}
        if revocation_reason is not None:
            info["revocation_reason"] = revocation_reason.name
        cert_status = asn1_ocsp.CertStatus(name="revoked", value=info)
    else:
        cert_status = asn1_ocsp.CertStatus(name=status, value=None)
    single: dict[str, object] = {
        "cert_id": {
            "hash_algorithm": {"algorithm": hash_algorithm},
            "issuer_name_hash": hashlib.new(hash_algorithm, id_issuer.subject.public_bytes()).digest(),
            "issuer_key_hash": _key_hash(id_issuer, hash_algorithm),
            "serial_number": serial if serial is not None else cert.serial_number,
        },
        "cert_status": cert_status,
        "this_update": this_update,
        "next_update": next_update,
    }
    if single_extensions:
        single["single_extensions"] = asn1_ocsp.SingleResponseExtensions.load(
            _tlv(0x30, b"".join(_extension(v, c) for v, c in single_extensions))
        )
    responder_id = (
        asn1_ocsp.ResponderId({"by_name": asn1_x509.Name.load(responder_name.public_bytes())})
        if responder_name is not None
        else asn1_ocsp.ResponderId({"by_key": _key_hash(signer_cert, "sha1")})
    )
    data: dict[str, object] = {
        "responder_id": responder_id,
        "produced_at": produced_at or this_update,
        "responses": [single],
    }
    if nonce is not None:
        data["response_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": nonce}]
    tbs = asn1_ocsp.ResponseData(data)
    signature = (signing_key or signer_key).sign(tbs.dump(), padding.PKCS1v15(), hashes.SHA256())
    basic: dict[str, object] = {
        "tbs_response_data": tbs,
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signature": signature,
    }
    if responder is not None:
        basic["certs"] = [asn1_x509.Certificate.load(signer_cert.public_bytes(serialization.Encoding.DER))]
    response = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": asn1_ocsp.BasicOCSPResponse(basic)},
        }
    )
    return bytes(response.dump())


def unsuccessful_ocsp_response(status: Literal["malformed_request", "internal_error", "try_later",
                                               "sign_required", "unauthorized"] = "try_later") -> bytes:
    """An unsigned OCSP error response (RFC 6960 §4.2.1): only a status, no signature, as anyone can send."""
    return bytes(asn1_ocsp.OCSPResponse({"response_status": status}).dump())
