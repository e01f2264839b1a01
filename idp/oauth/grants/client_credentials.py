"""The ``client_credentials`` grant (RFC 6749 §4.4), for confidential clients only."""

from __future__ import annotations

from typing import Any, Final

from idp.clients import AuthMethod
from idp.errors import InvalidScope
from idp.oauth.grants.registry import GrantType, TokenRequest
from idp.oauth.scope import format_scope, parse_scope
from idp.oauth.tokens import issue_access_token, token_type
from idp.runtime import Services

CLIENT_CREDENTIALS: Final = "client_credentials"


async def client_credentials(services: Services, request: TokenRequest) -> dict[str, Any]:
    """RFC 6749 §4.4: an access token naming the confidential client itself (``sub`` = client_id), for scope
    values of ``tokens.client_credentials_scopes``; no ID token and no refresh token (§4.4.3)."""
    client = request.client
    requested = request.params.get("scope")
    scope = () if requested is None else parse_scope(requested)
    allowed = services.settings.tokens.client_credentials_scopes
    if not set(scope) <= set(allowed):
        raise InvalidScope("scope values not available to client_credentials",
                           detail=f"refused: {sorted(set(scope) - set(allowed))}")
    jkt = None if request.dpop is None else request.dpop.jkt
    access_token, claims = await issue_access_token(services, client_id=client.client_id, sub=client.client_id,
                                                    scope=scope, now=request.now, jkt=jkt)
    body: dict[str, Any] = {"access_token": access_token, "token_type": token_type(jkt),
                            "expires_in": claims["exp"] - claims["iat"]}
    if scope:
        body["scope"] = format_scope(scope)
    return body


GRANT: Final = GrantType(CLIENT_CREDENTIALS, client_credentials,
                         client_auth=frozenset({AuthMethod.PRIVATE_KEY_JWT, AuthMethod.CLIENT_SECRET_BASIC}))

__all__ = ["CLIENT_CREDENTIALS", "GRANT", "client_credentials"]
