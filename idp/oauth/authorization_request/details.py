"""``authorization_details`` types (RFC 9396) as plug-ins: a feature registers what a type does when an
authorization code is issued for a request carrying it, and discovery lists the registered types
(``authorization_details_types_supported``, RFC 9396 §10).

The credential issuer registers ``openid_credential`` (OpenID4VCI 1.0 §5.1.1) from the composition layer
(:func:`idp.vci.setup.install`), so this layer never names it::

    register_authorization_details_type(AuthorizationDetailsType("openid_credential", begin_issuance))
    authorization_details_types()  # ("openid_credential",)

Request validation refuses entries of a type nobody registered (:func:`check_types`, RFC 9396 §5); the entries
themselves are still read as OpenID4VCI 1.0 §5.1.1 defines them (:mod:`credentials.oid4vci.authorization_details`,
below ``idp``: a second type would bring its parser here too). When the code
is issued (:func:`idp.oauth.authorization_response.issue_code`), each registered type's
``on_code`` gets the request, the login and the claims the person approved for the ``credential`` target; what it
grants is recorded on the grant (:meth:`GrantedDetails.grant_members`) and, when the request carried
``authorization_details``, returned by the token endpoint (:meth:`GrantedDetails.token_details`, RFC 9396 §7).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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


@dataclass(frozen=True, slots=True)
class AuthorizationDetailsType:
    """One ``type`` value of ``authorization_details`` (RFC 9396 §2)."""

    type: str
    on_code: OnCode


_REGISTRY: Registry[AuthorizationDetailsType] = Registry("authorization_details type")


def register_authorization_details_type(details_type: AuthorizationDetailsType) -> None:
    """Add ``details_type`` (the same one again does nothing; another one under its name is an error)."""
    _REGISTRY.register(details_type.type, details_type)


def authorization_details_types() -> tuple[str, ...]:
    """The registered types, in registration order."""
    return _REGISTRY.names()


def check_types(value: object) -> None:
    """RFC 9396 §5: ``invalid_authorization_details`` when an entry of ``value`` (the parameter's JSON text, or the
    array of a request object) has a type nobody registered. Anything else malformed is left to the type's parser."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return
    if not isinstance(value, list):
        return
    for entry in value:
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        if isinstance(kind, str) and kind not in _REGISTRY.names():
            supported = ", ".join(_REGISTRY.names()) or "none"
            raise InvalidAuthorizationDetailsError(f"unsupported authorization details type (supported: {supported})")


def registered_types() -> tuple[AuthorizationDetailsType, ...]:
    """The registered types themselves."""
    return _REGISTRY.items()


__all__ = ["AuthorizationDetailsType", "GrantedDetails", "InvalidAuthorizationDetailsError", "Login", "OnCode",
           "authorization_details_types", "check_types", "register_authorization_details_type", "registered_types"]
