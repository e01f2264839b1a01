"""Validating an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1, §3.1.2.2), in two
phases, because an error may be sent to the client's redirect URI only once that URI is known to be the client's
(RFC 6749 §4.1.2.1, RFC 9700 §4.1.1):

1. ``client_id`` must name a registered client and ``redirect_uri`` must be one of its registered URIs,
   compared exactly (RFC 9700 §2.1). Errors here carry no :class:`ResponseTarget` and are shown to the person,
   never redirected. ``redirect_uri`` is required of every request (OIDC Core §3.1.2.1), so the token request
   always repeats it (RFC 6749 §4.1.3).
2. Everything else. Errors carry the target and go back to the client with ``state`` and ``iss`` (RFC 9207).

Only ``response_type=code`` (no implicit or hybrid flows: FAPI 2.0 §5.3.2.2), PKCE S256 for every client
(:mod:`idp.oauth.pkce`), ``response_mode`` ``query`` or ``form_post``. Unknown scope values are ignored (OIDC
Core §3.1.2.1); ``offline_access`` only counts with ``prompt=consent`` (OIDC Core §11)::

    request = validate_request(client, parse_parameters(query))  # or AuthorizationError
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from idp.clients import Client
from idp.errors import InvalidRequest, InvalidScope, OAuthError
from idp.oauth.authorization_request.claims import ClaimsRequest, parse_claims
from idp.oauth.authorization_request.details import parse_details
from idp.oauth.authorization_request.errors import (
    RESPONSE_MODES,
    AuthorizationError,
    ResponseMode,
    ResponseTarget,
    UnsupportedResponseType,
)
from idp.oauth.authorization_request.parameters import Parameters, text, words
from idp.oauth.authorization_request.request import (
    CODE,
    OFFLINE_ACCESS,
    OPENID,
    PROMPTS,
    SCOPES,
    AuthorizationRequest,
)
from idp.oauth.authorization_request.sign_transaction import JPKI_SIGN, transaction_details
from idp.oauth.pkce import check_code_challenge
from idp.oauth.scope import parse_scope

#: The longest ``max_age`` accepted (a year); longer is treated as an error, not as "any".
MAX_MAX_AGE: Final = 366 * 86400
#: RFC 6749 Appendix A.5: state = 1*VSCHAR.
_VSCHAR: Final = re.compile(r"[\x20-\x7e]+")
_JKT: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_LANGUAGE_TAG: Final = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def verified_redirect_uri(client: Client, params: Parameters) -> str:
    """Phase 1: the request's ``redirect_uri``, if it is exactly one of the client's (RFC 9700 §2.1)."""
    redirect_uri = text(params, "redirect_uri")
    if redirect_uri is None:
        raise InvalidRequest("redirect_uri is required (OIDC Core §3.1.2.1)")
    if redirect_uri not in client.redirect_uris:
        raise InvalidRequest("redirect_uri is not registered for this client",
                             detail=f"client {client.client_id}: unregistered redirect URI")
    return redirect_uri


def _state(params: Parameters) -> str | None:
    try:
        state = text(params, "state")
    except InvalidRequest:
        return None
    return state if state is None or _VSCHAR.fullmatch(state) else None


def _scope(params: Parameters, prompt: tuple[str, ...], *, details: bool) -> tuple[str, ...]:
    value = text(params, "scope")
    if value is None:
        if details:  # OpenID4VCI 1.0 §5.1.1: authorization_details alone may say what is asked
            return ()
        raise InvalidRequest("scope is required")
    scope = tuple(s for s in parse_scope(value) if s in SCOPES)
    if OFFLINE_ACCESS in scope and "consent" not in prompt:
        scope = tuple(s for s in scope if s != OFFLINE_ACCESS)  # OIDC Core §11: only with prompt=consent
    if not scope and not details:
        raise InvalidScope(f"no supported scope value; supported: {' '.join(SCOPES)}")
    return scope


def _prompt(params: Parameters) -> tuple[str, ...]:
    prompt = words(params, "prompt")
    unknown = [p for p in prompt if p not in PROMPTS]
    if unknown:
        raise InvalidRequest(f"prompt values are {', '.join(PROMPTS)}")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values (OIDC Core §3.1.2.1)")
    return prompt


def _max_age(params: Parameters) -> int | None:
    value = params.get("max_age")
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raw = text(params, "max_age")
        if raw is None:
            return None
        if not raw.isascii() or not raw.isdigit():
            raise InvalidRequest("max_age must be a non-negative integer (seconds)")
        number = int(raw)
    if not 0 <= number <= MAX_MAX_AGE:
        raise InvalidRequest(f"max_age must be between 0 and {MAX_MAX_AGE} seconds")
    return number


def _claims(params: Parameters) -> ClaimsRequest | None:
    value = params.get("claims")
    if isinstance(value, dict):
        return parse_claims(value)
    raw = text(params, "claims")
    return None if raw is None else parse_claims(raw)


def _ui_locales(params: Parameters) -> tuple[str, ...]:
    return tuple(tag for tag in words(params, "ui_locales") if _LANGUAGE_TAG.fullmatch(tag))[:16]


def validate_request(client: Client, params: Parameters) -> AuthorizationRequest:
    """Both phases for ``client``: the validated request, or :class:`AuthorizationError` (with a target once
    the redirect URI is verified). ``params`` come from the query, the form body, or a request object."""
    try:
        redirect_uri = verified_redirect_uri(client, params)
    except OAuthError as exc:
        raise AuthorizationError(exc, None) from None
    mode = params.get("response_mode")
    target = ResponseTarget(redirect_uri, _state(params),
                            ResponseMode(mode) if mode in RESPONSE_MODES else ResponseMode.QUERY)
    try:
        return _validate(client, params, target)
    except OAuthError as exc:
        raise AuthorizationError(exc, target) from None


def _validate(client: Client, params: Parameters, target: ResponseTarget) -> AuthorizationRequest:
    if text(params, "state") is not None and target.state is None:
        raise InvalidRequest("state must be visible ASCII characters (RFC 6749 Appendix A.5)")
    response_type = text(params, "response_type")
    if response_type is None:
        raise InvalidRequest("response_type is required")
    if response_type != CODE:
        raise UnsupportedResponseType("only response_type=code is supported")
    if (text(params, "response_mode") or "query") not in RESPONSE_MODES:
        raise InvalidRequest(f"response_mode must be one of {', '.join(RESPONSE_MODES)}")
    for name in ("request", "request_uri"):
        if name in params:
            raise InvalidRequest(f"{name} is not allowed here (RFC 9101 §4, RFC 9126 §2.1)")
    code_challenge = check_code_challenge(text(params, "code_challenge"), text(params, "code_challenge_method"))
    prompt = _prompt(params)
    details = _authorization_details(params)
    scope = _scope(params, prompt, details=bool(details))
    if (transaction := transaction_details(params, scope)) and any(d.get("type") == JPKI_SIGN for d in details):
        raise InvalidRequest("one signing request per authorization request: sign_transaction_id or jpki_sign")
    details = (*details, *transaction)
    claims = _claims(params)
    if claims is not None and OPENID not in scope:
        raise InvalidRequest("the claims parameter needs scope openid (OIDC Core §5.5)")
    dpop_jkt = text(params, "dpop_jkt")
    if dpop_jkt is not None and not _JKT.fullmatch(dpop_jkt):
        raise InvalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint (RFC 9449 §10)")
    return AuthorizationRequest(client_id=client.client_id, redirect_uri=target.redirect_uri, scope=scope,
                                code_challenge=code_challenge, state=target.state, nonce=text(params, "nonce"),
                                response_mode=target.response_mode, prompt=prompt, max_age=_max_age(params),
                                login_hint=text(params, "login_hint"), ui_locales=_ui_locales(params),
                                acr_values=words(params, "acr_values"), claims=claims, dpop_jkt=dpop_jkt,
                                authorization_details=details, issuer_state=text(params, "issuer_state"))


def _authorization_details(params: Parameters) -> tuple[Mapping[str, Any], ...]:
    value = params.get("authorization_details")
    if value is None or value == "":
        return ()
    return parse_details(value if isinstance(value, list) else text(params, "authorization_details"))


__all__ = ["MAX_MAX_AGE", "validate_request", "verified_redirect_uri"]
