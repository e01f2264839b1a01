"""The ``urn:openid:params:grant-type:ciba`` grant (OpenID Connect CIBA Core 1.0 §10.1, poll and ping modes): the
client polls (or, in ping mode, asks once it was notified) with its ``auth_req_id``; the rules are
:func:`idp.oauth.decoupled.redeem`'s. Confidential clients only (FAPI-CIBA §5.2.2)."""

from __future__ import annotations

from typing import Any, Final

from idp.clients import AuthMethod
from idp.oauth import decoupled
from idp.oauth.grants.registry import GrantType, TokenRequest
from idp.runtime import Services

CIBA: Final = "urn:openid:params:grant-type:ciba"
#: FAPI-CIBA §5.2.2: confidential clients only.
CIBA_CLIENT_AUTH: Final = frozenset({AuthMethod.PRIVATE_KEY_JWT, AuthMethod.CLIENT_SECRET_BASIC})


async def redeem_auth_req_id(services: Services, request: TokenRequest) -> dict[str, Any]:
    """CIBA Core §10.1.1: tokens once the person completed the login at the reader; §11's errors until then."""
    return await decoupled.redeem(services, request.client, request.params["auth_req_id"], "ciba",
                                  jkt=None if request.dpop is None else request.dpop.jkt, now=request.now)


GRANT: Final = GrantType(CIBA, redeem_auth_req_id, required=("auth_req_id",), client_auth=CIBA_CLIENT_AUTH)

__all__ = ["CIBA", "CIBA_CLIENT_AUTH", "GRANT", "redeem_auth_req_id"]
