"""The credential signing keys: a :class:`~keys.service.keyset.Keyset` of their own (ES256, rotated, software or
PKCS#11 like the provider's keys, table ``credential_signing_keys``), each key with the certificate the issuing
CA made for it (:mod:`idp.vci.ca`).

A key's certificate is made the first time the key signs and stored with it; the first worker to store one
wins, so every worker signs with the same chain. It is valid until the last credential the key can sign has
expired: activation + rotation interval + publish lead + the longest credential lifetime. The same key and
chain sign the Status List Tokens (HAIP 1.0: x5c-signed status lists).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from credentials.oid4vci.issuance import IssuerKey
from idp.settings import Settings
from idp.signing import key_backends, load_keks
from idp.storage.credentials import KeyCertificateStore
from idp.storage.signing_keys import SqlKeyStore
from idp.storage.tables import credential_signing_keys
from idp.vci.ca import IssuingCa
from keys.jose.jwk import VerificationKey
from keys.service.keyset import Keyset
from keys.service.rotation import RotationPolicy
from servicekit.database import Database

ALG: Final = "ES256"


def longest_lifetime(settings: Settings) -> dt.timedelta:
    """The longest lifetime a credential can have."""
    return dt.timedelta(seconds=max(settings.credentials.age_lifetime, settings.credentials.basic_lifetime))


def rotation_policy(settings: Settings) -> RotationPolicy:
    """Credential keys stay in the JWT VC Issuer Metadata until their last credential has expired."""
    options = settings.credentials
    return RotationPolicy(interval=dt.timedelta(seconds=options.key_rotation_interval),
                          publish_lead=dt.timedelta(seconds=options.key_publish_lead),
                          retention=longest_lifetime(settings) + dt.timedelta(seconds=settings.tokens.clock_tolerance))


def build_credential_keyset(settings: Settings, db: Database) -> Keyset:
    """The keyset over ``credential_signing_keys``."""
    backend = settings.credentials.key_backend or settings.keys.backend
    return Keyset(SqlKeyStore(db, credential_signing_keys), keks=load_keks(settings),
                  backends=key_backends(settings, backend), generate_with=backend, algorithms=(ALG,),
                  policy=rotation_policy(settings), cache_ttl=dt.timedelta(seconds=settings.keys.cache_ttl))


class CredentialKeys:
    """The current credential signing key with its chain, and the published keys."""

    def __init__(self, keyset: Keyset, store: KeyCertificateStore, ca: IssuingCa, settings: Settings) -> None:
        self.keyset = keyset
        self.ca = ca
        self._store = store
        self._settings = settings
        self._certificates: dict[str, x509.Certificate] = {}

    async def current(self, now: dt.datetime) -> IssuerKey:
        """The key that signs at ``now`` and its ``x5c`` chain (leaf, issuing CA, intermediates)."""
        signer = await self.keyset.signer(ALG, now)
        return IssuerKey(signer, (await self._certificate(signer.kid, now), *self.ca.chain))

    async def _certificate(self, kid: str, now: dt.datetime) -> x509.Certificate:
        cached = self._certificates.get(kid)
        if cached is not None:
            return cached
        der = await self._store.key_certificate(kid)
        if der is None:
            key = next(k for k in await self.keyset.keys(now) if k.kid == kid)
            public = VerificationKey.from_jwk(key.public_jwk).key
            if not isinstance(public, ec.EllipticCurvePublicKey):
                raise TypeError("credential signing keys are P-256 keys")
            options = self._settings.credentials
            signs_for = dt.timedelta(seconds=options.key_rotation_interval + options.key_publish_lead)
            not_after = key.activate_at + signs_for + longest_lifetime(self._settings) + dt.timedelta(days=1)
            made = self.ca.certify(public, kid=kid, not_before=key.created_at, not_after=not_after)
            der = await self._store.offer_key_certificate(kid, made.public_bytes(Encoding.DER))
            if der is None:
                raise LookupError(f"credential signing key {kid} disappeared")
        certificate = self._certificates[kid] = x509.load_der_x509_certificate(der)
        return certificate

    async def jwks(self, now: dt.datetime) -> dict[str, list[dict[str, str]]]:
        """The published credential signing keys (JWT VC Issuer Metadata)."""
        return await self.keyset.jwks(now)

__all__ = ["ALG", "CredentialKeys", "build_credential_keyset", "longest_lifetime", "rotation_policy"]
