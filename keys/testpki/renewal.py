"""Renewals in the test PKI: J-LIS's certificate link (証明書紐付け) as the stand-in platform operator reads it.

A renewed test card is a new card issued for the same holder (:meth:`keys.testpki.TestPki.issue_card`, or
:func:`cardreader.virtual.profile.create_profile`); :func:`record_renewal` writes the link from its old certificate
to the new one into ``renewals.json`` of a directory, keyed by the NEW certificate's SHA-256 (what a provider asks
about), with the old certificate's public key and purpose (what the answer carries: :mod:`keys.revocation.certlink`)::

    record_renewal(pki_dir, old_auth_der, new_auth_der, Purpose.AUTH)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys.jose.b64 import b64url_encode
from keys.x509.profile import Purpose

RENEWALS_FILE = "renewals.json"


def record_renewal(directory: Path, old: bytes, new: bytes, purpose: Purpose) -> Path:
    """Record that certificate ``new`` (DER) renewed ``old`` (DER); return the file."""
    path = directory / RENEWALS_FILE
    links = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    spki = x509.load_der_x509_certificate(old).public_key().public_bytes(Encoding.DER,
                                                                       PublicFormat.SubjectPublicKeyInfo)
    links[hashlib.sha256(new).hexdigest()] = {"public_key": b64url_encode(spki), "purpose": purpose.value}
    path.write_text(json.dumps(links, indent=1), encoding="utf-8")
    return path


def previous_of(directory: Path, new_sha256: str) -> dict[str, str] | None:
    """The link recorded for the certificate with SHA-256 ``new_sha256`` (the answer's ``previous``), if any."""
    path = directory / RENEWALS_FILE
    if not path.exists():
        return None
    found = json.loads(path.read_text(encoding="utf-8")).get(new_sha256)
    return None if found is None else {"public_key": str(found["public_key"]), "purpose": str(found["purpose"])}


__all__ = ["RENEWALS_FILE", "previous_of", "record_renewal"]
