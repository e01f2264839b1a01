"""The ``authorization_code`` grant (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).

The client is authenticated and any DPoP proof verified before a grant runs (:mod:`idp.endpoints.token`).
An authorization code is checked first (client, redirect URI, PKCE, DPoP key) and only then consumed, in
one atomic step shared by every worker (:meth:`idp.storage.ObjectStore.consume`): whoever loses that race,
or presents the code after it was used, revokes the grant with everything issued under it (RFC 6749 §4.1.2,
RFC 9700 §4.2.4). Usually the checks and the consumption are one statement (the code is consumed only where its
stored client, redirect URI, challenge and DPoP key equal the request's); when that consumes nothing, the code is
read and checked step by step, which says what failed. Refresh tokens are issued when the granted scope holds
``offline_access`` (OIDC Core §11).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from idp.errors import InvalidGrant
from idp.oauth import refresh
from idp.oauth.authorization_request import OFFLINE_ACCESS
from idp.oauth.grants.registry import GrantType, TokenRequest
from idp.oauth.pkce import S256, s256_challenge, verify_code_verifier, well_formed_verifier
from idp.oauth.tokens import GRANT_KIND, Authorization, issue_user_tokens, revoke_grant
from idp.runtime import Services
from idp.storage import StoredObject

CODE_KIND: Final = "AuthorizationCode"
AUTHORIZATION_CODE: Final = "authorization_code"
_MAX_CODE: Final = 255


async def redeem_code(services: Services, request: TokenRequest) -> dict[str, Any]:
    """Redeem an authorization code (RFC 6749 §4.1.3): once, by its client, with its redirect URI, its PKCE
    verifier (RFC 7636 §4.6) and, when the authorization request named one, its DPoP key (RFC 9449 §10)."""
    code, client, now = request.params["code"], request.client, request.now
    if len(code) > _MAX_CODE:
        raise InvalidGrant("the authorization code is invalid or has expired")
    consumed = await _consume_if_checks_hold(services, request, code)
    if consumed is None:  # something is wrong: find out what, the step by step way
        consumed = await _consume_after_checks(services, request, code)
    payload, grant = consumed[0].payload, consumed[1]
    grant_id = grant.id
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


async def _consume_if_checks_hold(services: Services, request: TokenRequest,
                                  code: str) -> tuple[StoredObject, StoredObject] | None:
    """The usual case in one statement: consume the code if its client, redirect URI, PKCE challenge (S256 of a
    well-formed verifier) and DPoP binding are the request's, and its grant is live. None: some of this does not
    hold (or cannot be said in the statement), and nothing was changed."""
    params, verifier = request.params, request.params.get("code_verifier")
    redirect_uri = params.get("redirect_uri")
    if not isinstance(redirect_uri, str) or not isinstance(verifier, str) or not well_formed_verifier(verifier):
        return None
    return await services.objects.consume_in_grant(CODE_KIND, code, GRANT_KIND, now=request.now, members={
        "client_id": request.client.client_id, "redirect_uri": redirect_uri,
        "code_challenge": s256_challenge(verifier), "code_challenge_method": S256,
        "dpop_jkt": None if request.dpop is None else request.dpop.jkt})


async def _consume_after_checks(services: Services, request: TokenRequest,
                                code: str) -> tuple[StoredObject, StoredObject]:
    """Read the code, check it (the error says which check failed) and only then consume it (a reused code
    revokes its grant)."""
    params, client, now = request.params, request.client, request.now
    stored = await services.objects.find(CODE_KIND, code, now=now)
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
    return consumed


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
