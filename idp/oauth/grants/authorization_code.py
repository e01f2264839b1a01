"""The ``authorization_code`` grant (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).

The client is authenticated and any DPoP proof verified before a grant runs (:mod:`idp.endpoints.token`).
An authorization code is checked first (client, redirect URI, PKCE, DPoP key) and only then consumed, in
one atomic step shared by every worker (:meth:`idp.storage.ObjectStore.consume`): whoever loses that race,
or presents the code after it was used, revokes the grant with everything issued under it (RFC 6749 §4.1.2,
RFC 9700 §4.2.4). Refresh tokens are issued when the granted scope holds ``offline_access`` (OIDC Core §11).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from idp.errors import InvalidGrant
from idp.oauth import refresh
from idp.oauth.authorization_request import OFFLINE_ACCESS
from idp.oauth.grants.registry import GrantType, TokenRequest
from idp.oauth.pkce import verify_code_verifier
from idp.oauth.tokens import GRANT_KIND, Authorization, issue_user_tokens, revoke_grant
from idp.runtime import Services

CODE_KIND: Final = "AuthorizationCode"
AUTHORIZATION_CODE: Final = "authorization_code"
_MAX_CODE: Final = 255


async def redeem_code(services: Services, request: TokenRequest) -> dict[str, Any]:
    """Redeem an authorization code (RFC 6749 §4.1.3): once, by its client, with its redirect URI, its PKCE
    verifier (RFC 7636 §4.6) and, when the authorization request named one, its DPoP key (RFC 9449 §10)."""
    code, params, client, now = request.params["code"], request.params, request.client, request.now
    stored = await services.objects.find(CODE_KIND, code, now=now) if len(code) <= _MAX_CODE else None
    if stored is None:
        raise InvalidGrant("the authorization code is invalid or has expired")
    grant_id = stored.grant_id or str(stored.payload["grant_id"])
    if stored.consumed_at is not None:
        raise await revoke_grant(services, grant_id, AUTHORIZATION_CODE)
    payload = stored.payload
    if payload["client_id"] != client.client_id:
        raise InvalidGrant("the authorization code was issued to another client",
                           detail=f"issued to {payload['client_id']}")
    if params.get("redirect_uri") != payload["redirect_uri"]:
        raise InvalidGrant("redirect_uri differs from the authorization request's (RFC 6749 §4.1.3)")
    _check_pkce(payload, params.get("code_verifier"))
    bound = payload.get("dpop_jkt")
    if bound is not None and (request.dpop is None or request.dpop.jkt != bound):
        raise InvalidGrant("the authorization code is bound to another DPoP key (RFC 9449 §10)")
    consumed = await services.objects.consume_in_grant(CODE_KIND, code, GRANT_KIND, now=now)
    if consumed is None:
        if await services.objects.find(GRANT_KIND, grant_id, now=now) is None:
            raise InvalidGrant("the grant has been revoked or has expired")
        raise await revoke_grant(services, grant_id, AUTHORIZATION_CODE)  # another request used it meanwhile
    grant = consumed[1]
    authorization = Authorization.from_payload(payload, grant_id)
    new_refresh = None
    if OFFLINE_ACCESS in authorization.scope:
        new_refresh = await refresh.issue_refresh_token(
            services, authorization, jkt=refresh.refresh_binding(client, request.dpop), expires_at=grant.expires_at)
    claims = payload.get("claims") or {}
    body = await issue_user_tokens(services, client, authorization, scope=authorization.scope,
                                   released=claims.get("id_token") or {}, nonce=payload.get("nonce"),
                                   jkt=None if request.dpop is None else request.dpop.jkt,
                                   refresh_token=new_refresh, now=now)
    if payload.get("authorization_details"):
        body["authorization_details"] = payload["authorization_details"]  # OpenID4VCI 1.0 §6.2
    return body


def _check_pkce(payload: Mapping[str, Any], verifier: str | None) -> None:
    """RFC 7636 §4.6 with S256 only; a verifier without a challenge is refused too (RFC 9700 §2.1.1)."""
    challenge = payload.get("code_challenge")
    if challenge is None:
        if verifier is not None:
            raise InvalidGrant("code_verifier given, but the authorization request had no code_challenge")
        return
    if verifier is None:
        raise InvalidGrant("code_verifier is required (RFC 7636 §4.5)")
    if payload.get("code_challenge_method", "S256") != "S256" or not verify_code_verifier(verifier, challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge (RFC 7636 §4.6)")


GRANT: Final = GrantType(AUTHORIZATION_CODE, redeem_code, required=("code",))

__all__ = ["AUTHORIZATION_CODE", "CODE_KIND", "GRANT", "redeem_code"]
