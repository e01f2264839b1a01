"""``POST /token``: the token endpoint (RFC 6749 §3.2, §5; OIDC Core §3.1.3; RFC 9449 §5).

Steps, after node-oidc-provider's ``lib/actions/token.js``: read the form body (bounded, no repeated
parameter: RFC 6749 §3.2), ``grant_type`` present, client authentication (:mod:`idp.oauth.client_auth`,
``aud`` the issuer or this URL), the DPoP proof if one is sent (:mod:`idp.oauth.dpop`), then the grant
(:mod:`idp.oauth.grants`, a registry: each grant type says which parameters and client authentication it
needs); a request without any client authentication goes to the grant's anonymous client when it has one
(OpenID4VCI 1.0 §6.1, anonymous access to the pre-authorized code grant). Answers are JSON with
``Cache-Control: no-store`` (RFC 6749 §5.1); errors have the RFC 6749 §5.2 shape, and ``use_dpop_nonce``
comes with a fresh ``DPoP-Nonce`` header (RFC 9449 §8).

The form reader, the DPoP header reader and the error response with extra headers are shared with the
revocation, introspection and userinfo endpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from litestar import Request, Response, post
from litestar.di import NamedDependency

from idp.clients import AuthMethod
from idp.errors import InvalidRequest, OAuthError, oauth_error_response
from idp.metrics import Metrics
from idp.oauth import dpop, grants
from idp.oauth.client_auth import ASSERTION_ALGORITHMS, authenticate_client
from idp.oauth.tokens import TokenReuse
from idp.runtime import Services, utcnow
from idp.settings import Settings

PATH: Final = "/token"
METADATA: Final = {"token_endpoint": PATH}
#: Largest form body accepted at the token, revocation, introspection and userinfo endpoints.
MAX_FORM_BODY: Final = 64 * 1024
_MAX_FIELDS: Final = 32
_FORM: Final = "application/x-www-form-urlencoded"
NO_STORE: Final = {"Cache-Control": "no-store"}
_log = logging.getLogger("idp.token")

AnyRequest = Request[Any, Any, Any]


async def read_form(request: AnyRequest) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body as a mapping (RFC 6749 §3.2): a repeated parameter is
    an error, one without a value counts as absent (§3.1)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        raise InvalidRequest(f"the request body must be {_FORM}")
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the form body is malformed or has too many parameters") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequest(f"parameter {name} is repeated (RFC 6749 §3.2)")
        form[name] = value
    return {name: value for name, value in form.items() if value}


def endpoint_audiences(settings: Settings, path: str) -> tuple[str, ...]:
    """What a client assertion's ``aud`` may be at the endpoint ``path``: the issuer, the token endpoint URL
    (RFC 7523 §3) or the endpoint's own URL."""
    return tuple(dict.fromkeys((settings.issuer, settings.issuer + PATH, settings.issuer + path)))


async def dpop_proof(
    request: AnyRequest, services: Services, *, path: str, access_token: str | None = None
) -> dpop.DpopProof | None:
    """The verified proof of the request's ``DPoP`` header, or None without one (RFC 9449 §4.3: at most one
    header); ``htu`` is checked against the endpoint's URL under the issuer, never the request's Host."""
    values = request.headers.getall("dpop", [])
    if not values:
        return None
    if len(values) > 1:
        raise dpop.InvalidDpopProof("more than one DPoP header (RFC 9449 §4.3)")
    return await dpop.verify_dpop_proof(values[0], method=request.method, url=services.settings.issuer + path,
                                   services=services, now=utcnow(), access_token=access_token)


def error_response(exc: OAuthError, metrics: Metrics, *, status: int | None = None,
                   headers: Mapping[str, str] | None = None) -> Response[dict[str, str]]:
    """An error answered by the endpoint itself, when it needs another status or extra headers (a DPoP
    nonce, a resource server's challenge); counted and logged like every other OAuth error."""
    metrics.oauth_errors.labels(exc.error).inc()
    _log.info("oauth_error", extra={"error": exc.error, "detail": exc.detail})
    response = oauth_error_response(exc)
    if status is not None:
        response.status_code = status
    response.headers.update(headers or {})
    return response


def anonymous(form: Mapping[str, str], authorization: str | None) -> bool:
    """Whether a token request names no client at all (no ``client_id``, assertion or Authorization header)."""
    return authorization is None and not {"client_id", "client_assertion", "client_secret"} & form.keys()


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """Discovery members of the token side (OIDC Discovery §3, RFC 8414 §2). Pairwise subjects only: a
    client never learns an identifier another client sees."""
    methods = [method.value for method in AuthMethod]
    return {"grant_types_supported": list(grants.grant_types()),
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": [m for m in methods if m != AuthMethod.NONE.value],
            "id_token_signing_alg_values_supported": list(settings.keys.algorithms),
            "subject_types_supported": ["pairwise"],
            "dpop_signing_alg_values_supported": list(dpop.DPOP_ALGORITHMS),
            "pre-authorized_grant_anonymous_access_supported": True}


@post(PATH, status_code=200, request_max_body_size=MAX_FORM_BODY, summary="Token endpoint", tags=["OAuth 2.0"])
async def token(
    request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[dict[str, Any]]:
    """Exchange a grant for tokens (RFC 6749 §3.2)."""
    form = await read_form(request)
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required")
    settings = services.settings
    authorization = request.headers.get("authorization")
    grant = grants.find_grant(grant_type)
    if grant is not None and grant.anonymous_client is not None and anonymous(form, authorization):
        client = await grant.anonymous_client(services)  # e.g. OpenID4VCI 1.0 §6.1: client authentication optional
    else:
        client = await authenticate_client(form=form, authorization=authorization, services=services,
                                           audiences=endpoint_audiences(settings, PATH), now=utcnow())
    try:
        proof = await dpop_proof(request, services, path=PATH)
    except dpop.UseDpopNonce as exc:
        return error_response(exc, metrics, headers={"DPoP-Nonce": exc.nonce})
    try:
        body = await grants.exchange(services, grant_type, grants.TokenRequest(client, form, proof, utcnow()))
    except TokenReuse as exc:
        metrics.token_reuse.labels(exc.kind).inc()
        _log.warning("token_reuse", extra={"kind": exc.kind, "client_id": client.client_id, "detail": exc.detail})
        raise
    metrics.tokens_issued.labels(grant_type).inc()
    headers = dict(NO_STORE)
    if proof is not None:
        headers["DPoP-Nonce"] = await dpop.current_nonce(services, utcnow())
    return Response(body, headers=headers, media_type="application/json")
