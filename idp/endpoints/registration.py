"""Dynamic client registration: ``POST /register`` (RFC 7591 §3, OIDC Dynamic Client Registration 1.0) and client
configuration ``GET``/``PUT``/``DELETE /register/{client_id}`` (RFC 7592 §2) with the registration access token.

``registration.mode`` decides who may register: nobody (``off``, the default: the endpoint answers 404 and is not
advertised), holders of the initial access token (``token``, RFC 7591 §3 Bearer), or anyone (``open``, for tests
and conformance runs). Metadata is checked by :func:`idp.clients.register_client`, the same checks as the admin
CLI, plus what only registration sees:

* ``redirect_uris`` are https or http on a loopback IP literal; private-use schemes only for ``application_type``
  ``native`` (OIDC Dynamic Client Registration §2). Matching is exact later.
* ``token_endpoint_auth_method`` defaults to ``client_secret_basic`` (RFC 7591 §2); ``*_signing_alg`` values are
  allow-listed (assertions and request objects: ES256, PS256, EdDSA); encrypted responses are refused, not
  ignored, since we cannot honour them; ``subject_type`` can only be ``pairwise``.
* ``id_token_signed_response_alg`` defaults to RS256 when the provider has an RS256 key, as OIDC Dynamic Client
  Registration §2 says, else ES256; the chosen value is in the response.
* URLs the provider itself calls (``sector_identifier_uri``, ``backchannel_logout_uri``) are https; http on a
  loopback IP only in test mode, so that registration cannot point the provider at its own host's services. A
  host that is an IP literal the outbound address policy refuses (loopback outside test mode, private,
  link-local, metadata: :mod:`servicekit.outbound`, ``http.outbound_allow``) is refused here already; names are
  judged when they are resolved, at each request, since their addresses may change.
* ``sector_identifier_uri`` is fetched through the provider's outbound client (address policy, no redirects,
  ``registration.fetch_timeout`` for the whole request, at most 64 KiB), read as one strict JSON array
  (:func:`servicekit.http.bodies.parse_json_array`) and must list every redirect URI (§5). Whatever made the
  fetch fail (refused address, closed port, timeout, HTTP status, size, not a JSON array of strings), the
  answer says the same, so that registration cannot be used to scan a network; the log says why.
* ``jwks_uri`` is refused: keys are not fetched yet (:mod:`idp.oauth.client_auth` would refuse the client's
  assertions and request objects), so registration says so at once; send ``jwks`` instead.
* Presentation metadata (``client_name``, ``logo_uri``, ``policy_uri``, ``tos_uri`` with language tags, and
  ``purpose_of_use``: :mod:`idp.client_presentation`) is checked and length-limited, its URLs https outside test
  mode; the logo is fetched once through the outbound client, checked and re-encoded (:mod:`idp.web.logos`), and
  served by the provider; whatever made it unusable, the answer says the same.
* CIBA (CIBA Core 1.0 §4): ``backchannel_token_delivery_mode`` ``poll`` or ``ping`` (push is not supported; without
  it the client polls), ``backchannel_client_notification_endpoint`` for ping only (an https URL checked like the
  other URLs the provider calls), ``backchannel_user_code_parameter`` only ``false`` (discovery says
  ``backchannel_user_code_parameter_supported: false``). Kept as the client's CIBA delivery
  (:mod:`idp.login.counter`, the same record as ``idp counter client``).
* ``kiosk`` (ours; discovery ``kiosk_supported``): ``true`` marks the client as a kiosk's, whose logins open no
  browser session and never reuse one (:mod:`idp.oauth.kiosk`, the same mark as ``idp counter kiosk``).
* Metadata we do not know is ignored (RFC 7591 §2), and not stored.

Secrets are random, returned once and kept as SHA-256 only: the client secret and the registration access token.
So a read (RFC 7592 §2.1) answers the token the client presented and no ``client_secret``; an update keeps the
secret unless the authentication method changes to ``client_secret_basic``, which issues a new one. Deleting a
client makes its tokens fail verification (they name a client that no longer exists).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final, cast
from urllib.parse import urlsplit

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from idp.client_presentation import PresentationError, presentation_from_metadata
from idp.clients import (
    DEFAULT_ID_TOKEN_ALG,
    AuthMethod,
    Client,
    InvalidClientMetadata,
    hash_secret,
    register_client,
)
from idp.errors import InvalidRequest, InvalidToken, OAuthError
from idp.login.counter import CibaClient, DeliveryMode, recorded_ciba_client, remove_ciba_client, set_ciba_client
from idp.oauth.client_auth import ASSERTION_ALGORITHMS
from idp.oauth.grants import grant_types as registered_grant_types
from idp.oauth.kiosk import is_kiosk_client, set_kiosk_client
from idp.runtime import Services, utcnow
from idp.settings import Settings, outbound_policy
from idp.storage import ClientExists
from idp.storage.audit import record
from idp.web.logos import LogoError, with_logo
from servicekit.http import openapi as doc
from servicekit.http.bodies import BodyError, BodyReason, parse_json_array, read_json
from servicekit.outbound import OutboundClient, OutboundError

PATH: Final = "/register"
CLIENT_PATH: Final = "/register/{client_id:str}"
#: Largest registration request (a JWK Set of 16 RSA keys fits comfortably).
MAX_REQUEST_OCTETS: Final = 64 * 1024
#: Largest sector_identifier_uri document read.
MAX_SECTOR_DOCUMENT: Final = 64 * 1024
_JSON: Final = "application/json"
#: The one answer to a sector_identifier_uri that could not be read, whatever the reason (the log has it).
SECTOR_UNREADABLE: Final = "sector_identifier_uri could not be fetched as a JSON array of URIs"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: RFC 7592 §2.2: fields the provider issues, never accepted from the client in an update.
_ISSUED: Final = ("registration_access_token", "registration_client_uri", "client_secret_expires_at",
                  "client_id_issued_at")
_ENCRYPTION: Final = ("id_token_encrypted_response_alg", "id_token_encrypted_response_enc",
                      "userinfo_encrypted_response_alg", "userinfo_encrypted_response_enc",
                      "request_object_encryption_alg", "request_object_encryption_enc",
                      "authorization_encrypted_response_alg", "authorization_encrypted_response_enc")
_log = logging.getLogger("idp.registration")

AnyRequest = Request[Any, Any, Any]


class InvalidClientMetadataError(OAuthError):
    """RFC 7591 §3.2.2 ``invalid_client_metadata``."""

    error: ClassVar[str] = "invalid_client_metadata"
    status_code: ClassVar[int] = 400


class InvalidRedirectUri(OAuthError):
    """RFC 7591 §3.2.2 ``invalid_redirect_uri``."""

    error: ClassVar[str] = "invalid_redirect_uri"
    status_code: ClassVar[int] = 400


def _refused(exc: InvalidClientMetadata) -> OAuthError:
    if exc.error == "invalid_redirect_uri":
        return InvalidRedirectUri(exc.description)
    return InvalidClientMetadataError(exc.description)


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """``registration_endpoint`` (OIDC Discovery §3, RFC 8414 §2) when registration is on."""
    if settings.registration.mode == "off":
        return {}
    return {"registration_endpoint": settings.issuer + PATH, "kiosk_supported": True}


# -- metadata ------------------------------------------------------------------------------------------------------


def _strings(document: Mapping[str, Any], name: str) -> list[str] | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or len(value) > 32:
        raise InvalidClientMetadataError(f"{name} must be an array of at most 32 non-empty strings")
    return value


def _string(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidClientMetadataError(f"{name} must be a non-empty string")
    return value


def _flag(document: Mapping[str, Any], name: str) -> bool:
    value = document.get(name, False)
    if not isinstance(value, bool):
        raise InvalidClientMetadataError(f"{name} must be true or false")
    return value


def _check_redirect_schemes(redirect_uris: Sequence[str], application_type: str) -> None:
    """OIDC Dynamic Client Registration §2 ``application_type``: web clients use https (or a loopback IP in
    development); only native clients may use private-use URI schemes (RFC 8252 §7.1)."""
    for uri in redirect_uris:
        if urlsplit(uri).scheme not in ("https", "http") and application_type != "native":
            raise InvalidRedirectUri("private-use URI schemes are for application_type native only")


def registration_arguments(document: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The :func:`idp.clients.register_client` keyword arguments for a registration request's metadata."""
    for name in _ENCRYPTION:
        if name in document:
            raise InvalidClientMetadataError(f"{name}: encrypted responses and request objects are not supported")
    if "jwks_uri" in document:
        raise InvalidClientMetadataError("jwks_uri is not supported: register the keys themselves as jwks")
    application_type = _string(document, "application_type") or "web"
    if application_type not in ("web", "native"):
        raise InvalidClientMetadataError("application_type must be web or native")
    redirect_uris = _strings(document, "redirect_uris")
    if not redirect_uris:
        raise InvalidRedirectUri("redirect_uris is required")
    _check_redirect_schemes(redirect_uris, application_type)
    response_types = _strings(document, "response_types") or ["code"]
    grant_types = _strings(document, "grant_types") or ["authorization_code"]
    if set(response_types) != {"code"}:
        raise InvalidClientMetadataError("response_types must be [\"code\"]")
    supported = registered_grant_types()
    if not set(grant_types) <= set(supported) or "authorization_code" not in grant_types:
        raise InvalidClientMetadataError(f"grant_types must include authorization_code and be among "
                                         f"{', '.join(supported)} (RFC 7591 §2.1)")
    if _string(document, "subject_type") not in (None, "pairwise"):
        raise InvalidClientMetadataError("subject_type must be pairwise: subject identifiers are always pairwise")
    method = _string(document, "token_endpoint_auth_method") or AuthMethod.CLIENT_SECRET_BASIC.value
    if method not in {m.value for m in AuthMethod}:
        raise InvalidClientMetadataError(f"token_endpoint_auth_method must be one of "
                                         f"{', '.join(m.value for m in AuthMethod)}")
    for name in ("token_endpoint_auth_signing_alg", "request_object_signing_alg"):
        if _string(document, name) not in (None, *ASSERTION_ALGORITHMS):
            raise InvalidClientMetadataError(f"{name} must be one of {', '.join(ASSERTION_ALGORITHMS)}")
    if "token_endpoint_auth_signing_alg" in document and method != AuthMethod.PRIVATE_KEY_JWT.value:
        raise InvalidClientMetadataError("token_endpoint_auth_signing_alg is for private_key_jwt only")
    policy = outbound_policy(settings)
    for name in ("sector_identifier_uri", "backchannel_logout_uri", "backchannel_client_notification_endpoint"):
        called = _string(document, name)
        if called is None:
            continue
        try:
            parts = urlsplit(called)
        except ValueError:  # an IPv6 literal without its closing bracket, say
            raise InvalidClientMetadataError(f"{name} is not a URL") from None
        if parts.scheme != "https" and not settings.test_mode:
            raise InvalidClientMetadataError(f"{name} must be an https URL")
        if policy.refuses_host(parts.hostname or ""):
            raise InvalidClientMetadataError(f"{name} may not name a loopback, private, link-local or other "
                                             "non-public address")
    default_alg = "RS256" if "RS256" in settings.keys.algorithms else DEFAULT_ID_TOKEN_ALG
    jwks = document.get("jwks")
    if jwks is not None and not isinstance(jwks, dict):
        raise InvalidClientMetadataError("jwks must be a JWK Set object")
    try:
        presentation = presentation_from_metadata(document, test_mode=settings.test_mode)
    except PresentationError as exc:
        raise InvalidClientMetadataError(str(exc)) from None
    if presentation.logo_uri is not None and policy.refuses_host(urlsplit(presentation.logo_uri).hostname or ""):
        raise InvalidClientMetadataError("logo_uri may not name a loopback, private, link-local or other non-public "
                                         "address")
    return {
        "auth_method": AuthMethod(method), "redirect_uris": redirect_uris,
        "id_token_signed_response_alg": _string(document, "id_token_signed_response_alg") or default_alg,
        "userinfo_signed_response_alg": _string(document, "userinfo_signed_response_alg"),
        "jwks": jwks,
        "sector_identifier_uri": _string(document, "sector_identifier_uri"),
        "require_par": _flag(document, "require_pushed_authorization_requests"),
        "post_logout_redirect_uris": _strings(document, "post_logout_redirect_uris") or (),
        "backchannel_logout_uri": _string(document, "backchannel_logout_uri"),
        "backchannel_logout_session_required": _flag(document, "backchannel_logout_session_required"),
        "dpop_bound_access_tokens": _flag(document, "dpop_bound_access_tokens"),
        "algorithms": settings.keys.algorithms,
        "presentation": presentation,
    }


@dataclasses.dataclass(frozen=True, slots=True)
class CounterMetadata:
    """The client metadata kept beside the client record: its CIBA delivery (CIBA Core §4; ``None``: it polls)
    and the kiosk mark (:mod:`idp.oauth.kiosk`)."""

    ciba: CibaClient | None = None
    kiosk: bool = False

    def members(self) -> dict[str, Any]:
        """The registration response's members for these (only what was registered)."""
        members: dict[str, Any] = {"kiosk": True} if self.kiosk else {}
        if self.ciba is not None:
            members["backchannel_token_delivery_mode"] = self.ciba.mode
            if self.ciba.notification_endpoint is not None:
                members["backchannel_client_notification_endpoint"] = self.ciba.notification_endpoint
        return members


def counter_metadata(document: Mapping[str, Any]) -> CounterMetadata:
    """CIBA Core §4 client metadata and the ``kiosk`` mark of a registration request (the notification endpoint's
    URL is checked by :func:`registration_arguments` with the other URLs the provider calls)."""
    if _flag(document, "backchannel_user_code_parameter"):
        raise InvalidClientMetadataError("backchannel_user_code_parameter: user codes are not supported "
                                         "(backchannel_user_code_parameter_supported is false)")
    mode = _string(document, "backchannel_token_delivery_mode")
    endpoint = _string(document, "backchannel_client_notification_endpoint")
    if mode not in (None, "poll", "ping"):
        raise InvalidClientMetadataError("backchannel_token_delivery_mode must be poll or ping (push is not supported)")
    if mode == "ping" and endpoint is None:
        raise InvalidClientMetadataError("backchannel_token_delivery_mode ping needs "
                                         "backchannel_client_notification_endpoint (CIBA Core §4)")
    if endpoint is not None and mode != "ping":
        raise InvalidClientMetadataError("backchannel_client_notification_endpoint is for the ping mode only")
    ciba = None if mode is None else CibaClient(cast(DeliveryMode, mode), endpoint)
    return CounterMetadata(ciba, _flag(document, "kiosk"))


async def _keep_counter_metadata(services: Services, client_id: str, metadata: CounterMetadata,
                                 now: dt.datetime) -> None:
    """Record (or, when left out, reset) the client's CIBA delivery and kiosk mark."""
    if metadata.ciba is None:
        await remove_ciba_client(services, client_id)
    else:
        await set_ciba_client(services, client_id, metadata.ciba, now)
    await set_kiosk_client(services, client_id, metadata.kiosk, now)


async def _counter_metadata_of(services: Services, client_id: str, now: dt.datetime) -> CounterMetadata:
    return CounterMetadata(await recorded_ciba_client(services, client_id, now),
                           await is_kiosk_client(services, client_id, now))


class _Unreadable(Exception):
    """The sector document is unusable; ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _sector_document(uri: str, settings: Settings, outbound: OutboundClient) -> list[Any]:
    try:
        response = await outbound.request("GET", uri, headers={"Accept": _JSON},
                                          deadline=settings.registration.fetch_timeout, max_bytes=MAX_SECTOR_DOCUMENT)
    except OutboundError as exc:
        raise _Unreadable(exc.reason.value) from None
    if response.status != 200:
        raise _Unreadable("status")
    try:
        listed = parse_json_array(response.content, max_bytes=MAX_SECTOR_DOCUMENT, max_depth=1,
                                  what="sector_identifier_uri document")
    except BodyError as exc:
        raise _Unreadable(exc.reason.value) from None
    if not all(isinstance(u, str) for u in listed):
        raise _Unreadable("not_strings")
    return listed


async def check_sector_identifier(uri: str, redirect_uris: Sequence[str], settings: Settings,
                                  outbound: OutboundClient) -> None:
    """OIDC Dynamic Client Registration §5: the JSON array at ``sector_identifier_uri`` lists every redirect URI.
    Any failure to read it answers :data:`SECTOR_UNREADABLE`, and logs why."""
    try:
        listed = await _sector_document(uri, settings, outbound)
    except _Unreadable as exc:
        _log.info("sector_identifier_uri_failed", extra={"reason": exc.reason})
        raise InvalidClientMetadataError(SECTOR_UNREADABLE) from None
    if missing := [u for u in redirect_uris if u not in listed]:
        raise InvalidClientMetadataError(f"sector_identifier_uri does not list {len(missing)} of the redirect_uris")


async def _read_document(request: AnyRequest) -> dict[str, Any]:
    try:
        return await read_json(request, max_bytes=MAX_REQUEST_OCTETS, what="client metadata")
    except BodyError as exc:
        if exc.reason is BodyReason.MEDIA_TYPE:
            raise InvalidRequest(exc.description) from None
        raise InvalidClientMetadataError("the request body is not a JSON object", detail=str(exc)) from None


async def _build(document: Mapping[str, Any], client_id: str,
                 services: Services) -> tuple[Client, str | None, bytes | None, CounterMetadata]:
    settings = services.settings
    arguments = registration_arguments(document, settings)
    counter = counter_metadata(document)
    try:
        client, secret = register_client(client_id, **arguments)
    except InvalidClientMetadata as exc:
        raise _refused(exc) from None
    if client.sector_identifier_uri is not None:
        await check_sector_identifier(client.sector_identifier_uri, client.redirect_uris, settings, services.outbound)
    try:
        client, logo = await with_logo(client, services.outbound, deadline=settings.registration.fetch_timeout)
    except LogoError as exc:
        _log.info("logo_uri_failed", extra={"reason": exc.reason})
        raise InvalidClientMetadataError(str(exc)) from None
    return client, secret, logo, counter


def _bearer(request: AnyRequest) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _information(client: Client, settings: Settings, counter: CounterMetadata, *, registration_token: str,
                 secret: str | None = None, status: int = 200) -> Response[dict[str, Any]]:
    """RFC 7591 §3.2.1 / RFC 7592 §3: every registered metadata value, and the configuration endpoint's access."""
    described = {name: value for name, value in client.describe().items()
                 if value is not None and name != "sector_identifier"}
    document: dict[str, Any] = {**described, **counter.members(), "response_types": ["code"],
                                "subject_type": "pairwise",
                                "registration_client_uri": f"{settings.issuer}{PATH}/{client.client_id}",
                                "registration_access_token": registration_token}
    if client.client_id_issued_at is not None:
        document["client_id_issued_at"] = client.client_id_issued_at
    if secret is not None:
        document.update(client_secret=secret, client_secret_expires_at=0)
    return Response(document, status_code=status, media_type=_JSON, headers=_NO_STORE)


# -- endpoints -----------------------------------------------------------------------------------------------------


@post(PATH, status_code=201, request_max_body_size=MAX_REQUEST_OCTETS, summary="Dynamic client registration",
      tags=["OAuth 2.0"])
async def register(request: AnyRequest, services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """Register a client (RFC 7591 §3.1); answers its information and registration access token (§3.2.1)."""
    settings = services.settings
    mode = settings.registration.mode
    if mode == "off":
        raise NotFoundException()
    if mode == "token":
        presented = _bearer(request) or ""
        expected = settings.registration.initial_access_token.reveal()
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            raise InvalidToken("a valid initial access token is required to register (RFC 7591 §3)")
    document = await _read_document(request)
    client, secret, logo, counter = await _build(document, secrets.token_urlsafe(24), services)
    token = secrets.token_urlsafe(32)
    client = dataclasses.replace(client, registration_token_sha256=hash_secret(token),
                                 client_id_issued_at=int(utcnow().timestamp()))
    try:
        await services.clients.add(client)
    except ClientExists:  # 192 random bits: only a broken random source gets here
        raise OAuthError("client_id collision") from None
    await services.clients.set_logo(client.client_id, logo)
    await _keep_counter_metadata(services, client.client_id, counter, utcnow())
    _log.info("client_registered", extra={"client_id": client.client_id, "auth_method": client.auth_method.value})
    await record(services, "client_registered", client_id=client.client_id, actor="registration")
    return _information(client, settings, counter, registration_token=token, secret=secret, status=201)


async def _authorised(request: AnyRequest, services: Services, client_id: str) -> tuple[Client, str]:
    """RFC 7592 §2: the client whose registration access token the request bears (401 otherwise, also for a
    client that does not exist)."""
    token = _bearer(request)
    if services.settings.registration.mode == "off":
        raise NotFoundException()
    client = await services.clients.get(client_id) if len(client_id) <= 255 else None
    if token is None or client is None or not client.registration_token_matches(token):
        raise InvalidToken("the registration access token is not valid for this client")
    return client, token


@get(CLIENT_PATH, summary="Read a client registration", tags=["OAuth 2.0"])
async def read(client_id: FromPath[str], request: AnyRequest,
               services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """RFC 7592 §2.1: the client's current registration."""
    client, token = await _authorised(request, services, client_id)
    counter = await _counter_metadata_of(services, client_id, utcnow())
    return _information(client, services.settings, counter, registration_token=token)


@put(CLIENT_PATH, request_max_body_size=MAX_REQUEST_OCTETS, summary="Update a client registration",
     tags=["OAuth 2.0"])
async def update(client_id: FromPath[str], request: AnyRequest,
                 services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """RFC 7592 §2.2: replace the client's metadata with the request's (fields left out are reset)."""
    current, token = await _authorised(request, services, client_id)
    document = await _read_document(request)
    if document.get("client_id") != client_id:
        raise InvalidRequest("client_id must be in the request and equal the client's (RFC 7592 §2.2)")
    if issued := [name for name in _ISSUED if name in document]:
        raise InvalidRequest(f"{', '.join(issued)} may not be sent in an update (RFC 7592 §2.2)")
    if "client_secret" in document and not current.secret_matches(str(document["client_secret"])):
        raise InvalidRequest("client_secret does not match the issued secret (RFC 7592 §2.2)")
    client, secret, logo, counter = await _build(document, client_id, services)
    if client.auth_method is AuthMethod.CLIENT_SECRET_BASIC and current.secret_sha256 is not None:
        client, secret = dataclasses.replace(client, secret_sha256=current.secret_sha256), None
    client = dataclasses.replace(client, registration_token_sha256=current.registration_token_sha256,
                                 client_id_issued_at=current.client_id_issued_at)
    if not await services.clients.replace(client):
        raise InvalidToken("the registration access token is not valid for this client")
    await services.clients.set_logo(client_id, logo)
    await _keep_counter_metadata(services, client_id, counter, utcnow())
    _log.info("client_updated", extra={"client_id": client_id, "auth_method": client.auth_method.value})
    await record(services, "client_updated", client_id=client_id, actor="registration")
    return _information(client, services.settings, counter, registration_token=token, secret=secret)


@delete(CLIENT_PATH, status_code=204, summary="Delete a client registration", tags=["OAuth 2.0"])
async def deregister(client_id: FromPath[str], request: AnyRequest, services: NamedDependency[Services]) -> None:
    """RFC 7592 §2.3: remove the client; its registration access token and credentials stop working."""
    await _authorised(request, services, client_id)
    await services.clients.remove(client_id)
    await _keep_counter_metadata(services, client_id, CounterMetadata(), utcnow())
    _log.info("client_deleted", extra={"client_id": client_id})
    await record(services, "client_deleted", client_id=client_id, actor="registration")


_METADATA: Final = doc.obj({"redirect_uris": {"type": "array", "items": {"type": "string"}},
                            "client_id": {"type": "string"},
                            "backchannel_token_delivery_mode": {"type": "string", "enum": ["poll", "ping"]},
                            "backchannel_client_notification_endpoint": {"type": "string", "format": "uri"},
                            "backchannel_user_code_parameter": {"type": "boolean", "enum": [False]},
                            "kiosk": {"type": "boolean", "description": "a kiosk's client: its logins open no "
                                                                        "browser session (idp.oauth.kiosk)"}})
_INFORMATION: Final = doc.obj(doc.strings("client_id", "registration_access_token", "registration_client_uri"),
                              ("client_id", "registration_access_token", "registration_client_uri"))
_TOKEN: Final = {**doc.AUTHORIZATION_BEARER, "description": "Bearer <initial access token> (RFC 7591 §3) or "
                                                            "<registration access token> (RFC 7592 §3)"}
_REFUSED: Final = doc.responses(
    doc.oauth_error(401, description="invalid_token: a missing or wrong access token (RFC 6750 §3.1)",
                    headers={"WWW-Authenticate": "a Bearer challenge"}),
    doc.not_found("registration is off (registration.mode)"))
_METADATA_ERRORS: Final = doc.responses(
    doc.oauth_error(400, description="invalid_request, invalid_client_metadata or invalid_redirect_uri "
                                     "(RFC 7591 §3.2.2)"), doc.too_large())
OPENAPI: Final = {
    PATH: {"post": doc.operation(parameters=[_TOKEN], body=doc.json_body(_METADATA), responses=doc.responses(
        doc.json_answer(201, "the client information (RFC 7591 §3.2.1)", _INFORMATION), _METADATA_ERRORS,
        _REFUSED))},
    "/register/{client_id}": {
        "get": doc.operation(parameters=[_TOKEN], responses=doc.responses(
            doc.json_answer(200, "the client information (RFC 7592 §3)", _INFORMATION), _REFUSED)),
        "put": doc.operation(parameters=[_TOKEN], body=doc.json_body(_METADATA), responses=doc.responses(
            doc.json_answer(200, "the client information (RFC 7592 §3)", _INFORMATION), _METADATA_ERRORS,
            _REFUSED)),
        "delete": doc.operation(parameters=[_TOKEN], responses=doc.responses(
            {"204": {"description": "deleted (RFC 7592 §2.3)"}}, _REFUSED)),
    },
}

ROUTES: Final = (register, read, update, deregister)

__all__ = ["CLIENT_PATH", "PATH", "ROUTES", "SECTOR_UNREADABLE", "CounterMetadata", "InvalidClientMetadataError",
           "InvalidRedirectUri", "check_sector_identifier", "counter_metadata", "feature_metadata",
           "registration_arguments"]
