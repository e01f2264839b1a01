"""The grants of the token endpoint: authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3),
refresh_token (RFC 6749 §6, in :mod:`idp.oauth.refresh`), client_credentials (RFC 6749 §4.4) and the
pre-authorized code of OpenID4VCI 1.0 §6.1 (in :mod:`idp.oauth.pre_authorized_code`).

The client is authenticated and any DPoP proof verified before a grant runs (:mod:`idp.endpoints.token`).
An authorization code is checked first (client, redirect URI, PKCE, DPoP key) and only then consumed, in
one atomic step shared by every worker (:meth:`idp.storage.ObjectStore.consume`): whoever loses that race,
or presents the code after it was used, revokes the grant with everything issued under it (RFC 6749 §4.1.2,
RFC 9700 §4.2.4). Refresh tokens are issued when the granted scope holds ``offline_access`` (OIDC Core §11).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from idp.clients import AuthMethod, Client
from idp.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient, UnsupportedGrantType
from idp.oauth import refresh
from idp.oauth.authorization_request import OFFLINE_ACCESS
from idp.oauth.dpop import DpopProof
from idp.oauth.pkce import verify_code_verifier
from idp.oauth.pre_authorized_code import PRE_AUTHORIZED_CODE, redeem_pre_authorized_code
from idp.oauth.scope import format_scope, parse_scope
from idp.oauth.tokens import GRANT_KIND, Authorization, issue_access_token, issue_user_tokens, revoke_grant, token_type
from idp.runtime import Services

CODE_KIND: Final = "AuthorizationCode"
AUTHORIZATION_CODE: Final = "authorization_code"
REFRESH_TOKEN: Final = "refresh_token"
CLIENT_CREDENTIALS: Final = "client_credentials"
#: The grant types the token endpoint supports, in the order discovery lists them.
GRANT_TYPES: Final = (AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS, PRE_AUTHORIZED_CODE)
_MAX_CODE: Final = 255


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request after client authentication: its parameters and the verified DPoP proof, if any."""

    client: Client
    params: Mapping[str, str]
    dpop: DpopProof | None
    now: dt.datetime


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidRequest(f"{name} is required")
    return value


async def exchange(services: Services, grant_type: str, request: TokenRequest) -> dict[str, Any]:
    """The RFC 6749 §5.1 token response for ``grant_type``; every failure is an :class:`idp.errors.OAuthError`."""
    handler = _GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantType(f"grant_type must be one of {', '.join(GRANT_TYPES)}")
    return await handler(services, request)


async def redeem_code(services: Services, request: TokenRequest) -> dict[str, Any]:
    """Redeem an authorization code (RFC 6749 §4.1.3): once, by its client, with its redirect URI, its PKCE
    verifier (RFC 7636 §4.6) and, when the authorization request named one, its DPoP key (RFC 9449 §10)."""
    code, params, client, now = _required(request.params, "code"), request.params, request.client, request.now
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
    grant = await services.objects.find(GRANT_KIND, grant_id, now=now)
    if grant is None:
        raise InvalidGrant("the grant has been revoked or has expired")
    if await services.objects.consume(CODE_KIND, code, now=now) is None:
        raise await revoke_grant(services, grant_id, AUTHORIZATION_CODE)
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


async def use_refresh_token(services: Services, request: TokenRequest) -> dict[str, Any]:
    """Use a refresh token (RFC 6749 §6): see :func:`idp.oauth.refresh.refresh`."""
    scope = request.params.get("scope")
    return await refresh.refresh(services, client=request.client, token=_required(request.params, "refresh_token"),
                                 scope=None if scope is None else parse_scope(scope), dpop=request.dpop,
                                 now=request.now)


async def client_credentials(services: Services, request: TokenRequest) -> dict[str, Any]:
    """RFC 6749 §4.4: an access token naming the confidential client itself (``sub`` = client_id), for scope
    values of ``tokens.client_credentials_scopes``; no ID token and no refresh token (§4.4.3)."""
    client = request.client
    if client.auth_method is AuthMethod.NONE:
        raise UnauthorizedClient("client_credentials is for confidential clients only (RFC 6749 §4.4)")
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


_GRANTS: Final[Mapping[str, Callable[[Services, TokenRequest], Awaitable[dict[str, Any]]]]] = {
    AUTHORIZATION_CODE: redeem_code,
    REFRESH_TOKEN: use_refresh_token,
    CLIENT_CREDENTIALS: client_credentials,
    PRE_AUTHORIZED_CODE: redeem_pre_authorized_code,
}
