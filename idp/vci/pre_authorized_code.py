"""The pre-authorized code grant of the token endpoint (OpenID4VCI 1.0 §6.1, §6.3; grant type
``urn:ietf:params:oauth:grant-type:pre-authorized_code``).

Checks, in order, each failure an RFC 6749 §5.2 error with the §6.3 clarifications: a DPoP proof when
``credentials.require_dpop`` or when the authenticated client registered ``dpop_bound_access_tokens`` (RFC 9449
§5.2, :func:`idp.oauth.grants.exchange`), checked before the code is touched, so a missing proof does not cost the
code;
``pre-authorized_code`` present; then one atomic redemption (:meth:`idp.storage.credentials.pre_authorized_codes.
PreAuthorizedCodeStore.redeem`): unknown, expired, used or dead codes are ``invalid_grant``; a missing
``tx_code`` where one is expected, or one where none is, ``invalid_request``; a wrong one ``invalid_grant`` and
counted (the last allowed attempt kills the code). Client authentication is optional (§6.1): without it the
token goes to the issuer client (:data:`idp.vci.preauth.ISSUER_CLIENT_ID`).

A plug-in of the token endpoint (:data:`GRANT`, registered by :func:`idp.vci.setup.install`).

The response: an access token (DPoP-bound when a proof came) for a new grant naming the issuance, and
``authorization_details`` with a ``credential_identifiers`` entry per dataset (§6.2), reduced to the
configurations the request's own ``authorization_details`` name when it has one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from types import MappingProxyType
from typing import Any, Final

from credentials.oid4vci.authorization_details import InvalidAuthorizationDetails, parse_authorization_details
from idp.clients import Client
from idp.errors import InvalidClient, InvalidGrant, InvalidRequest
from idp.oauth.authorization_request.details import InvalidAuthorizationDetailsError
from idp.oauth.grants import GrantType, TokenRequest, require_dpop
from idp.oauth.tokens import GRANT_KIND, Authorization, issue_access_token, token_type
from idp.runtime import Services
from idp.storage.credentials import RedemptionOutcome
from idp.vci.grant import Issuance, issuance_of
from idp.vci.preauth import ISSUER_CLIENT_ID, code_digest, tx_code_digest
from idp.vci.service import issuer_of

PRE_AUTHORIZED_CODE: Final = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
_MAX_CODE: Final = 255
_MAX_TX_CODE: Final = 64


async def redeem_pre_authorized_code(services: Services, request: TokenRequest) -> dict[str, Any]:
    """The token response for a pre-authorized code (steps in the module docstring)."""
    vci, params, now = issuer_of(services), request.params, request.now
    if vci is None:
        raise InvalidGrant("this provider issues no credentials")
    if services.settings.credentials.require_dpop:
        require_dpop(request, "this issuer requires DPoP-bound access tokens (HAIP 1.0)")
    code, tx_code = params.get("pre-authorized_code"), params.get("tx_code")
    if not code:
        raise InvalidRequest("pre-authorized_code is required")
    if len(code) > _MAX_CODE or (tx_code is not None and len(tx_code) > _MAX_TX_CODE):
        raise InvalidGrant("the pre-authorized code is invalid, expired or used")
    redemption = await vci.store.pre_authorized_codes.redeem(
        code_digest(code), None if tx_code is None else tx_code_digest(vci.reference_key, tx_code), now)
    if redemption.outcome is RedemptionOutcome.TX_CODE_REQUIRED:
        raise InvalidRequest("tx_code is required for this pre-authorized code")
    if redemption.outcome is RedemptionOutcome.TX_CODE_UNEXPECTED:
        raise InvalidRequest("this pre-authorized code takes no tx_code")
    if redemption.outcome is RedemptionOutcome.WRONG_TX_CODE:
        raise InvalidGrant("the tx_code is wrong")
    issuance = None if redemption.issuance_id is None else await issuance_of(services, redemption.issuance_id, now)
    if issuance is None:
        raise InvalidGrant("the pre-authorized code is invalid, expired or used")
    granted = _narrowed(issuance, params.get("authorization_details"))
    client = request.client
    grant_id, sub = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
    expires_at = now + dt.timedelta(seconds=services.settings.credentials.issuance_ttl)
    await services.objects.upsert(GRANT_KIND, grant_id, {
        "client_id": client.client_id, "sub": sub, "account_id": sub, "scope": "", "claims": {},
        **granted.grant_members(by_identifier="authorization_details" in params)}, expires_at, grant_id=grant_id)
    authorization = Authorization(grant_id=grant_id, client_id=client.client_id, sub=sub, account_id=sub, scope=(),
                                  auth_time=int(now.timestamp()), acr=None, amr=(), sid=None)
    jkt = None if request.dpop is None else request.dpop.jkt
    access_token, claims = await issue_access_token(services, client_id=client.client_id, sub=sub, scope=(),
                                                    now=now, authorization=authorization, jkt=jkt)
    return {"access_token": access_token, "token_type": token_type(jkt), "expires_in": claims["exp"] - claims["iat"],
            "authorization_details": granted.token_details()}


def _narrowed(issuance: Issuance, details: str | None) -> Issuance:
    """The issuance reduced to the configurations the token request's ``authorization_details`` names (§6.1)."""
    if details is None:
        return issuance
    try:
        wanted = {d.credential_configuration_id for d in parse_authorization_details(details, issuer=None)}
    except InvalidAuthorizationDetails as exc:
        raise InvalidAuthorizationDetailsError(str(exc)) from None
    kept = tuple((config, identifier) for config, identifier in issuance.granted if config in wanted)
    if not kept or len(kept) != len(wanted):
        raise InvalidAuthorizationDetailsError("authorization_details names configurations this offer does not hold")
    return Issuance(issuance.issuance_id, kept)


async def issuer_client(services: Services) -> Client:
    """The provider's own client, to which anonymous pre-authorized tokens are issued (§6.1)."""
    client = await services.clients.get(ISSUER_CLIENT_ID)
    if client is None:
        raise InvalidClient("anonymous pre-authorized code requests are not available")
    return client


GRANT: Final = GrantType(PRE_AUTHORIZED_CODE, redeem_pre_authorized_code, anonymous_client=issuer_client,
                         metadata=MappingProxyType({"pre-authorized_grant_anonymous_access_supported": True}))

__all__ = ["GRANT", "PRE_AUTHORIZED_CODE", "issuer_client", "redeem_pre_authorized_code"]
