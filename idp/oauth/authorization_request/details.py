"""``authorization_details`` types (RFC 9396) as plug-ins: a feature registers what a type does when an
authorization code is issued for a request carrying it, and discovery lists the registered types
(``authorization_details_types_supported``, RFC 9396 §10).

The credential issuer registers ``openid_credential`` (OpenID4VCI 1.0 §5.1.1) from the composition layer
(:func:`idp.vci.setup.install`), so this layer never names it::

    register_authorization_details_type(AuthorizationDetailsType("openid_credential", begin_issuance))
    authorization_details_types()  # ("openid_credential",)

Request validation (:func:`parse_details`, RFC 9396 §5) reads the array, refuses entries of a type nobody
registered, and hands each type its own entries (its ``parse``), which checks their fields strictly and returns them
normalised (what the request stores): ``openid_credential`` as OpenID4VCI 1.0 §5.1.1 defines them, ``jpki_sign``
as :mod:`idp.sign.details` does. A type may also say that its requests always need a fresh login
(``fresh_login``: never satisfied by a browser session) and the ``acr`` that login must have. When the code
is issued (:func:`idp.oauth.authorization_response.issue_code`), each registered type's
``on_code`` gets the request, the login and the claims the person approved for the ``credential`` target; what it
grants is recorded on the grant (:meth:`GrantedDetails.grant_members`) and, when the request carried
``authorization_details``, returned by the token endpoint (:meth:`GrantedDetails.token_details`, RFC 9396 §7).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from idp.errors import OAuthError
from idp.oauth.authorization_request.request import AuthorizationRequest
from idp.oauth.plugins import Registry
from idp.runtime import Services


class InvalidAuthorizationDetailsError(OAuthError):
    """RFC 9396 §5 ``invalid_authorization_details``."""

    error = "invalid_authorization_details"
    status_code = 400


class Login(Protocol):
    """What a type may use of the login (:class:`idp.oauth.interaction.LoginRecord` is one)."""

    @property
    def account_id(self) -> str:
        """The account that logged in."""
        ...

    @property
    def credential_source(self) -> Mapping[str, Any] | None:
        """What the login gives the credential issuer, if anything."""
        ...

    @property
    def signing_request(self) -> str | None:
        """The signing request the login's card signatures answered, if any (:mod:`idp.sign`)."""
        ...


class GrantedDetails(Protocol):
    """What a type granted at code issuance."""

    def grant_members(self, *, by_identifier: bool) -> dict[str, Any]:
        """Members recorded on the grant object (the access token's grant)."""
        ...

    def token_details(self) -> list[dict[str, Any]]:
        """The token response's ``authorization_details`` entries (RFC 9396 §7)."""
        ...


class OnCode(Protocol):
    """What a type does when the authorization code is issued."""

    async def __call__(self, services: Services, request: AuthorizationRequest, login: Login, *,
                       approved: Collection[str], now: dt.datetime) -> GrantedDetails | None:
        """Grant what the request asked for and the person ``approved``, or None when there is nothing."""
        ...


#: What a type's ``parse`` gets (its own entries, in request order) and returns (them, normalised, same order);
#: it raises :class:`InvalidAuthorizationDetailsError` for anything it does not accept (RFC 9396 §5).
ParseEntries = Callable[[Sequence[Mapping[str, Any]]], Sequence[dict[str, Any]]]
#: Most entries in one ``authorization_details`` parameter.
MAX_ENTRIES: Final = 16


@dataclass(frozen=True, slots=True)
class AuthorizationDetailsType:
    """One ``type`` value of ``authorization_details`` (RFC 9396 §2)."""

    type: str
    on_code: OnCode
    parse: ParseEntries
    #: Requests with this type always need a new login (never the browser's session).
    fresh_login: bool = False
    #: The ``acr`` the login of such a request must have (None: any).
    acr: str | None = None


_REGISTRY: Registry[AuthorizationDetailsType] = Registry("authorization_details type")


def register_authorization_details_type(details_type: AuthorizationDetailsType) -> None:
    """Add ``details_type`` (the same one again does nothing; another one under its name is an error)."""
    _REGISTRY.register(details_type.type, details_type)


def authorization_details_types() -> tuple[str, ...]:
    """The registered types, in registration order."""
    return _REGISTRY.names()


def parse_details(value: object) -> tuple[dict[str, Any], ...]:
    """RFC 9396 §2, §5: ``value`` (the parameter's JSON text, or the array of a request object) as normalised entries,
    or ``invalid_authorization_details``: not a JSON array of 1 to :data:`MAX_ENTRIES` objects, an entry without a
    string ``type``, a type nobody registered, or an entry its type's parser refuses."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidAuthorizationDetailsError("authorization_details is not JSON") from None
    if not isinstance(value, list) or not 0 < len(value) <= MAX_ENTRIES:
        raise InvalidAuthorizationDetailsError(f"authorization_details is an array of 1 to {MAX_ENTRIES} objects")
    grouped: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for index, entry in enumerate(value):
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        if not isinstance(kind, str):
            raise InvalidAuthorizationDetailsError("each authorization details object has a string type")
        if kind not in _REGISTRY.names():
            supported = ", ".join(_REGISTRY.names()) or "none"
            raise InvalidAuthorizationDetailsError(f"unsupported authorization details type (supported: {supported})")
        grouped.setdefault(kind, []).append((index, entry))
    parsed: list[dict[str, Any] | None] = [None] * len(value)
    for kind, entries in grouped.items():
        details_type = _REGISTRY.get(kind)
        assert details_type is not None
        normalised = details_type.parse([entry for _, entry in entries])
        if len(normalised) != len(entries):
            raise ValueError(f"the {kind} parser must return one entry per entry")
        for (index, _), entry in zip(entries, normalised, strict=True):
            parsed[index] = entry
    return tuple(entry for entry in parsed if entry is not None)


def types_of(entries: Sequence[Mapping[str, Any]]) -> tuple[AuthorizationDetailsType, ...]:
    """The registered types the (parsed) ``entries`` name."""
    names = {entry.get("type") for entry in entries}
    return tuple(t for t in _REGISTRY.items() if t.type in names)


def registered_types() -> tuple[AuthorizationDetailsType, ...]:
    """The registered types themselves."""
    return _REGISTRY.items()


__all__ = [
    "MAX_ENTRIES",
    "AuthorizationDetailsType",
    "GrantedDetails",
    "InvalidAuthorizationDetailsError",
    "Login",
    "OnCode",
    "ParseEntries",
    "authorization_details_types",
    "parse_details",
    "register_authorization_details_type",
    "registered_types",
    "types_of",
]
