"""The in-card link at the provider: a "link" card login carries the card's OTHER key's signature over the same
challenge; both are verified, judged (:func:`keys.cardlink.check_link`) and recorded
(:class:`idp.login.accounts.Accounts`).

The response of a link login (``POST /card-login/response``) carries, next to the login's own certificate and
signature, ``"link": {"certificate", "signature"}`` (base64url) made by the other key over the message with the
SAME challenge (:func:`keys.cardlink.link_messages`). The authentication key's account is the one kept (the
person's everyday login) and the signing key joins it; a signing key that is part of an account already is
refused (``key_already_linked``), so two accounts are never merged by a login. The
signing certificate's evidence (issuer DN, serial, when, which revocation answer; no certificate, no facts) is
recorded on the account for ``verified_claims`` at later logins (:mod:`idp.login.assurance`).

A renewal login (``link`` kind ``renewal``, the consent path of :mod:`idp.login.renewal` for deployments without a
platform operator) carries the OLD card's signature with the same kind of key over the same challenge as ``link``
and the renewed card's as the login: both certificates valid and unrevoked now, the renewed key joins the old
key's account (``via="consent"``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import anyio.to_thread

from idp.login.accounts import Accounts
from idp.login.assurance import signature_evidence
from idp.login.audit import revocation_fields
from idp.login.verifier import CardVerifier
from idp.runtime import Services
from keys.cardlink import check_link
from keys.cardlogin import CardLogin, LoginMessage
from keys.x509.profile import Purpose


@dataclasses.dataclass(frozen=True, slots=True)
class LinkEvidence:
    """The other key's certificate and signature (DER, raw)."""

    certificate: bytes
    signature: bytes


async def verify_other(services: Services, verifier: CardVerifier, evidence: LinkEvidence, expected: LoginMessage,
                       now: dt.datetime, max_age: dt.timedelta, *, same_key: bool = False) -> CardLogin:
    """Verify the other key's signature over ``expected`` (same challenge, same checks): with the card's other
    key, or (``same_key``: a renewal) with the same kind of key of the other card."""
    other = expected if same_key else dataclasses.replace(
        expected, key=Purpose.SIGN if expected.key is Purpose.AUTH else Purpose.AUTH)
    platform = await verifier.platform_status(services.objects, evidence.certificate, other.key, now)
    return await anyio.to_thread.run_sync(
        lambda: verifier.verify(evidence.certificate, evidence.signature, other, now, max_age, platform=platform))


async def record_link(services: Services, verifier: CardVerifier, primary: CardLogin, primary_certificate: bytes,
                      other: CardLogin, other_certificate: bytes, signed_at: dt.datetime, now: dt.datetime, *,
                      renewal: bool = False) -> str:
    """Judge and record the link of ``primary`` and ``other`` (verified over one challenge); return the account id.
    Raises :class:`keys.errors.VerificationError` or :class:`idp.login.accounts.LinkRefused` (nothing
    recorded). A renewal (the consent path without an operator) joins the renewed key (the certificate that ends
    later) to the old key's account."""
    check_link(primary, other)
    if renewal:  # the old card is the one whose certificate ends first, whichever the person read first
        old, new = sorted((other, primary), key=lambda login: login.certificate_not_after)
        return await Accounts(services.objects).link(old.account_id, new.account_id, now, via="consent")
    auth, sign = (primary, other) if primary.key is Purpose.AUTH else (other, primary)
    sign_certificate = primary_certificate if primary.key is Purpose.SIGN else other_certificate
    evidence: dict[str, Any] = signature_evidence(
        sign_certificate, revocation_fields(services.settings, verifier, sign_certificate, sign.revocation, now),
        signed_at=signed_at, verified_at=now)
    return await Accounts(services.objects).link(auth.account_id, sign.account_id, now, via="card",
                                                 assurance=evidence)


__all__ = ["LinkEvidence", "record_link", "verify_other"]
