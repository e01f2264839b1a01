"""Offline verification of a detached CMS signature made with a JPKI signing certificate (RFC 5652 §5.4, §5.6;
RFC 5035; ETSI EN 319 122-1 CAdES-BES), against pinned roots and a given CRL.

:func:`verify_detached` follows these steps for EVERY SignerInfo (one that fails fails the whole message);
returning is the one success path, each failure raises a :class:`~keys.errors.VerificationError` with its reason:

1. Limits, then strict parsing: ContentInfo id-signedData, encapContentInfo id-data with no eContent (detached),
   1 to 8 SignerInfos (``MALFORMED``, ``TOO_LARGE``).
2. The signer's certificate from the message by its SignerIdentifier, either form (issuerAndSerialNumber with
   version 1, subjectKeyIdentifier with version 3, RFC 5652 §5.3): exactly one must match (``UNKNOWN_SIGNER``).
3. Algorithms: digestAlgorithm SHA-256/384/512; signatureAlgorithm rsaEncryption or the shaNNNWithRSAEncryption
   of the same hash (``ALGORITHM_NOT_ALLOWED``).
4. Signed attributes, present and DER (§5.3), each of these at most once with one value: content-type = id-data
   (§11.1), message-digest of the algorithm's length (§11.2), signing-time (§11.3), signing-certificate-v2
   (RFC 5035 §3, required: CAdES-BES), cms-algorithm-protection (RFC 6211 §2, optional) naming the SignerInfo's
   algorithms (``MISSING_ATTRIBUTE``, ``MALFORMED``, ``ALGORITHM_NOT_ALLOWED``).
5. message-digest equals the digest of the content, or the digest the caller holds (``DIGEST_MISMATCH``).
6. signing-certificate-v2's first ESSCertIDv2 names the signer's certificate: certHash over its DER with an
   allowed hash, issuerSerial (if present) its issuer and serial (``CERTIFICATE_MISMATCH``).
7. The signature over the DER SET of the signed attributes, RSASSA-PKCS1-v1_5, RSA 2048–4096 (``BAD_SIGNATURE``).
8. The certificate path to the pinned roots with the JPKI signing profile (keyUsage nonRepudiation, critical
   signing policy, direct issue by the root; :func:`keys.x509.path.validate_path`) at the signing time: the
   caller's ``signing_time`` (a timestamp, a verification record's time), else the signing-time attribute, else
   ``at``. A claimed signing time after ``at`` is ``SIGNED_IN_FUTURE``.
9. Revocation at ``at`` from the given CRLs (:func:`keys.revocation.check_revocation`, CRL only, fail closed):
   ``REVOKED`` when the CRL lists the certificate with a revocation date at or before ``at``; no fresh CRL of the
   issuing root is ``REVOCATION_UNAVAILABLE``/``STALE_REVOCATION_DATA``. A CAdES-BES signing time is only the
   signer's claim, so a certificate revoked before ``at`` fails even when the claim is earlier.

Usage::

    from keys.cms.verify import verify_detached

    result = verify_detached(Path("contract.p7s").read_bytes(), content=Path("contract.pdf").read_bytes(),
                             trust=trust_store, crls=[Path("sign.crl").read_bytes()], at=now)
    for signer in result.signers:
        print(signer.certificate.subject, signer.signing_time, signer.revocation.source)
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa

from keys import signatures
from keys.cms.digest_info import HashAlgorithm, hash_algorithm_by_oid
from keys.cms.signed_data import RSA_SIGNATURE_ALGORITHMS
from keys.errors import (
    InvalidSignature,
    LimitExceeded,
    MalformedInput,
    Reason,
    RevocationUnavailable,
    VerificationError,
)
from keys.limits import DEFAULT_LIMITS, Limits, check_size
from keys.revocation import CrlIndex, NoFreshStatus, RevocationPolicy, RevocationStatus, check_revocation, load_crl
from keys.revocation.status import DEFAULT_SKEW, Source
from keys.trust import TrustStore, fingerprint, parse_certificate
from keys.x509.path import ValidatedPath, validate_path
from keys.x509.profile import JPKI_SIGN, Profile

#: A detached CMS holds signed attributes and a few certificates, never the content: 1 MiB is generous.
MAX_CMS_BYTES = 1024 * 1024
MAX_SIGNERS = 8
_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
_SIGNATURE_OIDS = {alg: algos.SignedDigestAlgorithmId(name).dotted for alg, name in RSA_SIGNATURE_ALGORITHMS.items()}
_SINGLE_VALUED = {"content_type", "message_digest", "signing_time", "signing_certificate_v2",
                  "cms_algorithm_protection"}
#: The keys.signatures hash of each allowed document hash.
SIGNATURE_HASHES = {
    HashAlgorithm.SHA256: signatures.HashAlg.SHA256,
    HashAlgorithm.SHA384: signatures.HashAlg.SHA384,
    HashAlgorithm.SHA512: signatures.HashAlg.SHA512,
}
#: Card signatures over documents: RSASSA-PKCS1-v1_5 with SHA-2, RSA 2048–4096, e = 65537.
DOCUMENT_SIGNATURES = signatures.SignaturePolicy(
    "document signature",
    frozenset(signatures.Suite(signatures.Scheme.RSA_PKCS1V15, h, None) for h in SIGNATURE_HASHES.values()),
    frozenset(),
    reject_roca=False,  # the certificate's key passed the ROCA check in path validation (step 8)
)
#: Revocation of signing certificates: the given CRLs only, a fresh status required.
CRL_ONLY = RevocationPolicy(sources=("crl",))


@dataclass(frozen=True, slots=True)
class VerifiedSigner:
    """One SignerInfo that passed every step."""

    path: ValidatedPath
    hash_algorithm: HashAlgorithm
    #: The message-digest attribute: the digest of the content that was signed.
    digest: bytes
    #: The signing-time attribute (the signer's claim), if present.
    claimed_signing_time: dt.datetime | None
    #: The time the path was validated at (step 8).
    signing_time: dt.datetime
    revocation: RevocationStatus
    #: The signature value (raw PKCS#1 v1.5).
    signature: bytes

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate."""
        return self.path.leaf


@dataclass(frozen=True, slots=True)
class VerifiedCms:
    """A detached CMS every SignerInfo of which verified."""

    signers: tuple[VerifiedSigner, ...]


def verify_detached(
    cms_der: bytes,
    *,
    content: bytes | None = None,
    digest: tuple[HashAlgorithm, bytes] | None = None,
    trust: TrustStore,
    crls: Sequence[bytes],
    at: dt.datetime,
    signing_time: dt.datetime | None = None,
    profile: Profile = JPKI_SIGN,
    policy: RevocationPolicy = CRL_ONLY,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedCms:
    """Verify the detached ``cms_der`` over ``content`` (or over the content whose ``digest`` the caller holds);
    see the module docstring for the steps. ``at`` is the verification time (timezone-aware)."""
    if at.tzinfo is None or (signing_time is not None and signing_time.tzinfo is None):
        raise ValueError("times must be timezone-aware")
    if (content is None) is (digest is None):
        raise ValueError("give either the content or its digest")
    signed_data = _parse(cms_der)
    certificates = _certificates(signed_data, limits)
    revocation_cache: dict[str, list[CrlIndex]] = {}
    signers = []
    for signer_info in signed_data["signer_infos"]:
        signers.append(
            _verify_signer(signer_info, certificates, content, digest, trust, crls, at, signing_time, profile,
                           policy, limits, revocation_cache)
        )
    return VerifiedCms(tuple(signers))


# --- 1. parsing ----------------------------------------------------------------------------------------------------

def _parse(cms_der: bytes) -> cms.SignedData:
    check_size(cms_der, MAX_CMS_BYTES, "CMS")
    try:
        info = cms.ContentInfo.load(cms_der, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedInput(Reason.MALFORMED, "not a SignedData")
        signed_data: cms.SignedData = info["content"]
        encapsulated = signed_data["encap_content_info"]
        if encapsulated["content_type"].native != "data":
            raise MalformedInput(Reason.MALFORMED, "encapsulated content type is not id-data")
        if encapsulated["content"].native is not None:
            raise MalformedInput(Reason.MALFORMED, "not a detached signature: the content is encapsulated")
        count = len(signed_data["signer_infos"])
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"not a CMS SignedData: {_short(exc)}") from None
    if count == 0:
        raise MalformedInput(Reason.MALFORMED, "no SignerInfo")
    if count > MAX_SIGNERS:
        raise LimitExceeded(Reason.TOO_LARGE, f"{count} SignerInfos, limit {MAX_SIGNERS}")
    return signed_data


def _certificates(signed_data: cms.SignedData, limits: Limits) -> list[asn1_x509.Certificate]:
    try:
        choices = list(signed_data["certificates"] or [])
        if len(choices) > limits.chain_length:
            raise LimitExceeded(Reason.TOO_LARGE, f"{len(choices)} certificates, limit {limits.chain_length}")
        found = [c.chosen for c in choices if c.name == "certificate"]
        for certificate in found:
            check_size(certificate.dump(), limits.certificate_bytes, "certificate")
            certificate.native  # noqa: B018 - decode everything now: malformed input fails here
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad certificates: {_short(exc)}") from None
    return found


# --- 2.-9. one SignerInfo ------------------------------------------------------------------------------------------

def _verify_signer(
    signer_info: cms.SignerInfo,
    certificates: list[asn1_x509.Certificate],
    content: bytes | None,
    digest: tuple[HashAlgorithm, bytes] | None,
    trust: TrustStore,
    crls: Sequence[bytes],
    at: dt.datetime,
    signing_time: dt.datetime | None,
    profile: Profile,
    policy: RevocationPolicy,
    limits: Limits,
    revocation_cache: dict[str, list[CrlIndex]],
) -> VerifiedSigner:
    try:
        certificate = _signer_certificate(signer_info, certificates)
        alg = _algorithms(signer_info)
        signed_attributes, attributes = _signed_attributes(signer_info)
        signature = signer_info["signature"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad SignerInfo: {_short(exc)}") from None
    message_digest = attributes.get("message_digest")
    if not isinstance(message_digest, bytes) or len(message_digest) != alg.digest_size:
        raise MalformedInput(Reason.MALFORMED, "message-digest is not a digest of the digest algorithm")

    # 5. the content
    if digest is not None:
        if digest[0] is not alg:
            raise InvalidSignature(Reason.DIGEST_MISMATCH, f"signed with {alg.value}, the digest given is {digest[0]}")
        expected = digest[1]
    else:
        assert content is not None
        expected = alg.hash(content)
    if not hmac.compare_digest(expected, message_digest):
        raise InvalidSignature(Reason.DIGEST_MISMATCH, "message-digest differs from the digest of the content")

    # 6. signing-certificate-v2 names the certificate
    _check_signing_certificate(attributes, certificate)

    # 7. the signature over the DER SET
    path_input = parse_certificate(certificate.dump(), limits)
    try:
        key = path_input.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise MalformedInput(Reason.MALFORMED, f"unreadable public key: {_short(exc)}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "the signer's key is not an RSA key")
    params = signatures.SigParams(signatures.Scheme.RSA_PKCS1V15, SIGNATURE_HASHES[alg])
    signatures.verify_signature(key, signature, signed_attributes, alg=params, policy=DOCUMENT_SIGNATURES)

    # 8. the path at the signing time
    claimed = attributes.get("signing_time")
    if not isinstance(claimed, dt.datetime | None):
        raise MalformedInput(Reason.MALFORMED, "signing-time is not a time")
    if claimed is not None and claimed > at + DEFAULT_SKEW:
        raise InvalidSignature(Reason.SIGNED_IN_FUTURE, f"signing-time {claimed:%Y-%m-%dT%H:%M:%SZ} is after {at}")
    when = signing_time or claimed or at
    path, status = validate_signer(path_input, trust=trust, crls=crls, at=at, signing_time=when, profile=profile,
                                   policy=policy, limits=limits, cache=revocation_cache)
    return VerifiedSigner(path, alg, message_digest, claimed, when, status, signature)


def validate_signer(
    certificate: x509.Certificate,
    *,
    trust: TrustStore,
    crls: Sequence[bytes],
    at: dt.datetime,
    signing_time: dt.datetime,
    profile: Profile = JPKI_SIGN,
    policy: RevocationPolicy = CRL_ONLY,
    limits: Limits = DEFAULT_LIMITS,
    cache: dict[str, list[CrlIndex]] | None = None,
) -> tuple[ValidatedPath, RevocationStatus]:
    """Steps 8 and 9 for a signer's certificate: its path at ``signing_time``, its revocation at ``at``. Also for
    raw card signatures kept without a CMS (:mod:`docsign.record`)."""
    path = validate_path(certificate, profile=profile, trust=trust, at=signing_time, limits=limits)
    return path, _revocation(path, crls, at, policy, limits, {} if cache is None else cache)


def _signer_certificate(
    signer_info: cms.SignerInfo, certificates: list[asn1_x509.Certificate]
) -> asn1_x509.Certificate:
    sid = signer_info["sid"]
    version = signer_info["version"].native
    if sid.name == "issuer_and_serial_number":
        if version != "v1":
            raise MalformedInput(Reason.MALFORMED, "SignerInfo with issuerAndSerialNumber must be version 1")
        issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
        matches = [c for c in certificates if c.issuer == issuer and c.serial_number == serial]
    else:
        if version != "v3":
            raise MalformedInput(Reason.MALFORMED, "SignerInfo with subjectKeyIdentifier must be version 3")
        key_id = sid.chosen.native
        matches = [c for c in certificates if c.key_identifier == key_id]
    if len(matches) != 1:
        what = "no certificate" if not matches else "several certificates"
        raise VerificationError(Reason.UNKNOWN_SIGNER, f"the SignerIdentifier names {what} in the message")
    return matches[0]


def _algorithms(signer_info: cms.SignerInfo) -> HashAlgorithm:
    digest_algorithm = signer_info["digest_algorithm"]
    alg = hash_algorithm_by_oid(digest_algorithm["algorithm"].dotted)
    _check_null_or_absent(digest_algorithm["parameters"], "digestAlgorithm")
    signature_algorithm = signer_info["signature_algorithm"]
    oid = signature_algorithm["algorithm"].dotted
    if oid not in (_RSA_ENCRYPTION, _SIGNATURE_OIDS[alg]):
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"signature algorithm {oid} with {alg.value}")
    _check_null_or_absent(signature_algorithm["parameters"], "signatureAlgorithm")
    return alg


def _check_null_or_absent(parameters: object, what: str) -> None:
    if getattr(parameters, "native", None) is not None:
        raise MalformedInput(Reason.MALFORMED, f"{what} parameters must be NULL or absent")


def _signed_attributes(signer_info: cms.SignerInfo) -> tuple[bytes, dict[str, object]]:
    """The DER SET the signature covers (the ``[0]`` contents re-tagged 0x31, RFC 5652 §5.4) and the attributes
    by name (single-valued ones as their value)."""
    tagged = signer_info["signed_attrs"]
    if not tagged.contents:
        raise VerificationError(Reason.MISSING_ATTRIBUTE, "no signed attributes")
    encoded: bytes = tagged.untag().dump()
    parsed = cms.CMSAttributes.load(encoded, strict=True)
    if parsed.dump(force=True) != encoded:
        raise MalformedInput(Reason.MALFORMED, "signed attributes are not DER")
    attributes: dict[str, object] = {}
    for attribute in parsed:
        name = attribute["type"].native
        if name in attributes:
            raise MalformedInput(Reason.MALFORMED, f"signed attribute {name} appears twice")
        values = attribute["values"]
        if name in _SINGLE_VALUED:
            if len(values) != 1:
                raise MalformedInput(Reason.MALFORMED, f"signed attribute {name} must have exactly one value")
            attributes[name] = values[0] if name in ("signing_certificate_v2", "cms_algorithm_protection") \
                else values[0].native
        else:
            attributes[name] = values
    for required in ("content_type", "message_digest", "signing_certificate_v2"):
        if required not in attributes:
            raise VerificationError(Reason.MISSING_ATTRIBUTE, f"signed attribute {required} is missing")
    if attributes["content_type"] != "data":
        raise MalformedInput(Reason.MALFORMED, "content-type attribute differs from the encapsulated type")
    protection = attributes.get("cms_algorithm_protection")
    if isinstance(protection, cms.CMSAlgorithmProtection):
        _check_algorithm_protection(protection, signer_info)
    return encoded, attributes


def _check_algorithm_protection(protection: cms.CMSAlgorithmProtection, signer_info: cms.SignerInfo) -> None:
    """RFC 6211 §2: the protected algorithms are the SignerInfo's."""
    if protection["digest_algorithm"]["algorithm"].dotted != signer_info["digest_algorithm"]["algorithm"].dotted or (
        protection["signature_algorithm"]["algorithm"].dotted
        != signer_info["signature_algorithm"]["algorithm"].dotted
    ):
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "cms-algorithm-protection names other algorithms")


def _check_signing_certificate(attributes: dict[str, object], certificate: asn1_x509.Certificate) -> None:
    value = attributes["signing_certificate_v2"]
    try:
        assert isinstance(value, tsp.SigningCertificateV2)
        first = value["certs"][0]
        alg = hash_algorithm_by_oid(first["hash_algorithm"]["algorithm"].dotted)
        cert_hash = first["cert_hash"].native
        issuer_serial = first["issuer_serial"]
        names = [] if issuer_serial.native is None else [n.chosen for n in issuer_serial["issuer"]
                                                         if n.name == "directory_name"]
        serial = None if issuer_serial.native is None else issuer_serial["serial_number"].native
    except (ValueError, TypeError, KeyError, IndexError, AssertionError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad signing-certificate-v2: {_short(exc)}") from None
    if not hmac.compare_digest(cert_hash, alg.hash(certificate.dump())):
        raise VerificationError(Reason.CERTIFICATE_MISMATCH, "signing-certificate-v2 names another certificate")
    if issuer_serial.native is not None and (
        serial != certificate.serial_number or not any(n == certificate.issuer for n in names)
    ):
        raise VerificationError(Reason.CERTIFICATE_MISMATCH, "signing-certificate-v2 names another issuer or serial")


def _revocation(
    path: ValidatedPath,
    crls: Sequence[bytes],
    at: dt.datetime,
    policy: RevocationPolicy,
    limits: Limits,
    cache: dict[str, list[CrlIndex]],
) -> RevocationStatus:
    """The path's leaf status at ``at`` from the CRLs issued by its root (CRLs of other roots are skipped)."""
    issuer = path.issuer
    key = fingerprint(issuer)
    if key not in cache:
        indexes: list[CrlIndex] = []
        failures: list[tuple[Source, VerificationError]] = []
        for data in crls:
            try:
                indexes.append(load_crl(data, issuer=issuer, at=at, skew=policy.skew, limits=limits))
            except RevocationUnavailable as exc:
                if exc.reason is not Reason.REVOCATION_SCOPE:
                    failures.append(("crl", exc))
        if not indexes:
            raise NoFreshStatus(tuple(failures))
        cache[key] = indexes
    status = check_revocation(path.leaf, issuer, at=at, policy=policy, crls=cache[key])
    if not isinstance(status, RevocationStatus):  # Unchecked: only under a policy that does not require a status
        raise NoFreshStatus(status.failures)
    return status


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
