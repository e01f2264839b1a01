"""Credentials follow their signing certificate: when J-LIS revokes the certificate (a basic fact changed, the
card was lost), every credential derived from it becomes INVALID in its Token Status List — automatically.

The revocation source is the one card login uses: the authenticated CRLs of ``card_login.crl_dir``
(:class:`idp.login.verifier.CrlDirectory`). :class:`RevocationView` maps each CRL's serials to certificate
references once per CRL (:mod:`idp.vci.references`; about a second for a million entries, in a worker thread)
and answers two questions:

* at issuance, :meth:`RevocationView.verdict` for one certificate: ``revoked`` (the issuance is denied),
  ``good`` (a fresh CRL of its issuer does not list it), or ``unknown`` (no fresh CRL of that issuer: the
  issuance is deferred until there is one — OpenID4VCI 1.0 §8.3's deferred flow for slow revocation data);
* in :func:`sweep`, run every ``credentials.revocation_check_interval`` by each worker: which certificates behind
  live credentials or pending datasets any loaded CRL lists; those credentials become INVALID, those datasets
  are denied and their facts deleted (:meth:`idp.storage.credentials.CredentialStore.revoke_references`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import anyio.to_thread

from idp.login.verifier import NotConfigured, verifier_for
from idp.settings import Settings
from idp.storage.credentials import CredentialStore
from idp.vci.references import TEST_ISSUER, crl_issuer_id, crl_references, issuer_digest
from keys.revocation.crl import CrlIndex

_log = logging.getLogger("idp.vci.revocation")
#: How far a CRL's thisUpdate may be ahead of our clock.
_SKEW: Final = dt.timedelta(minutes=5)

Verdict = Literal["good", "revoked", "unknown"]


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did: CRLs looked at, credentials revoked, datasets denied."""

    crls: int
    revoked: int
    denied: int


def _identity(index: CrlIndex) -> tuple[bytes, int, dt.datetime]:
    return crl_issuer_id(index), index.crl_number, index.this_update


class RevocationView:
    """Certificate references revoked by the loaded CRLs, computed once per CRL (per process)."""

    def __init__(self, key: bytes, *, test_mode: bool) -> None:
        self._key = key
        self._test_mode = test_mode
        self._revoked: dict[tuple[bytes, int, dt.datetime], frozenset[str]] = {}

    async def crls(self, settings: Settings, at: dt.datetime) -> tuple[CrlIndex, ...]:
        """The authenticated CRLs of the card-login configuration (none when card login is not configured or
        relies on an online source only: then only issuance-time answers protect credentials)."""
        try:
            verifier = verifier_for(settings)
        except NotConfigured:
            return ()
        if verifier.crls is None:
            return ()
        return await anyio.to_thread.run_sync(verifier.crls.indexes, at)

    async def _references(self, crls: Sequence[CrlIndex]) -> dict[tuple[bytes, int, dt.datetime], frozenset[str]]:
        wanted = {_identity(i): i for i in crls}
        for identity, index in wanted.items():
            if identity not in self._revoked:
                self._revoked[identity] = await anyio.to_thread.run_sync(crl_references, self._key, index)
        self._revoked = {k: v for k, v in self._revoked.items() if k in wanted}
        return self._revoked

    async def verdict(self, issuer: str, ref: str, crls: Sequence[CrlIndex], at: dt.datetime) -> Verdict:
        """The certificate's status for issuance (see the module docstring)."""
        if issuer == TEST_ISSUER:
            return "good" if self._test_mode else "unknown"
        revoked = await self._references(crls)
        matching = [i for i in crls if issuer_digest(crl_issuer_id(i)) == issuer]
        if any(ref in revoked[_identity(i)] for i in matching):
            return "revoked"
        fresh = [i for i in matching if i.this_update <= at + _SKEW and (i.next_update is None or at < i.next_update)]
        return "good" if fresh else "unknown"

    async def revoked(self, crls: Sequence[CrlIndex]) -> frozenset[str]:
        """Every reference any of ``crls`` revokes."""
        return frozenset().union(*(await self._references(crls)).values())


async def sweep(view: RevocationView, store: CredentialStore, settings: Settings, now: dt.datetime) -> SweepReport:
    """Revoke the credentials (and deny the datasets) of every certificate the CRLs list."""
    crls = await view.crls(settings, now)
    if not crls:
        return SweepReport(0, 0, 0)
    hits = (await store.active_references(now)) & await view.revoked(crls)
    revoked, denied = await store.revoke_references(sorted(hits)) if hits else (0, 0)
    if hits:
        _log.warning("credentials_revoked_with_certificate", extra={"certificates": len(hits), "credentials": revoked,
                                                                    "datasets": denied})
    return SweepReport(len(crls), revoked, denied)


__all__ = ["RevocationView", "SweepReport", "Verdict", "sweep"]
