"""``GET``/``POST /userinfo``: the UserInfo endpoint (OIDC Core §5.3), a protected resource (RFC 6750, RFC 9449 §7).

The access token comes in the ``Authorization`` header (``Bearer``, or ``DPoP`` with a proof whose key is the
token's ``cnf.jkt`` and whose ``ath`` is the token's hash) or, for ``POST`` only, as the ``access_token``
form parameter (RFC 6750 §2.2); one method per request (§2). A DPoP-bound token is never accepted as a
bearer token, nor an unbound one under the DPoP scheme. Failures answer 401 with a ``WWW-Authenticate``
challenge of the scheme used (RFC 6750 §3, RFC 9449 §7.1); a token without the ``openid`` scope 403
``insufficient_scope``.

The answer holds ``sub`` and the claims the person released for UserInfo (the grant's
``claims.userinfo``): plain JSON, or a JWT signed with the client's ``userinfo_signed_response_alg`` with
``iss`` and ``aud`` (OIDC Core §5.3.2).
"""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import MediaType, Response, route
from litestar.di import NamedDependency

from idp.endpoints.token import MAX_FORM_BODY, NO_STORE, AnyRequest, dpop_proof, error_response, read_form
from idp.errors import InsufficientScope, InvalidRequest, InvalidToken, OAuthError
from idp.metrics import Metrics
from idp.oauth import dpop
from idp.oauth.authorization_request import OPENID, PROTOCOL_CLAIMS
from idp.oauth.tokens import verify_access_token
from idp.runtime import Services, utcnow
from idp.settings import Settings
from keys.service import encode_jwt
from servicekit.http.errors import challenge

PATH: Final = "/userinfo"
METADATA: Final = {"userinfo_endpoint": PATH}
#: RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """Discovery member of UserInfo (OIDC Discovery §3): the algorithms a signed response may use."""
    return {"userinfo_signing_alg_values_supported": list(settings.keys.algorithms)}


def _challenge(scheme: str, services: Services, exc: OAuthError | None = None) -> str:
    """RFC 6750 §3 / RFC 9449 §7.1 challenge; without an error code when no credentials came (§3.1)."""
    return challenge(scheme, realm=services.settings.issuer, algs=dpop.DPOP_ALGORITHMS if scheme == "DPoP" else (),
                     error=exc.error if exc else None, error_description=exc.description if exc else None)


async def _credentials(request: AnyRequest) -> tuple[str, str] | None:
    """(scheme, access token) from the one method used, or None when the request carries none."""
    headers = request.headers.getall("authorization", [])
    in_body = None
    if request.method == "POST" and request.headers.get("content-type", "").lower().startswith(
            "application/x-www-form-urlencoded"):
        in_body = (await read_form(request)).get("access_token")
    if len(headers) + (in_body is not None) > 1:
        raise InvalidRequest("the access token must be sent by one method only (RFC 6750 §2)")
    if in_body is not None:
        return "Bearer", in_body
    if not headers:
        return None
    scheme, _, value = headers[0].partition(" ")
    scheme = {"bearer": "Bearer", "dpop": "DPoP"}.get(scheme.lower(), "")
    if not scheme:
        return None
    if not _B64TOKEN.fullmatch(value.strip()):
        raise InvalidToken("the Authorization header does not hold a token")
    return scheme, value.strip()


@route(PATH, http_method=["GET", "POST"], status_code=200, request_max_body_size=MAX_FORM_BODY, summary="UserInfo",
       tags=["OpenID Connect"])
async def userinfo(
    request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[Any]:
    """Claims about the authenticated person (OIDC Core §5.3)."""
    scheme = "Bearer"
    try:
        credentials = await _credentials(request)
        if credentials is None:
            challenge = f"{_challenge('Bearer', services)}, {_challenge('DPoP', services)}"
            return Response(b"", status_code=401, headers={**NO_STORE, "WWW-Authenticate": challenge},
                            media_type=MediaType.TEXT)
        scheme, token = credentials
        access = await verify_access_token(services, token, utcnow())
        if access.jkt is not None:
            if scheme != "DPoP":
                raise InvalidToken("a DPoP-bound access token needs the DPoP scheme (RFC 9449 §7.2)")
            proof = await dpop_proof(request, services, path=PATH, access_token=token)
            if proof is None or proof.jkt != access.jkt:
                raise InvalidToken("the DPoP proof is missing or made with another key (RFC 9449 §7.1)")
        elif scheme == "DPoP":
            raise InvalidToken("the access token is not DPoP-bound; use the Bearer scheme")
        if OPENID not in access.scope:
            raise InsufficientScope("the access token lacks the openid scope")
    except dpop.UseDpopNonce as exc:
        return error_response(exc, metrics, status=401, headers={
            "WWW-Authenticate": _challenge("DPoP", services, exc), "DPoP-Nonce": exc.nonce})
    except (InvalidRequest, InvalidToken, InsufficientScope, dpop.InvalidDpopProof) as exc:
        status = 400 if isinstance(exc, InvalidRequest) else 403 if isinstance(exc, InsufficientScope) else 401
        challenge = _challenge("DPoP" if isinstance(exc, dpop.InvalidDpopProof) else scheme, services, exc)
        return error_response(exc, metrics, status=status, headers={"WWW-Authenticate": challenge})
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
