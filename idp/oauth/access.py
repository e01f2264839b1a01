"""The access guard of every protected resource (UserInfo, the credential issuer's Credential, Deferred Credential
and Notification endpoints): RFC 6750 bearer tokens and RFC 9449 §7 DPoP-bound tokens.

Steps: the token comes in the ``Authorization`` header (``Bearer`` or ``DPoP``) or, where the resource allows
it, as the ``access_token`` form parameter of a ``POST`` (RFC 6750 §2.2); one method per request (§2, else
``invalid_request``, 400). No credentials at all: 401 with a challenge of each scheme and no error code (§3.1).
The token must be valid (:func:`idp.oauth.tokens.verify_access_token`). A DPoP-bound one (``cnf.jkt``) needs the
``DPoP`` scheme and a proof of its key for this resource's URL whose ``ath`` is the token's hash (RFC 9449
§7.1; :func:`idp.oauth.dpop.dpop_proof`); an unbound one the ``Bearer`` scheme, and only where the resource
does not require DPoP and its client did not register ``dpop_bound_access_tokens`` (RFC 9449 §5.2: the token
endpoint binds every token of such a client, so an unbound one predates the registration). Then the
resource's own check (a scope, a grant member: ``insufficient_scope``, 403).
Failures answer 401 with a challenge of the scheme used (RFC 6750 §3, RFC 9449 §7.1); a stale DPoP nonce is
``use_dpop_nonce`` with a fresh ``DPoP-Nonce`` header (RFC 9449 §8)::

    try:
        access = await guard(request, services, metrics, AccessPolicy(PATH, check=needs_openid))
    except Refused as refused:
        return refused.response
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from litestar import MediaType, Response

from idp.errors import InsufficientScope, InvalidRequest, InvalidToken, OAuthError
from idp.metrics import Metrics
from idp.oauth import dpop
from idp.oauth.tokens import AccessToken, verify_access_token
from idp.runtime import Services, utcnow
from idp.settings import Settings
from idp.web.forms import AnyRequest, read_form
from idp.web.responses import NO_STORE, error_response
from servicekit.http import openapi as doc
from servicekit.http.errors import challenge as www_authenticate

#: RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SCHEMES: Final = {"bearer": "Bearer", "dpop": "DPoP"}
_FORM: Final = "application/x-www-form-urlencoded"

_CHALLENGE: Final = {"WWW-Authenticate": "a Bearer or DPoP challenge (RFC 6750 §3, RFC 9449 §7.1)",
                     "DPoP-Nonce": "with use_dpop_nonce: the server nonce for the next proof (RFC 9449 §8)"}
#: OpenAPI: the request headers :func:`guard` reads, and its refusals.
GUARD_PARAMETERS: Final = (doc.AUTHORIZATION_BEARER, doc.DPOP)
GUARD_RESPONSES: Final = doc.responses(
    doc.oauth_error(400, description="invalid_request: the token sent more than one way (RFC 6750 §2)",
                    headers=_CHALLENGE),
    doc.answer((401,), "no credentials: a challenge of each scheme, no error code (RFC 6750 §3.1)",
               {"text/plain": None}, headers=_CHALLENGE),
    doc.oauth_error(401, description="invalid_token, invalid_dpop_proof or use_dpop_nonce (RFC 6750 §3.1, "
                                     "RFC 9449 §7.1)", headers=_CHALLENGE),
    doc.oauth_error(403, description="insufficient_scope (RFC 6750 §3.1)", headers=_CHALLENGE))



@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """What one protected resource accepts."""

    #: The resource's path below the issuer (a DPoP proof's ``htu``).
    path: str
    #: Whether a ``POST`` may carry the token as the ``access_token`` form parameter (RFC 6750 §2.2).
    form_token: bool = False
    #: Whether unbound (bearer) tokens are refused.
    require_dpop: bool = False
    #: The resource's own check of the verified token; raises :class:`idp.errors.InsufficientScope`.
    check: Callable[[AccessToken], None] | None = None


class Refused(Exception):
    """The request may not use the resource: :attr:`response` is the answer (status, challenge, DPoP nonce)."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__("refused")
        self.response = response


def challenge(scheme: str, settings: Settings, exc: OAuthError | None = None) -> str:
    """RFC 6750 §3 / RFC 9449 §7.1 challenge; without an error code when no credentials came (§3.1)."""
    return www_authenticate(scheme, realm=settings.issuer, algs=dpop.DPOP_ALGORITHMS if scheme == "DPoP" else (),
                            error=exc.error if exc else None, error_description=exc.description if exc else None)


async def _credentials(request: AnyRequest, policy: AccessPolicy) -> tuple[str, str] | None:
    """(scheme, access token) from the one method used, or None when the request carries none."""
    headers = request.headers.getall("authorization", [])
    in_body = None
    if policy.form_token and request.method == "POST" and request.headers.get("content-type", "").lower().startswith(
            _FORM):
        in_body = (await read_form(request)).get("access_token")
    if len(headers) + (in_body is not None) > 1:
        raise InvalidRequest("the access token must be sent by one method only (RFC 6750 §2)")
    if in_body is not None:
        return "Bearer", in_body
    if not headers:
        return None
    scheme, _, value = headers[0].partition(" ")
    scheme = _SCHEMES.get(scheme.lower(), "")
    if not scheme:
        return None
    if not _B64TOKEN.fullmatch(value.strip()):
        raise InvalidToken("the Authorization header does not hold a token")
    return scheme, value.strip()


async def _verified(request: AnyRequest, services: Services, policy: AccessPolicy,
                    scheme: str, token: str) -> AccessToken:
    access = await verify_access_token(services, token, utcnow())
    if access.jkt is not None:
        if scheme != "DPoP":
            raise InvalidToken("a DPoP-bound access token needs the DPoP scheme (RFC 9449 §7.2)")
        proof = await dpop.dpop_proof(request, services, path=policy.path, access_token=token)
        if proof is None or proof.jkt != access.jkt:
            raise InvalidToken("the DPoP proof is missing or made with another key (RFC 9449 §7.1)")
    elif access.client.dpop_bound_access_tokens:
        raise InvalidToken("the access token is not DPoP-bound, but its client registered dpop_bound_access_tokens "
                           "(RFC 9449 §5.2)")
    elif scheme == "DPoP":
        raise InvalidToken("the access token is not DPoP-bound; use the Bearer scheme")
    elif policy.require_dpop:
        raise InvalidToken("this resource needs a DPoP-bound access token (HAIP 1.0)")
    if policy.check is not None:
        policy.check(access)
    return access


async def guard(request: AnyRequest, services: Services, metrics: Metrics, policy: AccessPolicy) -> AccessToken:
    """The request's verified access token for the resource of ``policy``, or :class:`Refused` (steps in the
    module docstring)."""
    settings, scheme = services.settings, "Bearer"
    try:
        credentials = await _credentials(request, policy)
        if credentials is None:
            both = f"{challenge('Bearer', settings)}, {challenge('DPoP', settings)}"
            raise Refused(Response(b"", status_code=401, headers={**NO_STORE, "WWW-Authenticate": both},
                                   media_type=MediaType.TEXT))
        scheme, token = credentials
        return await _verified(request, services, policy, scheme, token)
    except dpop.UseDpopNonce as exc:
        raise Refused(error_response(exc, metrics, status=401, headers={
            "WWW-Authenticate": challenge("DPoP", settings, exc), "DPoP-Nonce": exc.nonce})) from None
    except (InvalidRequest, InvalidToken, InsufficientScope, dpop.InvalidDpopProof) as exc:
        status = 400 if isinstance(exc, InvalidRequest) else 403 if isinstance(exc, InsufficientScope) else 401
        scheme = "DPoP" if isinstance(exc, dpop.InvalidDpopProof) else scheme
        raise Refused(error_response(exc, metrics, status=status,
                                     headers={"WWW-Authenticate": challenge(scheme, settings, exc)})) from None


__all__ = ["GUARD_PARAMETERS", "GUARD_RESPONSES", "AccessPolicy", "Refused", "challenge", "guard"]
