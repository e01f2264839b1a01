"""The relying parties of ``python -m conformance oidc`` and ``python -m bench oidc``: their keys and metadata.

Every target registers the same clients (:func:`standard_clients`). Keys are fresh ES256 (P-256) keys per run,
made with pyca/cryptography and written as RFC 7517 JWKs by hand, so the relying-party side shares no JOSE code
with the provider under test. The redirect URIs are loopback addresses nobody listens on: the harness's browser
stops at the redirect (RFC 8252 §7.3) and hands the URL to the relying party.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

#: Where the authorization server sends the browser back (never contacted).
REDIRECT_URI: Final = "http://127.0.0.1:65001/cb"
#: A second sector (another loopback host), for pairwise subjects (OIDC Core §8.1).
OTHER_SECTOR_REDIRECT_URI: Final = "http://127.0.0.2:65001/cb"
POST_LOGOUT_REDIRECT_URI: Final = "http://127.0.0.1:65001/logged-out"
#: The accounts the scripted login signs in (opaque identifiers, like the card login's).
ACCOUNT: Final = "conformance-alice"
OTHER_ACCOUNT: Final = "conformance-bob"


def _b64(value: int, length: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(length, "big")).rstrip(b"=").decode("ascii")


def es256_jwk(kid: str) -> dict[str, str]:
    """A new P-256 private key as a JWK (RFC 7518 §6.2), with ``kid``, ``alg`` ES256 and ``use`` sig."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(public.x, 32), "y": _b64(public.y, 32),
            "d": _b64(key.private_numbers().private_value, 32), "kid": kid, "alg": "ES256", "use": "sig"}


def public_part(jwk: dict[str, str]) -> dict[str, str]:
    """The JWK without its private member."""
    return {name: value for name, value in jwk.items() if name != "d"}


@dataclass
class ClientSpec:
    """One registered client as both sides see it. ``secret`` is set by the target for client_secret_basic."""

    name: str
    client_id: str
    auth: str
    redirect_uri: str = REDIRECT_URI
    private_jwk: dict[str, str] | None = None
    secret: str | None = field(default=None, repr=False)
    registered: bool = True

    @property
    def public_jwks(self) -> dict[str, list[dict[str, str]]] | None:
        """The JWK Set registered for private_key_jwt."""
        return None if self.private_jwk is None else {"keys": [public_part(self.private_jwk)]}

    def metadata(self) -> dict[str, Any]:
        """RFC 7591 §2 client metadata (with the secret for client_secret_basic)."""
        document: dict[str, Any] = {
            "client_id": self.client_id, "token_endpoint_auth_method": self.auth,
            "redirect_uris": [self.redirect_uri], "post_logout_redirect_uris": [POST_LOGOUT_REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "subject_type": "pairwise", "id_token_signed_response_alg": "ES256",
        }
        if self.public_jwks is not None:
            document["jwks"] = self.public_jwks
            document["token_endpoint_auth_signing_alg"] = "ES256"
        if self.secret is not None:
            document["client_secret"] = self.secret
        return document

    def driver_view(self) -> dict[str, Any]:
        """What the openid-client driver needs to act as this client."""
        return {"client_id": self.client_id, "auth": self.auth, "redirect_uri": self.redirect_uri,
                "private_jwk": self.private_jwk, "secret": self.secret}


def standard_clients() -> dict[str, ClientSpec]:
    """The clients every target registers, by name, plus ``impostor``: rp-jwt's client_id with an unregistered
    key (``registered`` false), for the bad-client-assertion module."""
    clients = [
        ClientSpec("jwt", "rp-jwt", "private_key_jwt", private_jwk=es256_jwk("rp-jwt-1")),
        ClientSpec("basic", "rp-basic", "client_secret_basic", secret=secrets.token_urlsafe(32)),
        ClientSpec("other", "rp-other-sector", "private_key_jwt", redirect_uri=OTHER_SECTOR_REDIRECT_URI,
                   private_jwk=es256_jwk("rp-other-1")),
        ClientSpec("idpy", "rp-idpyoidc", "private_key_jwt", private_jwk=es256_jwk("rp-idpyoidc-1")),
        ClientSpec("impostor", "rp-jwt", "private_key_jwt", private_jwk=es256_jwk("rp-jwt-1"), registered=False),
    ]
    return {client.name: client for client in clients}


def stop_uris(clients: Mapping[str, ClientSpec]) -> tuple[str, ...]:
    """Where the browser's walk ends: every redirect URI and the post-logout redirect URI."""
    return (*sorted({c.redirect_uri for c in clients.values()}), POST_LOGOUT_REDIRECT_URI)


__all__ = ["ACCOUNT", "OTHER_ACCOUNT", "OTHER_SECTOR_REDIRECT_URI", "POST_LOGOUT_REDIRECT_URI", "REDIRECT_URI",
           "ClientSpec", "es256_jwk", "public_part", "standard_clients", "stop_uris"]
