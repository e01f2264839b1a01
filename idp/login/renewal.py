"""Renewal link: a renewed card's first login continues the old account (same ``sub`` at every client).

With a platform operator (``card_login.platform_url``), a login by a key that is in no account yet asks the
operator for J-LIS's certificate link (:meth:`idp.login.platform.HttpPlatformOperator.previous_key`,
:mod:`keys.revocation.certlink`): when the certificate renewed another one, the new key joins the account of the
old key (:meth:`idp.login.accounts.Accounts.link`, ``via="operator"``). A key the operator links to nothing is
not asked about again for :data:`NO_LINK_TTL` (kind ``CertificateLinkChecked``, id the key id, no payload). An
answer that is forged, about another certificate or stale, or no answer, fails the login closed
(:class:`RenewalLinkUnavailable`): a silent new account would split the person in two, which is what this avoids.

Without an operator, the consent path: a "link" login (:mod:`idp.login.link`) in which the still-valid old
certificate and the new card sign one challenge joins them the same way (see README "Account model").
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import anyio.to_thread

from idp.login.accounts import Accounts
from idp.login.verifier import CardVerifier
from idp.runtime import Services
from idp.storage.audit import record
from keys.cardlogin import CardLogin
from keys.errors import VerificationError

CHECKED_KIND: Final = "CertificateLinkChecked"
#: How long a key the operator linked to nothing is not asked about again (J-LIS links a renewal when it is issued).
NO_LINK_TTL: Final = dt.timedelta(days=1)


class RenewalLinkUnavailable(Exception):
    """No usable certificate-link answer; ``reason`` is the verification reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def account_for(services: Services, verifier: CardVerifier, verified: CardLogin, certificate: bytes,
                      now: dt.datetime) -> str:
    """The account the verified login reaches: the key's own or linked account, or (renewal) its predecessor's."""
    accounts = Accounts(services.objects)
    entry = await accounts.of(verified.account_id, now)
    operator = verifier.platform
    if entry.linked or operator is None:
        return entry.account_id
    if await services.objects.find(CHECKED_KIND, verified.account_id, now=now) is not None:
        return entry.account_id
    try:
        previous = await anyio.to_thread.run_sync(
            lambda: operator.previous_key(certificate, verified.key, at=now))
    except VerificationError as exc:
        raise RenewalLinkUnavailable(exc.reason.value) from None
    if previous is None:
        await services.objects.upsert(CHECKED_KIND, verified.account_id, {}, now + NO_LINK_TTL)
        return entry.account_id
    account = await accounts.link(previous, verified.account_id, now, via="operator")
    await record(services, "card_link", now, outcome="success", account=account, via="operator")
    return account


__all__ = ["CHECKED_KIND", "NO_LINK_TTL", "RenewalLinkUnavailable", "account_for"]
