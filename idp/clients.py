"""Registered clients: the model, the checks on registration metadata, and client secrets.

Metadata names follow RFC 7591 §2 and OIDC Dynamic Client Registration §2; errors carry the RFC 7591
§3.2.2 codes, so the admin CLI and (later) dynamic registration report them alike.
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

    def secret_matches(self, presented: str) -> bool:
        """Whether ``presented`` is this client's secret (constant-time comparison of SHA-256 digests)."""
        if self.secret_sha256 is None:
            return False
        return hmac.compare_digest(hash_secret(presented), self.secret_sha256)

    def describe(self) -> dict[str, Any]:
        """The client's metadata as JSON, without anything derived from its secret."""
        return {"client_id": self.client_id, "token_endpoint_auth_method": self.auth_method.value,
                "redirect_uris": list(self.redirect_uris),
                "id_token_signed_response_alg": self.id_token_signed_response_alg,
                "userinfo_signed_response_alg": self.userinfo_signed_response_alg,
                "jwks": self.jwks, "jwks_uri": self.jwks_uri, "sector_identifier": self.sector_identifier,
                "require_pushed_authorization_requests": self.require_par}


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
    algorithms: Sequence[str] = SIGNING_ALGORITHMS,
) -> tuple[Client, str | None]:
    """Check registration metadata and build the client; for ``client_secret_basic`` also generate its
    secret, returned once in clear (only its hash is kept)."""
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
                    secret_sha256=None if secret is None else hash_secret(secret))
    return client, secret
