"""Consent: what a person lets a client have, claim by claim, and which claim values are released.

The claims a request asks for (scope values and the ``claims`` parameter, :meth:`AuthorizationRequest.
requested_claims`) that the login can actually give are *asked*; the person approves each one or not on the
consent page, and only approved claims are released (:func:`release`), each to the target it was requested for
(UserInfo, or the ID token: OIDC Core §5.4, §5.5; or, for credential configurations, ``credential``, which
:func:`idp.oauth.authorization_response.issue_code` hands to the issuer and keeps out of the grant). Claims values
come only from the login that just happened, never from a stored profile, so personal data are not kept beyond
the interaction and the grant.

Decisions are remembered per account and client (objects of kind ``Consent`` for ``authorization.consent_ttl``,
keyed by a hash of both, no claim values): the scope values agreed to, the claims asked and the claims approved.
A later request needs the consent page again when it asks for more (a new scope value or claim), or with
``prompt=consent``; ``offline_access`` is only ever granted with ``prompt=consent`` (OIDC Core §11), so always
on the page.

``verified_claims`` (OpenID Connect for Identity Assurance 1.0, :mod:`idp.oauth.verified_claims`) is asked as one
item (the evidence: which certificate, its validity check) and each end-user claim it names as the plain claim of
that name: releasing ``name`` lets it appear in both places, refusing it keeps it out of both (IDA §5.6.2).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from idp.oauth import verified_claims
from idp.oauth.authorization_request.claims import ClaimRequest
from idp.oauth.authorization_request.request import AuthorizationRequest
from idp.runtime import Services

CONSENT_KIND: Final = "Consent"
#: The claims a login can give and a person may release (a card's signing certificate gives these;
#: idp.login.claims), in the order the consent page lists them.
RELEASABLE_CLAIMS: Final = ("name", "birthdate", "gender", "address", "age_over_18", "age_over_20",
                             verified_claims.VERIFIED_CLAIMS)


@dataclass(frozen=True, slots=True)
class Consent:
    """A remembered decision of an account about a client."""

    scopes: frozenset[str]
    asked: frozenset[str]
    approved: frozenset[str]


def _consent_id(account_id: str, client_id: str) -> str:
    return hashlib.sha256(f"{account_id}\x00{client_id}".encode()).hexdigest()


async def remembered(services: Services, account_id: str, client_id: str, now: dt.datetime) -> Consent | None:
    """What ``account_id`` decided about ``client_id`` before, if it is still remembered."""
    stored = await services.objects.find(CONSENT_KIND, _consent_id(account_id, client_id), now=now)
    if stored is None:
        return None
    payload = stored.payload
    return Consent(frozenset(payload.get("scopes") or ()), frozenset(payload.get("asked") or ()),
                   frozenset(payload.get("approved") or ()))


async def remember(services: Services, account_id: str, client_id: str, *, scopes: Iterable[str],
                   asked: Collection[str], approved: Collection[str], now: dt.datetime) -> None:
    """Record a decision: the scope values agreed to and, for each asked claim, whether it was approved (earlier
    decisions about claims not asked this time stay)."""
    before = await remembered(services, account_id, client_id, now) or Consent(frozenset(), frozenset(), frozenset())
    payload = {"client_id": client_id,
               "scopes": sorted(before.scopes | set(scopes)),
               "asked": sorted(before.asked | set(asked)),
               "approved": sorted((before.approved - set(asked)) | (set(approved) & set(asked)))}
    expires_at = now + dt.timedelta(seconds=services.settings.authorization.consent_ttl)
    await services.objects.upsert(CONSENT_KIND, _consent_id(account_id, client_id), payload, expires_at)


def askable(request: AuthorizationRequest, available: Mapping[str, Any]) -> tuple[str, ...]:
    """The requested claims the login can give (``available``), in page order: the ones to ask about."""
    requested = request.requested_claims()
    names = [nested for members in requested.values() for name, claim in members.items()
             for nested in (name, *_nested_names(claim))]
    ordered = [n for n in RELEASABLE_CLAIMS if n in names] + sorted(set(names) - set(RELEASABLE_CLAIMS))
    return tuple(n for n in dict.fromkeys(ordered) if n in available)


def _nested_names(claim: ClaimRequest) -> tuple[str, ...]:
    """The end-user claims a structured request (``verified_claims``) names."""
    return () if claim.query is None else verified_claims.requested_claim_names(claim.query)


def essential(request: AuthorizationRequest) -> frozenset[str]:
    """The claims the client marked essential (OIDC Core §5.5.1); shown pre-approved on the consent page."""
    return frozenset(name for members in request.requested_claims().values()
                     for name, claim in members.items() if claim.essential)


def consent_needed(request: AuthorizationRequest, available: Mapping[str, Any], before: Consent | None) -> bool:
    """Whether the person must be asked: ``prompt=consent``, nothing remembered, something new asked for, or
    claims for a credential (each issuance puts facts into a new credential: always asked)."""
    if "consent" in request.prompt or before is None or request.credential_requests:
        return True
    return not (set(request.scope) <= before.scopes and set(askable(request, available)) <= before.asked)


def approved_before(request: AuthorizationRequest, available: Mapping[str, Any], before: Consent) -> frozenset[str]:
    """The claims of this request that remembered decisions approve."""
    return frozenset(askable(request, available)) & before.approved


def release(request: AuthorizationRequest, available: Mapping[str, Any], approved: Collection[str], *,
            now: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
    """The claim values released, per target (``id_token``, ``userinfo``): requested there, given by the login,
    and approved by the person. Nothing else, ever. ``verified_claims`` is built for its request at ``now``
    (:func:`idp.oauth.verified_claims.answer`), and left out when nothing in it can be answered."""
    at = now or dt.datetime.now(dt.UTC)
    released: dict[str, dict[str, Any]] = {}
    for target, members in request.requested_claims().items():
        values = released[target] = {}
        for name, claim in members.items():
            if name not in approved or name not in available:
                continue
            if claim.query is None:
                values[name] = available[name]
            elif (answered := verified_claims.answer(claim.query, available[name], available, approved, at)):
                values[name] = answered
    return released


__all__ = ["CONSENT_KIND", "RELEASABLE_CLAIMS", "Consent", "approved_before", "askable", "consent_needed",
           "essential", "release", "remember", "remembered"]
