"""Relying-party side of the Token Status List (draft-ietf-oauth-status-list §6.2, §8.3, §13.6): the status of one
Referenced Token.

:class:`StatusChecker` is pure: the caller supplies the fetcher (``uri -> Status List Token``; the HTTP GET is the
service's job) and the time. Verified tokens are cached per URI and reused while fresh: until ``fetched_at + ttl``
(§8.3 step 4.4), never past ``exp``, and never longer than ``max_cache_age`` (also the lifetime when ``ttl`` is
absent). Any failure to fetch, verify or read the list is :class:`~credentials.errors.StatusUnavailable`: no
statement about the status can be made, so the credential is rejected (fail closed, §8.3).

:meth:`StatusChecker.check` passes only for VALID; INVALID is ``status_invalid``, SUSPENDED ``status_suspended``,
any other value (application specific or unregistered, §7.1) ``status_not_valid``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from credentials.errors import (
    CredentialError,
    CredentialReason,
    CredentialRevoked,
    MalformedCredential,
    StatusUnavailable,
)
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS, CredentialLimits
from credentials.status.bits import StatusType
from credentials.status.token import StatusListToken, verify_status_list_token
from keys.errors import Reason
from keys.jose.jwk import VerificationKey
from keys.jose.jws import X5cTrust
from keys.trust import TrustStore
from keys.x509.profile import GENERIC, Profile

#: Fetches the Status List Token (compact JWT) served at a URI; raises on any transport failure.
Fetcher = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class StatusReference:
    """The ``status.status_list`` of a Referenced Token (§6.2): an index into the list at ``uri``."""

    idx: int
    uri: str

    @classmethod
    def from_claim(cls, status: object) -> StatusReference:
        """Read ``{"status_list": {"idx": n, "uri": "..."}}``; anything else is ``malformed``."""
        reference = status.get("status_list") if isinstance(status, Mapping) else None
        if not isinstance(reference, Mapping):
            raise MalformedCredential(Reason.MALFORMED, "status has no status_list object")
        idx, uri = reference.get("idx"), reference.get("uri")
        if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
            raise MalformedCredential(Reason.MALFORMED, "status_list idx is not a non-negative integer")
        if not isinstance(uri, str) or not uri:
            raise MalformedCredential(Reason.MALFORMED, "status_list uri is not a string")
        return cls(idx, uri)

    def to_claim(self) -> dict[str, dict[str, int | str]]:
        """The ``status`` claim value."""
        return {"status_list": {"idx": self.idx, "uri": self.uri}}


@dataclass(frozen=True, slots=True)
class CachedStatusList:
    """A verified token and when it was fetched."""

    token: StatusListToken
    fetched_at: dt.datetime

    def fresh_until(self, max_cache_age: dt.timedelta) -> dt.datetime:
        """The end of this entry's freshness: ``fetched_at + min(ttl, max_cache_age)``, capped by ``exp``."""
        age = min(self.token.ttl, max_cache_age) if self.token.ttl is not None else max_cache_age
        until = self.fetched_at + age
        return min(until, self.token.exp) if self.token.exp is not None else until


@dataclass(slots=True)
class StatusChecker:
    """Resolves Referenced Token statuses: fetch, verify (``keys`` or an ``x5c`` chain to ``trust``), cache."""

    fetch: Fetcher
    keys: tuple[VerificationKey, ...] = ()
    trust: TrustStore | None = None
    profile: Profile = GENERIC
    algorithms: frozenset[str] = field(default_factory=lambda: frozenset({"ES256"}))
    leeway: dt.timedelta = dt.timedelta(0)
    max_cache_age: dt.timedelta = dt.timedelta(hours=24)
    limits: CredentialLimits = DEFAULT_CREDENTIAL_LIMITS
    cache: dict[str, CachedStatusList] = field(default_factory=dict)

    def token(self, uri: str, at: dt.datetime) -> StatusListToken:
        """The verified Status List Token for ``uri`` at ``at``: from the cache while fresh, else fetched."""
        cached = self.cache.get(uri)
        if cached is not None and cached.fetched_at <= at < cached.fresh_until(self.max_cache_age):
            return cached.token
        try:
            text = self.fetch(uri)
        except Exception as exc:  # the caller's transport: any failure means no status information
            raise StatusUnavailable(CredentialReason.STATUS_UNAVAILABLE, f"fetch failed: {type(exc).__name__}") from exc
        x5c = X5cTrust(self.trust, self.profile, at) if self.trust is not None else None
        try:
            token = verify_status_list_token(
                text, uri=uri, at=at, keys=self.keys, x5c=x5c, algorithms=self.algorithms, leeway=self.leeway,
                limits=self.limits,
            )
        except StatusUnavailable:
            raise
        except CredentialError as exc:
            raise StatusUnavailable(exc.reason, exc.detail) from exc
        self.cache[uri] = CachedStatusList(token, at)
        return token

    def status(self, reference: StatusReference, at: dt.datetime) -> int:
        """The status value of ``reference`` at ``at`` (§8.3 steps 2 to 6)."""
        status_list = self.token(reference.uri, at).status_list
        if reference.idx >= len(status_list):
            raise StatusUnavailable(CredentialReason.STATUS_INDEX_OUT_OF_RANGE, "idx is beyond the Status List")
        return status_list[reference.idx]

    def check(self, reference: StatusReference, at: dt.datetime) -> None:
        """Return normally only when the status is VALID (§8.3 step 7)."""
        value = self.status(reference, at)
        if value == StatusType.VALID:
            return
        if value == StatusType.INVALID:
            raise CredentialRevoked(CredentialReason.STATUS_INVALID, "the credential is revoked (INVALID)")
        if value == StatusType.SUSPENDED:
            raise CredentialRevoked(CredentialReason.STATUS_SUSPENDED, "the credential is SUSPENDED")
        raise CredentialRevoked(CredentialReason.STATUS_NOT_VALID, f"the credential's status is {value:#04x}")
