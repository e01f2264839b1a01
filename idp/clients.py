"""Registered clients: the model, the checks on registration metadata, and client secrets.

Metadata names follow RFC 7591 §2 and OIDC Dynamic Client Registration §2; errors carry the RFC 7591
§3.2.2 codes, so the admin CLI and dynamic registration (:mod:`idp.endpoints.registration`) report them alike.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from idp.client_presentation import Presentation
from keys.service.signer import SIGNING_ALGORITHMS

#: The default ``id_token_signed_response_alg`` (the Digital Agency's choice, and FAPI 2.0's).
DEFAULT_ID_TOKEN_ALG: Final = "ES256"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,255}$")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_MAX_URI: Final = 2000
_MAX_JWKS_KEYS: Final = 16
_PUBLIC_MEMBERS: Final = {"EC": ("crv", "x", "y"), "RSA": ("n", "e"), "OKP": ("crv", "x")}
_PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


class AuthMethod(StrEnum):
    """``token_endpoint_auth_method`` values we accept (RFC 7591 §2)."""

    PRIVATE_KEY_JWT = "private_key_jwt"
    CLIENT_SECRET_BASIC = "client_secret_basic"
    NONE = "none"


class InvalidClientMetadata(Exception):
    """Registration refused; ``error`` is ``invalid_redirect_uri`` or ``invalid_client_metadata``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client. ``secret_sha256`` is the only trace of a client secret at rest."""

    client_id: str
    auth_method: AuthMethod
    redirect_uris: tuple[str, ...]
    id_token_signed_response_alg: str = DEFAULT_ID_TOKEN_ALG
    #: None: UserInfo answers plain JSON; else a JWT signed with this algorithm (OIDC Core §5.3.2).
    userinfo_signed_response_alg: str | None = None
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    sector_identifier: str | None = None
    require_par: bool = False
    secret_sha256: str | None = field(default=None, repr=False)
    #: Where RP-initiated logout may send the browser back to (OIDC RP-Initiated Logout §3.1), exact match.
    post_logout_redirect_uris: tuple[str, ...] = ()
    #: Where logout tokens are POSTed (OIDC Back-Channel Logout §2.2).
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    #: Access tokens only with DPoP (RFC 9449 §5.2).
    dpop_bound_access_tokens: bool = False
    #: OIDC Dynamic Client Registration §2; its host is ``sector_identifier``.
    sector_identifier_uri: str | None = None
    #: SHA-256 hex of the RFC 7592 registration access token (dynamically registered clients only).
    registration_token_sha256: str | None = field(default=None, repr=False)
    #: RFC 7591 §3.2.1 ``client_id_issued_at`` (dynamically registered clients only).
    client_id_issued_at: int | None = None
    #: Name, logo, policy, terms and purposes of use shown to the person (OIDC Dynamic Client Registration §2).
    presentation: Presentation = field(default_factory=Presentation)
    #: SHA-256 hex of the logo the provider stored for ``presentation.logo_uri`` (None: none stored).
    logo_sha256: str | None = None

    def secret_matches(self, presented: str) -> bool:
        """Whether ``presented`` is this client's secret (constant-time comparison of SHA-256 digests)."""
        if self.secret_sha256 is None:
            return False
        return hmac.compare_digest(hash_secret(presented), self.secret_sha256)

    def registration_token_matches(self, presented: str) -> bool:
        """Whether ``presented`` is this client's registration access token (constant-time, RFC 7592 §1)."""
        if self.registration_token_sha256 is None:
            return False
        return hmac.compare_digest(hash_secret(presented), self.registration_token_sha256)

    def describe(self) -> dict[str, Any]:
        """The client's metadata as JSON, without anything derived from its secrets."""
        return {"client_id": self.client_id, "token_endpoint_auth_method": self.auth_method.value,
                "redirect_uris": list(self.redirect_uris),
                "id_token_signed_response_alg": self.id_token_signed_response_alg,
                "userinfo_signed_response_alg": self.userinfo_signed_response_alg,
                "jwks": self.jwks, "jwks_uri": self.jwks_uri, "sector_identifier": self.sector_identifier,
                "sector_identifier_uri": self.sector_identifier_uri,
                "require_pushed_authorization_requests": self.require_par,
                "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
                "backchannel_logout_uri": self.backchannel_logout_uri,
                "backchannel_logout_session_required": self.backchannel_logout_session_required,
                "dpop_bound_access_tokens": self.dpop_bound_access_tokens, **self.presentation.metadata()}


def hash_secret(secret: str) -> str:
    """SHA-256 of a client secret, hex. Secrets are 256-bit random values we generate, so a fast hash
    suffices (no dictionary to search); verifying costs microseconds per token request."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> None:
    """RFC 6749 §3.1.2 and RFC 8252 §7: absolute, no fragment; https, http on a loopback IP literal
    (§7.3), or a private-use scheme in reverse-domain form (§7.1). Matching is exact later (RFC 9700 §4.1.3)."""
    parts = urlsplit(uri)
    if len(uri) > _MAX_URI or not parts.scheme or "#" in uri:
        raise InvalidClientMetadata("invalid_redirect_uri", "redirect URIs are absolute, without fragment")
    if parts.scheme == "https":
        ok = bool(parts.hostname)
    elif parts.scheme == "http":
        ok = parts.hostname is not None and _is_loopback_ip(parts.hostname)
    else:
        ok = "." in parts.scheme
    if not ok:
        raise InvalidClientMetadata("invalid_redirect_uri", "redirect URIs use https, http on a loopback IP "
                                    "literal, or a reverse-domain private-use scheme")


def _check_jwks(jwks: Mapping[str, Any]) -> None:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not 0 < len(keys) <= _MAX_JWKS_KEYS:
        raise InvalidClientMetadata("invalid_client_metadata", f"jwks needs 1-{_MAX_JWKS_KEYS} keys")
    for key in keys:
        kty = key.get("kty") if isinstance(key, dict) else None
        required = _PUBLIC_MEMBERS.get(kty) if isinstance(kty, str) else None
        if required is None or not all(isinstance(key.get(m), str) for m in required):
            raise InvalidClientMetadata("invalid_client_metadata", "jwks keys are EC, RSA or OKP public keys")
        if any(m in key for m in _PRIVATE_MEMBERS):
            raise InvalidClientMetadata("invalid_client_metadata", "jwks must not contain private key material")


def _check_https(uri: str, what: str) -> None:
    parts = urlsplit(uri)
    loopback = parts.scheme == "http" and parts.hostname is not None and _is_loopback_ip(parts.hostname)
    if len(uri) > _MAX_URI or not parts.hostname or not (parts.scheme == "https" or loopback) or parts.fragment:
        raise InvalidClientMetadata("invalid_client_metadata", f"{what} must be an https URL")


def register_client(
    client_id: str,
    *,
    auth_method: AuthMethod,
    redirect_uris: Sequence[str],
    id_token_signed_response_alg: str = DEFAULT_ID_TOKEN_ALG,
    userinfo_signed_response_alg: str | None = None,
    jwks: Mapping[str, Any] | None = None,
    jwks_uri: str | None = None,
    sector_identifier: str | None = None,
    require_par: bool = False,
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str | None = None,
    backchannel_logout_session_required: bool = False,
    dpop_bound_access_tokens: bool = False,
    sector_identifier_uri: str | None = None,
    algorithms: Sequence[str] = SIGNING_ALGORITHMS,
    presentation: Presentation | None = None,
) -> tuple[Client, str | None]:
    """Check registration metadata and build the client; for ``client_secret_basic`` also generate its
    secret, returned once in clear (only its hash is kept). ``sector_identifier_uri``'s host becomes the
    ``sector_identifier`` (OIDC Core §8.1); its content is checked by dynamic registration, which fetches it."""
    if not _CLIENT_ID.match(client_id):
        raise InvalidClientMetadata("invalid_client_metadata", "client_id is 1-255 characters of A-Z a-z 0-9 . _ ~ -")
    if not redirect_uris:
        raise InvalidClientMetadata("invalid_redirect_uri", "at least one redirect URI is needed")
    for uri in redirect_uris:
        check_redirect_uri(uri)
    for name, alg in (("id_token_signed_response_alg", id_token_signed_response_alg),
                      ("userinfo_signed_response_alg", userinfo_signed_response_alg)):
        if alg is not None and alg not in algorithms:
            raise InvalidClientMetadata("invalid_client_metadata", f"{name} must be one of {', '.join(algorithms)}")
    if jwks is not None and jwks_uri is not None:
        raise InvalidClientMetadata("invalid_client_metadata", "give jwks or jwks_uri, not both (RFC 7591 §2)")
    if auth_method is AuthMethod.PRIVATE_KEY_JWT and jwks is None and jwks_uri is None:
        raise InvalidClientMetadata("invalid_client_metadata", "private_key_jwt needs jwks or jwks_uri")
    if jwks is not None:
        _check_jwks(jwks)
    if jwks_uri is not None:
        _check_https(jwks_uri, "jwks_uri")
    for uri in post_logout_redirect_uris:
        try:
            check_redirect_uri(uri)
        except InvalidClientMetadata as exc:
            raise InvalidClientMetadata("invalid_client_metadata", f"post_logout_redirect_uris: {exc.description}") \
                from None
    if backchannel_logout_uri is not None:
        _check_https(backchannel_logout_uri, "backchannel_logout_uri")
    if sector_identifier_uri is not None:
        _check_https(sector_identifier_uri, "sector_identifier_uri")
        host = (urlsplit(sector_identifier_uri).hostname or "").lower()
        if sector_identifier not in (None, host):
            raise InvalidClientMetadata("invalid_client_metadata", "sector_identifier differs from the host of "
                                        "sector_identifier_uri")
        sector_identifier = host
    if sector_identifier is not None:
        if not _HOST.match(sector_identifier):
            raise InvalidClientMetadata("invalid_client_metadata", "sector_identifier is a lower-case host name")
    elif len({urlsplit(u).hostname for u in redirect_uris}) != 1 or urlsplit(redirect_uris[0]).hostname is None:
        raise InvalidClientMetadata("invalid_client_metadata", "the redirect URIs do not share one host: give a "
                                    "sector_identifier for pairwise subject identifiers (OIDC Core §8.1)")
    secret = secrets.token_urlsafe(32) if auth_method is AuthMethod.CLIENT_SECRET_BASIC else None
    client = Client(client_id=client_id, auth_method=auth_method, redirect_uris=tuple(redirect_uris),
                    id_token_signed_response_alg=id_token_signed_response_alg,
                    userinfo_signed_response_alg=userinfo_signed_response_alg, jwks=jwks, jwks_uri=jwks_uri,
                    sector_identifier=sector_identifier, require_par=require_par,
                    secret_sha256=None if secret is None else hash_secret(secret),
                    post_logout_redirect_uris=tuple(post_logout_redirect_uris),
                    backchannel_logout_uri=backchannel_logout_uri,
                    backchannel_logout_session_required=backchannel_logout_session_required,
                    dpop_bound_access_tokens=dpop_bound_access_tokens, sector_identifier_uri=sector_identifier_uri,
                    presentation=presentation or Presentation())
    return client, secret
