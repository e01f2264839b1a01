"""A detached CMS SignedData around a card signature (RFC 5652 §5; CAdES-BES per ETSI EN 319 122-1 §5.2 when the
attributes are :data:`~keys.cms.signed_attributes.Profile.CADES_BES`).

Shape: ``ContentInfo{id-signedData, SignedData{version 1, digestAlgorithms {alg}, encapContentInfo{id-data, no
eContent}, certificates {signer}, signerInfos {SignerInfo{version 1, sid issuerAndSerialNumber, digestAlgorithm
alg, signedAttrs [0], signatureAlgorithm shaNNNWithRSAEncryption, signature}}}}``.

Choices: digest algorithm identifiers without parameters (RFC 5754 §2 "MUST generate ... absent"); the signature
algorithm ``sha256WithRSAEncryption`` (and its SHA-384/512 siblings, NULL parameters, RFC 5754 §3.2), which
``openssl cms -verify``, pyHanko and Adobe all accept (``rsaEncryption`` would be too; RFC 3370 §3.2); only the
signer's certificate (the JPKI root is pinned by the verifier, never taken from the message).

Usage::

    attrs = build_signed_attributes(alg, alg.hash(document), cert_der, profile=Profile.CADES_BES, signing_time=now)
    signature = card.sign(to_be_signed_digest_info(alg, attrs))
    Path("contract.p7s").write_bytes(assemble_detached(alg, attrs, signature, cert_der))
"""

from __future__ import annotations

from asn1crypto import cms, x509

from keys.cms.digest_info import HashAlgorithm
from keys.errors import MalformedInput, Reason
from keys.limits import DEFAULT_LIMITS, check_size

#: Signature algorithm names (asn1crypto) of RSASSA-PKCS1-v1_5 with each allowed hash (RFC 5754 §3.2).
RSA_SIGNATURE_ALGORITHMS = {
    HashAlgorithm.SHA256: "sha256_rsa",
    HashAlgorithm.SHA384: "sha384_rsa",
    HashAlgorithm.SHA512: "sha512_rsa",
}
#: The longest RSA signature the card profile allows (4096 bits).
_MAX_SIGNATURE = 512


def assemble_detached(alg: HashAlgorithm, signed_attributes: bytes, signature: bytes, certificate_der: bytes) -> bytes:
    """DER ContentInfo of a detached SignedData with one SignerInfo carrying ``signed_attributes`` (the DER SET
    the card signed, re-tagged ``[0] IMPLICIT``), ``signature`` and the signer ``certificate_der``.

    It only assembles: the caller (the provider, the PDF helper) has verified the signature already, and
    :func:`keys.cms.verify.verify_detached` checks the result end to end.
    """
    check_size(certificate_der, DEFAULT_LIMITS.certificate_bytes, "certificate")
    if not 0 < len(signature) <= _MAX_SIGNATURE:
        raise MalformedInput(Reason.MALFORMED, f"a signature of {len(signature)} bytes")
    try:
        certificate = x509.Certificate.load(certificate_der, strict=True)
        attributes = cms.CMSAttributes.load(signed_attributes, strict=True)
        tbs = certificate["tbs_certificate"]
        sid = cms.SignerIdentifier(
            {"issuer_and_serial_number": {"issuer": tbs["issuer"], "serial_number": tbs["serial_number"]}}
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad certificate or signed attributes: {str(exc)[:200]}") from None
    if attributes.dump(force=True) != signed_attributes:
        raise MalformedInput(Reason.MALFORMED, "signed attributes are not a DER SET")
    digest_algorithm = {"algorithm": alg.oid, "parameters": None}
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": sid,
            "digest_algorithm": digest_algorithm,
            "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": RSA_SIGNATURE_ALGORITHMS[alg]},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "data"},
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    der: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return der
