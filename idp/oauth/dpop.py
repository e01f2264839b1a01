"""DPoP (RFC 9449): proof verification with server nonces, and the JWK thumbprint that binds tokens.

Proofs are verified with :func:`keys.jose.jwt.verify_jwt` (strict JWS; the embedded public ``jwk`` is the
key, as §4.2 defines). Server nonces (§8, §9) change every :data:`NONCE_PERIOD`; the nonce of a period is
decided by the first worker that needs it and stored in the database, so every worker and machine sends
and accepts the same values; the previous period's nonce stays accepted, so a nonce is valid for one to
two periods. ``jti`` values are single use while their proof could still be accepted (§11.1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from litestar import Request

from idp.errors import OAuthError
from idp.oauth.client_auth import single_use_key
from idp.runtime import Services, utcnow
from keys.errors import VerificationError
from keys.jose.b64 import b64url_encode
from keys.jose.jwk import jwk_thumbprint
from keys.jose.jwt import verify_jwt

#: RFC 9449 §4.3 step 5 leaves the set to the server; FAPI 2.0 §5.4.1: PS256, ES256, EdDSA.
DPOP_ALGORITHMS: Final = ("ES256", "PS256", "EdDSA")
#: How long a proof is accepted after its ``iat`` (RFC 9449 §11.1: "a relatively brief period").
PROOF_MAX_AGE: Final = dt.timedelta(seconds=60)
#: Lifetime of one server nonce period.
NONCE_PERIOD: Final = dt.timedelta(minutes=5)
JTI_KIND: Final = "DpopJti"
NONCE_KIND: Final = "DpopNonce"
_PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class InvalidDpopProof(OAuthError):
    """RFC 9449 §7.1 / §12.2 ``invalid_dpop_proof``."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDpopNonce(OAuthError):
    """RFC 9449 §8: the proof lacks the current server nonce; ``nonce`` goes in the ``DPoP-Nonce`` header."""

    error: ClassVar[str] = "use_dpop_nonce"
    status_code = 400

    def __init__(self, nonce: str) -> None:
        super().__init__("a fresh DPoP nonce is required; retry with the nonce in the DPoP-Nonce header")
        self.nonce = nonce


@dataclass(frozen=True, slots=True)
class DpopProof:
    """A verified DPoP proof: ``jkt`` is the RFC 7638 SHA-256 thumbprint of its public key (base64url)."""

    jkt: str
    jti: str


async def verify_dpop_proof(
    proof: str,
    *,
    method: str,
    url: str,
    services: Services,
    now: dt.datetime,
    access_token: str | None = None,
) -> DpopProof:
    """Verify a ``DPoP`` header value for a request of ``method`` to ``url`` (RFC 9449 §4.3).

    Checks ``typ`` dpop+jwt, an allow-listed asymmetric ``alg`` matching the embedded public ``jwk``, the
    signature, ``htm``/``htu`` (query and fragment ignored), ``iat`` within the window, ``jti`` single use,
    the server ``nonce`` (RFC 9449 §8), and ``ath`` when ``access_token`` is given (§4.3 step 11).
    Raises :class:`UseDpopNonce` when the nonce is missing or stale (the caller answers
    ``use_dpop_nonce`` with a fresh ``DPoP-Nonce`` header), :class:`InvalidDpopProof` otherwise.
    """
    leeway = dt.timedelta(seconds=services.settings.tokens.clock_tolerance)
    try:
        verified = verify_jwt(
            proof, algorithms=DPOP_ALGORITHMS, typ="dpop+jwt", issuer=None, audience=None, at=now, leeway=leeway,
            required_claims=("jti", "htm", "htu", "iat"), max_age=PROOF_MAX_AGE, allow_embedded_jwk=True,
        )
    except VerificationError as exc:
        raise InvalidDpopProof(f"DPoP proof refused: {exc.reason}", detail=str(exc)) from None
    jwk: dict[str, Any] = dict(verified.header["jwk"])
    if any(member in jwk for member in _PRIVATE_MEMBERS):  # §4.3 step 7: never a private key
        raise InvalidDpopProof("the DPoP jwk must be a public key")
    claims = verified.claims
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 255:
        raise InvalidDpopProof("DPoP jti must be a short string")
    if claims["htm"] != method.upper():
        raise InvalidDpopProof("DPoP htm does not match the request method")
    if not isinstance(claims["htu"], str) or _normalise(claims["htu"]) != _normalise(url):
        raise InvalidDpopProof("DPoP htu does not match the request URL")
    if access_token is not None:
        ath = b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())
        if not isinstance(claims.get("ath"), str) or not hmac.compare_digest(claims["ath"], ath):
            raise InvalidDpopProof("DPoP ath does not match the access token")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or nonce not in await _accepted_nonces(services, now):
        raise UseDpopNonce(await current_nonce(services, now))
    jkt = jwk_thumbprint(jwk)
    expires = now + PROOF_MAX_AGE + 2 * leeway
    if not await services.objects.remember_once(JTI_KIND, single_use_key(jkt, jti), expires_at=expires, now=now):
        raise InvalidDpopProof("DPoP proof already used")
    return DpopProof(jkt=jkt, jti=jti)


async def dpop_proof(
    request: Request[Any, Any, Any], services: Services, *, path: str, access_token: str | None = None
) -> DpopProof | None:
    """The verified proof of the request's ``DPoP`` header, or None without one (RFC 9449 §4.3: at most one
    header); ``htu`` is checked against the endpoint's URL under the issuer, never the request's Host."""
    values = request.headers.getall("dpop", [])
    if not values:
        return None
    if len(values) > 1:
        raise InvalidDpopProof("more than one DPoP header (RFC 9449 §4.3)")
    return await verify_dpop_proof(values[0], method=request.method, url=services.settings.issuer + path,
                                   services=services, now=utcnow(), access_token=access_token)


async def current_nonce(services: Services, now: dt.datetime) -> str:
    """The server nonce to send in ``DPoP-Nonce`` response headers now (rotated on a schedule; the
    previous one stays accepted for one period, so that workers agree through the database)."""
    return await _nonce_of(services, _period(now), now)


async def _accepted_nonces(services: Services, now: dt.datetime) -> tuple[str, str]:
    period = _period(now)
    return await _nonce_of(services, period, now), await _nonce_of(services, period - 1, now)


async def _nonce_of(services: Services, period: int, now: dt.datetime) -> str:
    """The nonce of ``period``: the stored one, or a fresh one this worker stores first (one atomic insert
    decides between concurrent workers)."""
    key = f"p{period}"
    found = await services.objects.find(NONCE_KIND, key, now=now)
    if found is None:
        expires = dt.datetime.fromtimestamp((period + 3) * NONCE_PERIOD.total_seconds(), dt.UTC)
        await services.objects.remember_once(
            NONCE_KIND, key, expires_at=expires, now=now, payload={"nonce": secrets.token_urlsafe(24)}
        )
        found = await services.objects.find(NONCE_KIND, key, now=now)
    if found is None or not isinstance(found.payload.get("nonce"), str):
        raise RuntimeError("DPoP nonce could not be stored")
    nonce: str = found.payload["nonce"]
    return nonce


def _period(now: dt.datetime) -> int:
    return int(now.timestamp() // NONCE_PERIOD.total_seconds())


def _normalise(url: str) -> tuple[str, str, int | None, str]:
    """RFC 9449 §4.3 step 9 with RFC 3986 §6.2.2–6.2.3: scheme and host compared case-insensitively, the
    default port made explicit, an empty path as ``/``; query and fragment ignored."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidDpopProof("DPoP htu is not a URL") from None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme), parts.path or "/"
