"""HTTP endpoints, one module per endpoint (node-oidc-provider's ``lib/actions/``), listed once in
:data:`ENDPOINTS`; the application (:mod:`idp.app`) mounts their routes and the discovery documents
(:mod:`idp.endpoints.discovery`, :mod:`idp.endpoints.credential_issuer_metadata`) read their metadata from the
same list.

Each module declares, at module level:

* ``ROUTES`` — its route handlers;
* ``METADATA`` (optional) — members of the provider metadata (OIDC Discovery §3, RFC 8414 §2) naming its
  endpoints, as paths below the issuer;
* ``feature_metadata(settings)`` (optional) — members describing what it supports (methods, algorithms, ...);
* ``ISSUER_METADATA`` (optional) — members of the Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4), paths too;
* ``OPENAPI`` — the OpenAPI description of its operations that litestar cannot infer (parameters, bodies,
  statuses, media types, error bodies: :mod:`servicekit.http.openapi`), merged by :func:`openapi_operations`.

The list holds module *names*, imported on first use (:func:`endpoint_modules`): the discovery modules read the
list and are in it, so a static import here would make a cycle. Endpoint modules import each other never; only
the composition layer and the tests import them::

    from idp.endpoints import route_handlers, provider_members
    Litestar(route_handlers=route_handlers())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Final, cast

from idp.settings import Settings
from servicekit.http.openapi import merge_path_items

#: Every endpoint module, in the order the application mounts them.
ENDPOINTS: Final = ("discovery", "jwks", "health", "metrics", "token", "userinfo", "revocation", "introspection",
                    "authorize", "par", "interaction", "test_login", "card_login", "registration", "logout",
                    "credential_issuer_metadata", "jwt_vc_issuer", "vct", "credential_offer", "credential_portal",
                    "nonce", "credential", "deferred_credential", "notification", "status_list", "credential_admin",
                    "sign_results", "sign_transactions", "stylesheet", "client_logo",
                    "device_authorization", "backchannel_authentication", "counter_agent",
                    "card_login_events")


def endpoint_modules() -> tuple[ModuleType, ...]:
    """The modules of :data:`ENDPOINTS`."""
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in ENDPOINTS)


def route_handlers() -> list[Any]:
    """Every endpoint's ``ROUTES``."""
    return [handler for module in endpoint_modules() for handler in module.ROUTES]


def _paths(name: str, issuer: str) -> dict[str, str]:
    members: dict[str, str] = {}
    for module in endpoint_modules():
        members.update({member: issuer + path for member, path in getattr(module, name, {}).items()})
    return members


def openapi_operations() -> dict[str, dict[str, Any]]:
    """Every endpoint's ``OPENAPI`` path items together (what :mod:`idp.app` merges into the OpenAPI document)."""
    return merge_path_items(*(getattr(module, "OPENAPI", {}) for module in endpoint_modules()))


def provider_members(settings: Settings) -> dict[str, Any]:
    """The provider metadata members every endpoint contributes: its ``METADATA`` as URLs below the issuer, then
    its ``feature_metadata``."""
    members: dict[str, Any] = _paths("METADATA", settings.issuer)
    for module in endpoint_modules():
        describe = cast(Callable[[Settings], Mapping[str, Any]] | None, getattr(module, "feature_metadata", None))
        if describe is not None:
            members.update(describe(settings))
    return members


def issuer_endpoints() -> dict[str, str]:
    """The Credential Issuer Metadata's endpoint members (``ISSUER_METADATA``), paths below the issuer."""
    return _paths("ISSUER_METADATA", "")


__all__ = ["ENDPOINTS", "endpoint_modules", "issuer_endpoints", "openapi_operations", "provider_members",
           "route_handlers"]
