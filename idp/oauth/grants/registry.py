"""The token endpoint's grant types, as plug-ins (after Authlib's ``register_grant`` and node-oidc-provider's
``lib/actions/grants/``): a :class:`GrantType` names its ``grant_type``, the parameters it requires, the client
authentication it accepts and its handler, and :func:`register_grant` adds it.

The protocol's own grants (``authorization_code``, ``refresh_token``, ``client_credentials``) are registered by
:mod:`idp.oauth.grants`; features add theirs from the composition layer (the credential issuer's pre-authorized
code: :func:`idp.vci.setup.install`). The token endpoint dispatches with :func:`exchange`; discovery's
``grant_types_supported`` and dynamic registration read :func:`grant_types`::

    register_grant(GrantType("urn:example:grant", handler=redeem, required=("assertion",)))
    body = await exchange(services, "urn:example:grant", TokenRequest(client, form, proof, now))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from idp.clients import AuthMethod, Client
from idp.errors import InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from idp.metrics import Metrics
from idp.oauth.dpop import DpopProof
from idp.oauth.plugins import Registry
from idp.runtime import Services


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request after client authentication: its parameters and the verified DPoP proof, if any."""

    client: Client
    params: Mapping[str, str]
    dpop: DpopProof | None
    now: dt.datetime
    #: The provider's metrics, for what a grant counts besides its outcome (refresh-token replays).
    metrics: Metrics | None = None


Handler = Callable[[Services, TokenRequest], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class GrantType:
    """One grant of the token endpoint (RFC 6749 §4, §6 and extension grants, §4.5)."""

    grant_type: str
    handler: Handler
    #: Parameters the request must carry (``invalid_request`` without them), checked before the handler runs.
    required: tuple[str, ...] = ()
    #: The client authentication methods allowed (``unauthorized_client`` otherwise); None: every method.
    client_auth: frozenset[AuthMethod] | None = None
    #: The client of a request that names none (e.g. OpenID4VCI 1.0 §6.1's anonymous pre-authorized access);
    #: None: client authentication is required.
    anonymous_client: Callable[[Services], Awaitable[Client]] | None = None
    #: Members the grant adds to the provider metadata (e.g. OpenID4VCI 1.0 §12.3's
    #: ``pre-authorized_grant_anonymous_access_supported``).
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


_REGISTRY: Registry[GrantType] = Registry("grant type")


def register_grant(grant: GrantType) -> None:
    """Add ``grant`` (registering the same one again does nothing; another one under its name is an error)."""
    _REGISTRY.register(grant.grant_type, grant)


def find_grant(grant_type: str) -> GrantType | None:
    """The registered grant for ``grant_type``, or None."""
    return _REGISTRY.get(grant_type)


def registered_grants() -> tuple[GrantType, ...]:
    """The registered grants, in registration order."""
    return _REGISTRY.items()


def grant_types() -> tuple[str, ...]:
    """The registered grant types, in registration order (as discovery lists them)."""
    return _REGISTRY.names()


async def exchange(services: Services, grant_type: str, request: TokenRequest) -> dict[str, Any]:
    """The RFC 6749 §5.1 token response for ``grant_type``; every failure is an :class:`idp.errors.OAuthError`."""
    grant = _REGISTRY.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"grant_type must be one of {', '.join(_REGISTRY.names())}")
    if grant.client_auth is not None and request.client.auth_method not in grant.client_auth:
        raise UnauthorizedClient(f"{grant_type} is for clients authenticating with "
                                 f"{' or '.join(sorted(m.value for m in grant.client_auth))} (RFC 6749 §4.4)")
    for name in grant.required:
        if not request.params.get(name):
            raise InvalidRequest(f"{name} is required")
    if request.client.dpop_bound_access_tokens:
        require_dpop(request, "this client registered dpop_bound_access_tokens (RFC 9449 §5.2)")
    return await grant.handler(services, request)


def require_dpop(request: TokenRequest, reason: str) -> DpopProof:
    """The request's DPoP proof, checked before a grant touches its code or token (so a request refused for want of
    one costs nothing); ``invalid_request`` without one, saying ``reason``. Every grant of a client that registered
    ``dpop_bound_access_tokens`` needs one (RFC 9449 §5.2, checked by :func:`exchange`)."""
    if request.dpop is None:
        raise InvalidRequest(f"a DPoP proof is required: {reason}")
    return request.dpop


__all__ = ["GrantType", "TokenRequest", "exchange", "find_grant", "grant_types", "register_grant",
           "registered_grants", "require_dpop"]
