"""The certificates of the credential signing keys (column ``certificate`` of ``credential_signing_keys``; the key
rows themselves are a :class:`idp.storage.signing_keys.SqlKeyStore`).

The issuing CA certifies each key once; when workers race to do it, the first certificate stored is the one every
worker uses (one conditional ``UPDATE … WHERE certificate IS NULL``)::

    certificates = KeyCertificateStore(db)
    der = await certificates.key_certificate(kid)
    if der is None:
        der = await certificates.offer_key_certificate(kid, made_der)   # ours, or the one stored first
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import bindparam, select, update

from idp.storage.tables import credential_signing_keys
from servicekit.database import Database

_KEYS = credential_signing_keys.c
_FIND: Final = select(_KEYS.certificate).where(_KEYS.kid == bindparam("b_kid"))
_OFFER: Final = (update(credential_signing_keys).where(_KEYS.kid == bindparam("b_kid"), _KEYS.certificate.is_(None))
                 .values(certificate=bindparam("der")))


class KeyCertificateStore:
    """The credential signing keys' certificates, shared by every worker."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def key_certificate(self, kid: str) -> bytes | None:
        """The certificate (DER) of a credential signing key, once made."""
        async with self._db.connection() as conn:
            value = (await conn.execute(_FIND, {"b_kid": kid})).scalar_one_or_none()
        return None if value is None else bytes(value)

    async def offer_key_certificate(self, kid: str, der: bytes) -> bytes | None:
        """Store ``der`` unless the key has a certificate already; the certificate every worker will use
        (``None``: no such key)."""
        async with self._db.connection() as conn:
            await conn.execute(_OFFER, {"b_kid": kid, "der": der})
        return await self.key_certificate(kid)


__all__ = ["KeyCertificateStore"]
