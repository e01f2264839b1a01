"""Client authentication at the token, PAR, revocation and introspection endpoints.

RFC 6749 §2.3 (one method per request; client_secret_basic per §2.3.1), RFC 7523 §2.2 and §3 with OIDC
Core §9 (private_key_jwt: ``iss`` = ``sub`` = client_id, ``exp`` required and bounded, ``jti`` single use),
and ``none`` for public clients only. A client authenticates only with the method it registered.

A client assertion's ``aud`` is the issuer identifier and nothing else, at every endpoint that authenticates
clients (draft-ietf-oauth-rfc7523bis §4, FAPI 2.0 Security Profile §5.3.2.1): the issuer as a string, or an
array holding exactly that one value. Endpoint URLs as audiences let an assertion made for one server be
replayed at another that shares an endpoint URL scheme; ``tokens.client_assertion_legacy_audiences`` accepts
the token endpoint's and the receiving endpoint's URL again for relying parties that still send them (refused
under ``authorization.profile = "fapi2"``). An array naming anything else is refused either way
(``invalid_client``, RFC 6749 §5.2).

Client assertions are verified with :func:`keys.jose.jwt.verify_jwt` (strict JWS: no ``none``, no
header-supplied keys) against the client's registered ``jwks``. ``jwks_uri`` is not fetched: registering
a ``jwks_uri`` client is accepted by the admin tools but its assertions are refused until key fetching
exists (a documented gap, not a silent success).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Collection, Mapping
from typing import Any, Final
from urllib.parse import unquote_plus

from idp.clients import AuthMethod, Client
from idp.errors import InvalidClient, InvalidRequest
from idp.runtime import Services
from idp.settings import Settings
from keys.errors import VerificationError
from keys.jose.b64 import b64url_decode
from keys.jose.json import loads_object
from keys.jose.jwk import VerificationKey
from keys.jose.jwt import verify_jwt
from servicekit.http import openapi as doc

_log = logging.getLogger("idp.client_auth")

JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: FAPI 2.0 Security Profile §5.4.1: PS256, ES256 and EdDSA (Ed25519) only; never RS256, HS*, none.
ASSERTION_ALGORITHMS: Final = ("ES256", "PS256", "EdDSA")
#: Objects-store kind recording used assertion ``jti`` values until their ``exp``.
JTI_KIND: Final = "ClientAssertionJti"
#: The token endpoint's path (:mod:`idp.endpoints.token`), which a client assertion's ``aud`` may name at every
#: endpoint under ``tokens.client_assertion_legacy_audiences`` (RFC 7523 §3).
TOKEN_PATH: Final = "/token"
_MAX_CLIENT_ID: Final = 255
#: OpenAPI: the form parameters and the header :func:`authenticate_client` reads (RFC 6749 §2.3.1, RFC 7523 §2.2),
#: and its refusal (RFC 6749 §5.2).
CLIENT_AUTH_FIELDS: Final = doc.strings("client_id", "client_secret", "client_assertion_type", "client_assertion")
CLIENT_AUTH_HEADER: Final = doc.AUTHORIZATION_BASIC
INVALID_CLIENT: Final = doc.oauth_error(401, description="invalid_client (RFC 6749 §5.2)", headers={
    "WWW-Authenticate": "a Basic challenge, when the client used the Authorization header"})


def endpoint_audiences(settings: Settings, path: str) -> tuple[str, ...]:
    """What a client assertion's ``aud`` may hold at the endpoint ``path``: the issuer only
    (draft-ietf-oauth-rfc7523bis §4); with ``tokens.client_assertion_legacy_audiences`` also the token endpoint URL
    (RFC 7523 §3) and the endpoint's own URL."""
    if not settings.tokens.client_assertion_legacy_audiences:
        return (settings.issuer,)
    return tuple(dict.fromkeys((settings.issuer, settings.issuer + TOKEN_PATH, settings.issuer + path)))


async def authenticate_client(
    *,
    form: Mapping[str, str],
    authorization: str | None,
    services: Services,
    audiences: Collection[str],
    now: dt.datetime,
) -> Client:
    """The registered client that authenticated this request, by its registered method only.

    ``form`` is the decoded request body (``client_id``, ``client_assertion_type``, ``client_assertion``);
    ``authorization`` the HTTP Authorization header, if any; ``audiences`` the values a client assertion's
    ``aud`` may hold (:func:`endpoint_audiences`), every one of its values being one of them. Raises
    :class:`idp.errors.InvalidClient` (or :class:`idp.errors.InvalidRequest` for a malformed request) on every
    other outcome.
    """
    basic = _basic_credentials(authorization)
    assertion = form.get("client_assertion")
    if basic is not None and (assertion is not None or "client_secret" in form):
        raise InvalidRequest("more than one client authentication method used")
    if "client_secret" in form:
        raise InvalidClient("client_secret in the request body is not accepted; use HTTP Basic")
    if basic is not None:
        client_id, secret = basic
        if form.get("client_id") not in (None, client_id):
            raise InvalidRequest("client_id in the body differs from the authenticated client")
        client = await _client(services, client_id, basic_used=True)
        if client.auth_method is not AuthMethod.CLIENT_SECRET_BASIC or not client.secret_matches(secret):
            raise _invalid("client authentication failed", client_id, basic_used=True)
        return client
    if assertion is not None:
        return await _private_key_jwt(form, assertion, services, audiences, now)
    public_id = form.get("client_id")
    if not public_id:
        raise InvalidClient("client authentication required")
    client = await _client(services, public_id, basic_used=False)
    if client.auth_method is not AuthMethod.NONE:
        raise _invalid("this client must authenticate", public_id, basic_used=False)
    return client


async def _private_key_jwt(
    form: Mapping[str, str], assertion: str, services: Services, audiences: Collection[str], now: dt.datetime
) -> Client:
    if form.get("client_assertion_type") != JWT_BEARER:
        raise InvalidRequest(f"client_assertion_type must be {JWT_BEARER}")
    client_id = _unverified_issuer(assertion)
    if form.get("client_id") not in (None, client_id):
        raise InvalidRequest("client_id differs from the client assertion's issuer")
    client = await _client(services, client_id, basic_used=False)
    if client.auth_method is not AuthMethod.PRIVATE_KEY_JWT:
        raise _invalid("this client does not authenticate with private_key_jwt", client_id, basic_used=False)
    leeway = dt.timedelta(seconds=services.settings.tokens.clock_tolerance)
    try:
        verified = verify_jwt(
            assertion,
            algorithms=ASSERTION_ALGORITHMS,
            typ=None,
            issuer=client_id,
            audience=tuple(audiences),
            at=now,
            leeway=leeway,
            required_claims=("exp", "sub", "jti"),
            keys=client_keys(client),
        )
    except VerificationError as exc:
        raise _invalid("client assertion refused", client_id, basic_used=False, detail=str(exc)) from None
    claims = verified.claims
    if not _only_accepted(claims["aud"], audiences):
        raise _invalid("client assertion aud must be the issuer only (draft-ietf-oauth-rfc7523bis §4)", client_id,
                       basic_used=False)
    if claims["sub"] != client_id:
        raise _invalid("client assertion sub must be the client_id", client_id, basic_used=False)
    jti, exp = claims["jti"], claims["exp"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 255:
        raise _invalid("client assertion jti must be a short string", client_id, basic_used=False)
    expires = dt.datetime.fromtimestamp(exp, dt.UTC)
    if expires - now > dt.timedelta(seconds=services.settings.tokens.client_assertion_max_lifetime) + leeway:
        raise _invalid("client assertion lives too long", client_id, basic_used=False)
    if not await services.objects.remember_once(JTI_KIND, single_use_key(client_id, jti), expires_at=expires + leeway,
                                                now=now):
        raise _invalid("client assertion already used", client_id, basic_used=False)
    return client


def _only_accepted(aud: object, audiences: Collection[str]) -> bool:
    """Whether ``aud`` is one accepted value, or an array of distinct accepted values (with only the issuer
    accepted: exactly ``[issuer]``); :func:`keys.jose.jwt.verify_jwt` checked only that one value is ours."""
    if isinstance(aud, str):
        return aud in audiences
    return (isinstance(aud, list) and len(aud) == len(set(map(str, aud)))
            and all(isinstance(value, str) and value in audiences for value in aud))


def single_use_key(scope: str, jti: str) -> str:
    """The objects-store id under which ``jti`` of ``scope`` (a client, a DPoP key) is remembered: SHA-256 hex of
    both, so that any client_id and ``jti`` (up to 255 characters each) fit the store's id."""
    return hashlib.sha256(f"{len(scope)}:{scope}{jti}".encode()).hexdigest()


def client_keys(client: Client) -> tuple[VerificationKey, ...]:
    """Each registered signature key bound to each assertion algorithm it fits (RSA keys often carry no
    ``alg``; an EC or OKP key fits exactly one)."""
    if not client.jwks:
        return ()
    return _keys_of(json.dumps(dict(client.jwks), sort_keys=True, separators=(",", ":")))


@functools.lru_cache(maxsize=1024)
def _keys_of(jwks: str) -> tuple[VerificationKey, ...]:
    """The keys of a JWK Set (its canonical JSON, so that equal sets share one entry): parsing and checking keys
    costs more than the signature check, and a client's keys change only with its registration."""
    entries: list[Any] = list(json.loads(jwks).get("keys", []))
    keys: list[VerificationKey] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        for alg in ASSERTION_ALGORITHMS:
            try:
                keys.append(VerificationKey.from_jwk(entry, alg=alg))
            except VerificationError:
                continue
    return tuple(keys)


def _unverified_issuer(assertion: str) -> str:
    """The ``iss`` of a not yet verified assertion, only to find whose keys verify it."""
    try:
        payload = assertion.split(".")[1]
        claims = loads_object(b64url_decode(payload, "client assertion"), what="client assertion")
    except (IndexError, VerificationError):
        raise InvalidClient("client_assertion is not a JWT") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not 0 < len(issuer) <= _MAX_CLIENT_ID:
        raise InvalidClient("client assertion has no usable iss")
    return issuer


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1 / RFC 7617: ``Basic base64(urlencode(id) ":" urlencode(secret))``."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("malformed Basic credentials", www_authenticate='Basic realm="token"') from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise InvalidClient("malformed Basic credentials", www_authenticate='Basic realm="token"')
    return unquote_plus(client_id), unquote_plus(secret)


async def _client(services: Services, client_id: str, *, basic_used: bool) -> Client:
    if len(client_id) > _MAX_CLIENT_ID:
        raise InvalidRequest("client_id too long")
    client = await services.clients.get(client_id)
    if client is None:
        raise _invalid("unknown client", client_id, basic_used=basic_used)
    return client


def _invalid(description: str, client_id: str, *, basic_used: bool, detail: str | None = None) -> InvalidClient:
    """RFC 6749 §5.2: 401 with a Basic challenge when the client tried the Authorization header."""
    _log.info("client_auth_failed", extra={"client_id": client_id, "reason": description})
    return InvalidClient(description, detail=detail,
                         www_authenticate='Basic realm="token"' if basic_used else None)
