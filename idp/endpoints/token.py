"""``POST /token``: the token endpoint (RFC 6749 §3.2, §5; OIDC Core §3.1.3; RFC 9449 §5).

Steps, after node-oidc-provider's ``lib/actions/token.js``: read the form body (bounded, no repeated
parameter: RFC 6749 §3.2), ``grant_type`` present, client authentication (:mod:`idp.oauth.client_auth`,
``aud`` the issuer), the DPoP proof if one is sent (:mod:`idp.oauth.dpop`), then the grant
(:mod:`idp.oauth.grants`, a registry: each grant type says which parameters and client authentication it
needs); a request without any client authentication goes to the grant's anonymous client when it has one
(OpenID4VCI 1.0 §6.1, anonymous access to the pre-authorized code grant). Answers are JSON with
``Cache-Control: no-store`` (RFC 6749 §5.1); errors have the RFC 6749 §5.2 shape, and ``use_dpop_nonce``
comes with a fresh ``DPoP-Nonce`` header (RFC 9449 §8).

The form reader (:mod:`idp.web.forms`), the DPoP header reader (:func:`idp.oauth.dpop.dpop_proof`) and the error
response with extra headers (:mod:`idp.web.responses`) are shared with the other endpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from idp.clients import AuthMethod
from idp.errors import InvalidRequest
from idp.metrics import Metrics
from idp.oauth import dpop, grants
from idp.oauth.client_auth import (
    ASSERTION_ALGORITHMS,
    CLIENT_AUTH_FIELDS,
    CLIENT_AUTH_HEADER,
    INVALID_CLIENT,
    TOKEN_PATH,
    authenticate_client,
    endpoint_audiences,
)
from idp.oauth.tokens import TokenReuse
from idp.runtime import Services, utcnow
from idp.settings import Settings
from idp.storage.audit import record
from idp.web.forms import MAX_FORM_BODY, AnyRequest, read_form
from idp.web.responses import NO_STORE, error_response
from servicekit.http import openapi as doc

PATH: Final = TOKEN_PATH
METADATA: Final = {"token_endpoint": PATH}
_log = logging.getLogger("idp.token")


def anonymous(form: Mapping[str, str], authorization: str | None) -> bool:
    """Whether a token request names no client at all (no ``client_id``, assertion or Authorization header)."""
    return authorization is None and not {"client_id", "client_assertion", "client_secret"} & form.keys()


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """Discovery members of the token side (OIDC Discovery §3, RFC 8414 §2), with those of the registered grants.
    Pairwise subjects only: a client never learns an identifier another client sees."""
    methods = [method.value for method in AuthMethod]
    return {"grant_types_supported": list(grants.grant_types()),
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": [m for m in methods if m != AuthMethod.NONE.value],
            "id_token_signing_alg_values_supported": list(settings.keys.algorithms),
            "subject_types_supported": ["pairwise"],
            "dpop_signing_alg_values_supported": list(dpop.DPOP_ALGORITHMS),
            **{name: value for grant in grants.registered_grants() for name, value in grant.metadata.items()}}


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
        proof = await dpop.dpop_proof(request, services, path=PATH)
    except dpop.UseDpopNonce as exc:
        return error_response(exc, metrics, headers={"DPoP-Nonce": exc.nonce})
    try:
        body = await grants.exchange(services, grant_type, grants.TokenRequest(client, form, proof, utcnow(), metrics))
    except TokenReuse as exc:
        metrics.token_reuse.labels(exc.kind).inc()
        _log.warning("token_reuse", extra={"kind": exc.kind, "client_id": client.client_id, "detail": exc.detail})
        raise
    metrics.tokens_issued.labels(grant_type).inc()
    await record(services, "token_issued", client_id=client.client_id, grant_type=grant_type)
    headers = dict(NO_STORE)
    if proof is not None:
        headers["DPoP-Nonce"] = await dpop.current_nonce(services, utcnow())
    return Response(body, headers=headers, media_type="application/json")


OPENAPI: Final = {PATH: {"post": doc.operation(
    parameters=[CLIENT_AUTH_HEADER, doc.DPOP],
    body=doc.form_body({**doc.strings("grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope",
                                      "pre-authorized_code", "tx_code", "authorization_details"),
                        **CLIENT_AUTH_FIELDS}, ("grant_type",)),
    responses=doc.responses(
        doc.json_answer(200, "the token response (RFC 6749 §5.1, OIDC Core §3.1.3.3)",
                        doc.obj(doc.strings("access_token", "token_type", "refresh_token", "id_token", "scope"),
                                ("access_token", "token_type")), headers=doc.DPOP_NONCE),
        doc.oauth_error(400, description="invalid_request, invalid_grant, unsupported_grant_type, use_dpop_nonce, "
                                         "... (RFC 6749 §5.2, RFC 9449 §8)", headers=doc.DPOP_NONCE),
        INVALID_CLIENT, doc.too_large()))}}

ROUTES: Final = (token,)
