"""The ``refresh_token`` grant (RFC 6749 §6): rotation, the replay policy and family revocation are in
:mod:`idp.oauth.refresh`."""

from __future__ import annotations

from typing import Any, Final

from idp.oauth import refresh
from idp.oauth.grants.registry import GrantType, TokenRequest
from idp.oauth.scope import parse_scope
from idp.runtime import Services

REFRESH_TOKEN: Final = "refresh_token"


async def use_refresh_token(services: Services, request: TokenRequest) -> dict[str, Any]:
    """Use a refresh token (RFC 6749 §6): see :func:`idp.oauth.refresh.refresh`."""
    scope = request.params.get("scope")
    return await refresh.refresh(services, client=request.client, token=request.params["refresh_token"],
                                 scope=None if scope is None else parse_scope(scope), dpop=request.dpop,
                                 now=request.now, metrics=request.metrics)


GRANT: Final = GrantType(REFRESH_TOKEN, use_refresh_token, required=("refresh_token",))

__all__ = ["GRANT", "REFRESH_TOKEN", "use_refresh_token"]
