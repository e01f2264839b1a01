"""A software stand-in for the card's document signing, built from :mod:`keys.cms` and the virtual card's own
RSASSA-PKCS1-v1_5 (the host builds the DigestInfo, the card pads and exponentiates), plus the independent
verifiers the CMS tests run: ``openssl cms -verify`` and pyHanko's detached-CMS validator."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from cardreader.virtual.card import rsa_pkcs1_sign
from keys.cms.digest_info import HashAlgorithm
from keys.cms.signed_attributes import Profile, build_signed_attributes, to_be_signed_digest_info
from keys.cms.signed_data import assemble_detached


@dataclass(frozen=True)
class SoftwareCard:
    """The signing key and certificate of a test card, signing as the card does."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        """COMPUTE DIGITAL SIGNATURE: PKCS#1 v1.5 padding of the host's DigestInfo, then the private operation."""
        return rsa_pkcs1_sign(self.key, digest_info)

    def cms_for_digest(
        self, alg: HashAlgorithm, digest: bytes, *, profile: Profile = Profile.CADES_BES,
        signing_time: dt.datetime | None = None,
    ) -> bytes:
        """The detached CMS the provider returns for ``digest``."""
        attrs = build_signed_attributes(alg, digest, self.certificate_der, profile=profile, signing_time=signing_time)
        return assemble_detached(alg, attrs, self.sign_digest_info(to_be_signed_digest_info(alg, attrs)),
                                 self.certificate_der)

    def sign_cades(self, document: bytes, at: dt.datetime, alg: HashAlgorithm = HashAlgorithm.SHA256) -> bytes:
        """A CAdES-BES detached CMS over ``document`` signed at ``at``."""
        return self.cms_for_digest(alg, alg.hash(document), signing_time=at)


def openssl_verifies(tmp: Path, document: bytes, cms_der: bytes, root: x509.Certificate) -> bool:
    """``openssl cms -verify`` of a detached signature against ``root`` only (``-purpose any``: the JPKI signing
    certificate has no EKU, and openssl's default S/MIME purpose wants emailProtection)."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is a test dependency"
    (tmp / "doc").write_bytes(document)
    (tmp / "sig.p7s").write_bytes(cms_der)
    (tmp / "root.pem").write_bytes(root.public_bytes(Encoding.PEM))
    result = subprocess.run(
        [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp / "sig.p7s"), "-content",
         str(tmp / "doc"), "-CAfile", str(tmp / "root.pem"), "-purpose", "any", "-out", "/dev/null"],
        capture_output=True, check=False, timeout=60,
    )
    return result.returncode == 0


def pyhanko_verdict(
    document: bytes, cms_der: bytes, root: x509.Certificate, crl: bytes, at: dt.datetime
) -> tuple[bool, bool, bool]:
    """pyHanko's ``(intact, trusted, revoked)`` for a detached CMS at ``at``, with ``root`` and ``crl`` only,
    hard-fail."""
    from pyhanko.sign.validation import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))], crls=[crl],
        allow_fetching=False, revocation_mode="hard-fail", moment=at,
    )
    signed_data = cms.ContentInfo.load(cms_der)["content"]
    status = asyncio.run(async_validate_detached_cms(document, signed_data, signer_validation_context=context))
    return bool(status.intact and status.valid), bool(status.trusted), bool(status.revoked)
