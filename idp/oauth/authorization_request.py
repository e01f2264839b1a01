"""Authorization requests (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1): reading, limits, validation.

Validation runs in two phases, because an error may be sent to the client's redirect URI only once that URI
is known to be the client's (RFC 6749 §4.1.2.1, RFC 9700 §4.1.1):

1. ``client_id`` must name a registered client and ``redirect_uri`` must be one of its registered URIs,
   compared exactly (RFC 9700 §2.1). Errors here carry no :class:`ResponseTarget` and are shown to the person,
   never redirected. ``redirect_uri`` is required of every request (OIDC Core §3.1.2.1), so the token request
   always repeats it (RFC 6749 §4.1.3).
2. Everything else. Errors carry the target and go back to the client with ``state`` and ``iss`` (RFC 9207).

Parameters: each at most once (RFC 6749 §3.1; empty ones count as absent), each with a size limit
(:data:`LIMITS`), at most :data:`MAX_PARAMETERS` of them in at most :data:`MAX_REQUEST_OCTETS`. Only
``response_type=code`` (no implicit or hybrid flows: FAPI 2.0 §5.3.2.2), PKCE S256 for every client
(:mod:`idp.oauth.pkce`), ``response_mode`` ``query`` or ``form_post``. Unknown scope values are ignored (OIDC
Core §3.1.2.1); ``offline_access`` only counts with ``prompt=consent`` (OIDC Core §11). The ``claims``
parameter (OIDC Core §5.5) is a JSON object of at most :data:`MAX_CLAIMS_OCTETS` whose ``id_token`` and
``userinfo`` members name at most :data:`MAX_REQUESTED_CLAIMS` claims each.

Credentials (OpenID4VCI 1.0 §5.1): a request asks for credential configurations by scope value (each
configuration's identifier) and/or by ``authorization_details`` of type ``openid_credential`` (RFC 9396; then
``scope`` may be absent); ``issuer_state`` from a Credential Offer is carried along (never trusted, §5.1.3). The
claims the person approves for them form a third target, ``credential`` (:meth:`AuthorizationRequest.
requested_claims`), which never reaches an ID token or UserInfo.

The validated request (:class:`AuthorizationRequest`) is what interactions, pushed requests and authorization
codes store (:meth:`AuthorizationRequest.to_payload`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from credentials.oid4vci.authorization_details import (
    CredentialAuthorization,
    InvalidAuthorizationDetails,
    parse_authorization_details,
)
from credentials.oid4vci.configurations import CONFIGURATIONS, CREDENTIAL_SCOPES, CredentialConfiguration
from idp.clients import Client
from idp.errors import InvalidRequest, InvalidScope, OAuthError
from idp.oauth.pkce import S256, check_code_challenge
from idp.oauth.request_object import decode_request_object
from idp.oauth.scope import format_scope, parse_scope
from idp.runtime import Services
from servicekit.http.bodies import BodyError, parse_form_pairs

#: Most parameters one authorization request (query or form body) may have, and its largest size.
MAX_PARAMETERS: Final = 64
MAX_REQUEST_OCTETS: Final = 32 * 1024
#: Largest value of any parameter not in :data:`LIMITS`.
DEFAULT_LIMIT: Final = 2048
#: Largest value, in characters, of the parameters that have their own limit.
LIMITS: Final[Mapping[str, int]] = {"client_id": 255, "redirect_uri": 2000, "state": 2048, "nonce": 512,
                                    "scope": 1024, "response_type": 64, "response_mode": 64, "code_challenge": 128,
                                    "code_challenge_method": 16, "prompt": 128, "max_age": 10, "login_hint": 256,
                                    "ui_locales": 256, "acr_values": 1024, "claims": 4096, "dpop_jkt": 128,
                                    "request": 24 * 1024, "request_uri": 512, "authorization_details": 4096,
                                    "issuer_state": 512}
MAX_CLAIMS_OCTETS: Final = LIMITS["claims"]
MAX_REQUESTED_CLAIMS: Final = 32
#: The longest ``max_age`` accepted (a year); longer is treated as an error, not as "any".
MAX_MAX_AGE: Final = 366 * 86400

CODE: Final = "code"
OPENID: Final = "openid"
OFFLINE_ACCESS: Final = "offline_access"
RESPONSE_MODES: Final = ("query", "form_post")
PROMPTS: Final = ("none", "login", "consent", "select_account")
#: Claims each scope value asks for (OIDC Core §5.4, limited to what a card login can give; ``name``,
#: ``address``, ``birthdate`` and ``gender`` as single-claim scopes, as the Digital Agency's service has them).
SCOPE_CLAIMS: Final[Mapping[str, tuple[str, ...]]] = {
    "profile": ("name", "birthdate", "gender"),
    "address": ("address",),
    "name": ("name",),
    "birthdate": ("birthdate",),
    "gender": ("gender",),
}
SCOPES: Final = (OPENID, OFFLINE_ACCESS, *SCOPE_CLAIMS, *CREDENTIAL_SCOPES)
#: Claims set by the provider itself; requesting them never asks the person for anything.
PROTOCOL_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr",
                                    "amr", "azp", "sid", "at_hash", "c_hash", "s_hash", "cnf"})
CLAIM_TARGETS: Final = ("id_token", "userinfo")
#: The target of the claims approved for credentials (never an ID token or UserInfo).
CREDENTIAL_TARGET: Final = "credential"
#: RFC 9126 §2.2: the request_uri of a pushed request, stored as objects of kind ``PushedAuthorizationRequest``.
REQUEST_URI_PREFIX: Final = "urn:ietf:params:oauth:request_uri:"
PAR_KIND: Final = "PushedAuthorizationRequest"

#: RFC 6749 §3.3 scope-token, and the space-separated list of them.
#: RFC 6749 Appendix A.5: state = 1*VSCHAR.
_VSCHAR: Final = re.compile(r"[\x20-\x7e]+")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_JKT: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_LANGUAGE_TAG: Final = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_CLAIM_NAME: Final = re.compile(r"[\x21-\x7e]{1,64}")


class UnsupportedResponseType(OAuthError):
    """RFC 6749 §4.1.2.1 ``unsupported_response_type``: only ``code`` is supported."""

    error = "unsupported_response_type"
    status_code = 400


class AccessDenied(OAuthError):
    """RFC 6749 §4.1.2.1 ``access_denied``: the person refused, or cancelled the login."""

    error = "access_denied"
    status_code = 403


class LoginRequired(OAuthError):
    """OIDC Core §3.1.2.6 ``login_required``: ``prompt=none`` but a login is needed."""

    error = "login_required"
    status_code = 400


class ConsentRequired(OAuthError):
    """OIDC Core §3.1.2.6 ``consent_required``: ``prompt=none`` but consent is needed."""

    error = "consent_required"
    status_code = 400


class InvalidRequestUri(OAuthError):
    """OIDC Core §3.1.2.6 / RFC 9126 §4 ``invalid_request_uri``: unknown, expired, used or another client's."""

    error = "invalid_request_uri"
    status_code = 400


class InvalidAuthorizationDetailsError(OAuthError):
    """RFC 9396 §5 ``invalid_authorization_details``."""

    error = "invalid_authorization_details"
    status_code = 400


class UnmetAuthenticationRequirements(OAuthError):
    """``unmet_authentication_requirements`` (OpenID Connect Core Error Code): an essential ``acr`` was not met."""

    error = "unmet_authentication_requirements"
    status_code = 400


@dataclass(frozen=True, slots=True)
class ResponseTarget:
    """Where an authorization response goes: a redirect URI registered by the client, ``state``, the mode."""

    redirect_uri: str
    state: str | None
    response_mode: str = "query"


class AuthorizationError(Exception):
    """An OAuth error at the authorization endpoint: redirected to ``target`` or, without one, shown as a page."""

    def __init__(self, error: OAuthError, target: ResponseTarget | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.target = target


#: Query or form parameters: a value per name, a tuple for a repeated name. Request objects give JSON values.
Parameters = Mapping[str, Any]


def parse_parameters(encoded: bytes) -> dict[str, Any]:
    """The parameters of a query string or form body (``application/x-www-form-urlencoded``), bounded; a
    repeated parameter maps to the tuple of its values (an error only if it is used); empty ones are dropped
    (RFC 6749 §3.1). Raises :class:`idp.errors.InvalidRequest` for oversize or undecodable input."""
    try:
        pairs = parse_form_pairs(encoded, max_bytes=MAX_REQUEST_OCTETS, max_fields=MAX_PARAMETERS)
    except BodyError as exc:
        raise InvalidRequest(exc.description) from None
    params: dict[str, Any] = {}
    for name, value in ((name, value) for name, value in pairs if value):
        previous = params.get(name)
        params[name] = value if previous is None else (*(previous if isinstance(previous, tuple) else (previous,)),
                                                       value)
    return params


def text(params: Parameters, name: str) -> str | None:
    """The single string value of ``name`` (None when absent), within its limit and without control characters."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, tuple):
        raise InvalidRequest(f"parameter {name} is repeated (RFC 6749 §3.1)")
    if not isinstance(value, str):
        raise InvalidRequest(f"parameter {name} must be a string")
    limit = LIMITS.get(name, DEFAULT_LIMIT)
    if len(value) > limit:
        raise InvalidRequest(f"parameter {name} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise InvalidRequest(f"parameter {name} contains control characters")
    return value


def _words(params: Parameters, name: str) -> tuple[str, ...]:
    value = text(params, name)
    return () if value is None else tuple(dict.fromkeys(value.split()))


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """One requested claim (OIDC Core §5.5.1): whether it is essential, and the values asked for, if any."""

    essential: bool = False
    values: tuple[Any, ...] | None = None

    def to_json(self) -> dict[str, Any] | None:
        """The claim's JSON member (null for a plain request)."""
        if not self.essential and self.values is None:
            return None
        member: dict[str, Any] = {"essential": True} if self.essential else {}
        if self.values is not None:
            member["values"] = list(self.values)
        return member


ClaimsRequest = Mapping[str, Mapping[str, ClaimRequest]]


def _claim_request(target: str, name: str, member: object) -> ClaimRequest:
    if member is None:
        return ClaimRequest()
    if not isinstance(member, dict):
        raise InvalidRequest(f"claims.{target}.{name} must be null or an object (OIDC Core §5.5.1)")
    essential = member.get("essential", False)
    if not isinstance(essential, bool):
        raise InvalidRequest(f"claims.{target}.{name}.essential must be true or false")
    if "value" in member and "values" in member:
        raise InvalidRequest(f"claims.{target}.{name}: value or values, not both")
    values: tuple[Any, ...] | None = None
    if "value" in member:
        values = (member["value"],)
    elif "values" in member:
        if not isinstance(member["values"], list) or not member["values"]:
            raise InvalidRequest(f"claims.{target}.{name}.values must be a non-empty array")
        values = tuple(member["values"])
    return ClaimRequest(essential=essential, values=values)


def parse_claims(value: object) -> ClaimsRequest:
    """The ``claims`` parameter (OIDC Core §5.5): JSON text (or, in a request object, the object itself)."""
    if isinstance(value, str):
        try:
            document = json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidRequest("claims must be a JSON object (OIDC Core §5.5)") from None
    else:
        document = value
        if len(json.dumps(document, separators=(",", ":")).encode("utf-8")) > MAX_CLAIMS_OCTETS:
            raise InvalidRequest(f"claims is larger than {MAX_CLAIMS_OCTETS} octets")
    if not isinstance(document, dict):
        raise InvalidRequest("claims must be a JSON object (OIDC Core §5.5)")
    parsed: dict[str, dict[str, ClaimRequest]] = {}
    for target in CLAIM_TARGETS:
        members = document.get(target)
        if members is None:
            continue
        if not isinstance(members, dict):
            raise InvalidRequest(f"claims.{target} must be a JSON object")
        if len(members) > MAX_REQUESTED_CLAIMS:
            raise InvalidRequest(f"claims.{target} names more than {MAX_REQUESTED_CLAIMS} claims")
        for name in members:
            if not _CLAIM_NAME.fullmatch(name):
                raise InvalidRequest(f"claims.{target} has an invalid claim name")
        parsed[target] = {name: _claim_request(target, name, member) for name, member in members.items()}
    return parsed


def _claims_json(claims: ClaimsRequest) -> dict[str, dict[str, Any]]:
    return {target: {name: c.to_json() for name, c in members.items()} for target, members in claims.items()}


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request for ``response_type=code`` with PKCE S256."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    code_challenge: str
    state: str | None = None
    nonce: str | None = None
    response_mode: str = "query"
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: tuple[str, ...] = ()
    acr_values: tuple[str, ...] = ()
    claims: ClaimsRequest | None = None
    dpop_jkt: str | None = None
    authorization_details: tuple[CredentialAuthorization, ...] = ()
    issuer_state: str | None = None

    @property
    def credential_requests(self) -> tuple[tuple[CredentialConfiguration, tuple[tuple[str, ...], ...] | None], ...]:
        """The credential configurations asked for, with the claim paths the wallet narrowed them to (``None``:
        all): authorization details first, then scope values (details win for the same configuration, §5.1.2)."""
        chosen = {d.credential_configuration_id: d.claims for d in self.authorization_details}
        for config in CONFIGURATIONS.values():
            if config.scope in self.scope:
                chosen.setdefault(config.id, None)
        return tuple((CONFIGURATIONS[i], paths) for i, paths in chosen.items())

    @property
    def target(self) -> ResponseTarget:
        """Where this request's response goes."""
        return ResponseTarget(self.redirect_uri, self.state, self.response_mode)

    @property
    def is_openid(self) -> bool:
        """Whether this is an OpenID Connect request (scope ``openid``)."""
        return OPENID in self.scope

    def requested_claims(self) -> dict[str, dict[str, ClaimRequest]]:
        """The claims asked for, per target (OIDC Core §5.4, §5.5): scope values and ``claims.userinfo`` for
        UserInfo, ``claims.id_token`` for the ID token; protocol claims (``sub``, ``acr``, …) left out."""
        userinfo: dict[str, ClaimRequest] = {name: ClaimRequest() for scope in self.scope
                                             for name in SCOPE_CLAIMS.get(scope, ())}
        requested: dict[str, dict[str, ClaimRequest]] = {"id_token": {}, "userinfo": userinfo}
        for target, members in (self.claims or {}).items():
            requested[target].update(members)
        credential = {name: ClaimRequest() for config, paths in self.credential_requests
                      for name in config.consent_for(paths)}
        if credential:
            requested[CREDENTIAL_TARGET] = credential
        return {target: {n: c for n, c in members.items() if n not in PROTOCOL_CLAIMS}
                for target, members in requested.items()}

    def essential_acr(self) -> tuple[str, ...]:
        """The ``acr`` values the ``claims`` parameter requires as essential (OIDC Core §5.5.1.1); empty if none."""
        acr = (self.claims or {}).get("id_token", {}).get("acr")
        if acr is None or not acr.essential or acr.values is None:
            return ()
        return tuple(str(v) for v in acr.values)

    def requested_sub(self) -> str | None:
        """The ``sub`` value the ``claims`` parameter names, if any (OIDC Core §3.1.2.2 / §5.5.1)."""
        for target in CLAIM_TARGETS:
            sub = (self.claims or {}).get(target, {}).get("sub")
            if sub is not None and sub.values is not None and len(sub.values) == 1:
                return str(sub.values[0])
        return None

    def to_payload(self) -> dict[str, Any]:
        """The request as stored (parameter names and wire forms: space-separated lists, claims as JSON)."""
        return {"client_id": self.client_id, "redirect_uri": self.redirect_uri, "response_type": CODE,
                "response_mode": self.response_mode, "scope": format_scope(self.scope), "state": self.state,
                "nonce": self.nonce, "code_challenge": self.code_challenge, "code_challenge_method": S256,
                "prompt": " ".join(self.prompt), "max_age": self.max_age, "login_hint": self.login_hint,
                "ui_locales": " ".join(self.ui_locales), "acr_values": " ".join(self.acr_values),
                "claims": None if self.claims is None else _claims_json(self.claims), "dpop_jkt": self.dpop_jkt,
                "authorization_details": [d.to_json() for d in self.authorization_details] or None,
                "issuer_state": self.issuer_state}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AuthorizationRequest:
        """The request :meth:`to_payload` stored."""
        claims = payload.get("claims")
        return cls(client_id=payload["client_id"], redirect_uri=payload["redirect_uri"],
                   scope=tuple(payload["scope"].split()), code_challenge=payload["code_challenge"],
                   state=payload.get("state"), nonce=payload.get("nonce"),
                   response_mode=payload.get("response_mode") or "query",
                   prompt=tuple((payload.get("prompt") or "").split()), max_age=payload.get("max_age"),
                   login_hint=payload.get("login_hint"), ui_locales=tuple((payload.get("ui_locales") or "").split()),
                   acr_values=tuple((payload.get("acr_values") or "").split()),
                   claims=None if claims is None else parse_claims(claims), dpop_jkt=payload.get("dpop_jkt"),
                   authorization_details=tuple(CredentialAuthorization.from_json(d)
                                               for d in payload.get("authorization_details") or ()),
                   issuer_state=payload.get("issuer_state"))


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
    prompt = _words(params, "prompt")
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
    return tuple(tag for tag in _words(params, "ui_locales") if _LANGUAGE_TAG.fullmatch(tag))[:16]


def validate_request(client: Client, params: Parameters) -> AuthorizationRequest:
    """Both phases for ``client``: the validated request, or :class:`AuthorizationError` (with a target once
    the redirect URI is verified). ``params`` come from the query, the form body, or a request object."""
    try:
        redirect_uri = verified_redirect_uri(client, params)
    except OAuthError as exc:
        raise AuthorizationError(exc, None) from None
    mode = params.get("response_mode")
    target = ResponseTarget(redirect_uri, _state(params), mode if mode in RESPONSE_MODES else "query")
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
                                acr_values=_words(params, "acr_values"), claims=claims, dpop_jkt=dpop_jkt,
                                authorization_details=details, issuer_state=text(params, "issuer_state"))


def _authorization_details(params: Parameters) -> tuple[CredentialAuthorization, ...]:
    value = params.get("authorization_details")
    if value is None or value == "":
        return ()
    raw = value if isinstance(value, list) else text(params, "authorization_details")
    try:
        return parse_authorization_details(raw, issuer=None)
    except InvalidAuthorizationDetails as exc:
        raise InvalidAuthorizationDetailsError(str(exc)) from None


async def push_request(services: Services, request: AuthorizationRequest, now: dt.datetime) -> tuple[str, int]:
    """Store a validated pushed request (RFC 9126 §2.2): its ``request_uri`` and ``expires_in``."""
    ttl = services.settings.authorization.par_ttl
    reference = secrets.token_urlsafe(32)
    await services.objects.upsert(PAR_KIND, reference, {"client_id": request.client_id,
                                                        "request": request.to_payload()},
                                  now + dt.timedelta(seconds=ttl))
    return REQUEST_URI_PREFIX + reference, int(ttl)


async def take_pushed_request(services: Services, client: Client, request_uri: str,
                              now: dt.datetime) -> AuthorizationRequest:
    """The pushed request ``request_uri`` names (RFC 9126 §4), used up: once, by the client that pushed it, before
    it expires, and still within the client's registered redirect URIs."""
    reference = request_uri.removeprefix(REQUEST_URI_PREFIX)
    if reference == request_uri or not 0 < len(reference) <= 255:
        raise InvalidRequestUri("request_uri must come from this provider's pushed authorization request endpoint")
    stored = await services.objects.find(PAR_KIND, reference, now=now)
    if stored is None or stored.payload.get("client_id") != client.client_id:
        raise InvalidRequestUri("request_uri is unknown, expired, or was pushed by another client")
    if await services.objects.consume(PAR_KIND, reference, now=now) is None:
        raise InvalidRequestUri("request_uri was already used (RFC 9126 §4)")
    request = AuthorizationRequest.from_payload(stored.payload["request"])
    if request.redirect_uri not in client.redirect_uris:
        raise InvalidRequest("redirect_uri is no longer registered for this client")
    return request


async def resolve_request(services: Services, params: Parameters,
                          now: dt.datetime) -> tuple[Client, AuthorizationRequest]:
    """The client and the validated request of an authorization endpoint request: a pushed one (``request_uri``),
    one in a request object (``request``, RFC 9101 §5: its parameters only), or the parameters themselves.
    Requests that were not pushed are refused when ``authorization.require_par`` or the client requires PAR."""
    try:
        client_id = text(params, "client_id")
        if client_id is None:
            raise InvalidRequest("client_id is required")
        client = await services.clients.get(client_id)
        if client is None:
            raise InvalidRequest("client_id does not name a registered client")
        if "request_uri" in params:
            if "request" in params:
                raise InvalidRequest("request and request_uri cannot both be given (RFC 9101 §5)")
            return client, await take_pushed_request(services, client, text(params, "request_uri") or "", now)
        if "request" in params:
            params = await decode_request_object(text(params, "request") or "", client=client, services=services,
                                                 now=now)
    except OAuthError as exc:
        raise AuthorizationError(exc, None) from None
    request = validate_request(client, params)
    if services.settings.authorization.require_par or client.require_par:
        raise AuthorizationError(InvalidRequest("this client must push its authorization requests (RFC 9126 §5)"),
                                 request.target)
    return client, request


__all__ = [
    "CODE", "LIMITS", "MAX_PARAMETERS", "MAX_REQUEST_OCTETS", "OFFLINE_ACCESS", "OPENID", "PAR_KIND", "PROMPTS",
    "PROTOCOL_CLAIMS", "REQUEST_URI_PREFIX", "RESPONSE_MODES", "SCOPES", "SCOPE_CLAIMS", "AccessDenied",
    "AuthorizationError", "AuthorizationRequest", "ClaimRequest", "ConsentRequired", "InvalidRequestUri",
    "LoginRequired", "ResponseTarget", "UnmetAuthenticationRequirements", "UnsupportedResponseType", "parse_claims",
    "parse_parameters", "push_request", "resolve_request", "take_pushed_request", "text", "validate_request",
    "verified_redirect_uri",
]
