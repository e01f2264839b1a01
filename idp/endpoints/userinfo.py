"""``GET``/``POST /userinfo``: the UserInfo endpoint (OIDC Core §5.3), a protected resource (RFC 6750, RFC 9449 §7).

The access token comes in the ``Authorization`` header (``Bearer``, or ``DPoP`` with a proof whose key is the
token's ``cnf.jkt`` and whose ``ath`` is the token's hash) or, for ``POST`` only, as the ``access_token``
form parameter (RFC 6750 §2.2); one method per request (§2). A DPoP-bound token is never accepted as a
bearer token, nor an unbound one under the DPoP scheme. Failures answer 401 with a ``WWW-Authenticate``
challenge of the scheme used (RFC 6750 §3, RFC 9449 §7.1); a token without the ``openid`` scope 403
``insufficient_scope``. The checks are the one access guard of :mod:`idp.oauth.access`.

The answer holds ``sub`` and the claims the person released for UserInfo (the grant's
``claims.userinfo``): plain JSON, or a JWT signed with the client's ``userinfo_signed_response_alg`` with
``iss`` and ``aud`` (OIDC Core §5.3.2).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, route
from litestar.di import NamedDependency

from idp.errors import InsufficientScope
from idp.metrics import Metrics
from idp.oauth.access import GUARD_PARAMETERS, GUARD_RESPONSES, AccessPolicy, Refused, guard
from idp.oauth.authorization_request import OPENID, PROTOCOL_CLAIMS
from idp.oauth.tokens import AccessToken
from idp.runtime import Services, utcnow
from idp.settings import Settings
from idp.web.forms import MAX_FORM_BODY, AnyRequest
from idp.web.responses import NO_STORE
from keys.service import encode_jwt
from servicekit.http import openapi as doc

PATH: Final = "/userinfo"
METADATA: Final = {"userinfo_endpoint": PATH}


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """Discovery member of UserInfo (OIDC Discovery §3): the algorithms a signed response may use."""
    return {"userinfo_signing_alg_values_supported": list(settings.keys.algorithms)}


def _openid(access: AccessToken) -> None:
    if OPENID not in access.scope:
        raise InsufficientScope("the access token lacks the openid scope")


#: RFC 6750 §2.2: the form parameter too; the ``openid`` scope (OIDC Core §5.3).
_POLICY: Final = AccessPolicy(PATH, form_token=True, check=_openid)


@route(PATH, http_method=["GET", "POST"], status_code=200, request_max_body_size=MAX_FORM_BODY, summary="UserInfo",
       tags=["OpenID Connect"])
async def userinfo(
    request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[Any]:
    """Claims about the authenticated person (OIDC Core §5.3)."""
    try:
        access = await guard(request, services, metrics, _POLICY)
    except Refused as refused:
        return refused.response
    grant = access.grant or {}
    released = (grant.get("claims") or {}).get("userinfo") or {}
    claims: dict[str, Any] = {name: value for name, value in released.items() if name not in PROTOCOL_CLAIMS}
    claims["sub"] = access.sub
    alg = access.client.userinfo_signed_response_alg
    if alg is None:
        return Response(claims, headers=NO_STORE, media_type="application/json")
    claims.update(iss=services.settings.issuer, aud=access.client_id, iat=int(utcnow().timestamp()))
    signed = encode_jwt(claims, await services.keyset.signer(alg, utcnow()))
    return Response(signed, headers=NO_STORE, media_type="application/jwt")


_ANSWERS: Final = doc.responses(
    doc.json_answer(200, "the claims (OIDC Core §5.3.2)", doc.obj(doc.strings("sub"), ("sub",))),
    doc.answer((200,), "the claims as a signed JWT (OIDC Core §5.3.2)", {"application/jwt": {"type": "string"}}),
    GUARD_RESPONSES)
OPENAPI: Final = {PATH: {
    "get": doc.operation(parameters=GUARD_PARAMETERS, responses=_ANSWERS),
    "post": doc.operation(parameters=GUARD_PARAMETERS, body=doc.form_body(doc.strings("access_token"), optional=True),
                          responses=doc.responses(_ANSWERS, doc.too_large()))}}

ROUTES: Final = (userinfo,)
