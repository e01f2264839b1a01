"""Encrypted Authorization Responses for ``direct_post.jwt`` (OpenID4VP 1.0 §8.3, HAIP 1.0 §5).

Verifier side, :class:`ResponseKey`: a fresh P-256 key for every Authorization Request (HAIP: ephemeral keys passed
in client metadata), published in ``client_metadata.jwks`` with a ``kid``, ``use: enc`` and ``alg: ECDH-ES``
(§5.1: ``alg`` is required; the Wallet copies ``kid`` into the JWE header). :meth:`ResponseKey.decrypt` opens the
Wallet's unsigned, encrypted JWT (RFC 7516 compact serialization) with joserfc, the JOSE library of Authlib, after
checking what it will not leave to the library:

* size (``too_large``) and shape: five base64url parts, the encrypted key empty (direct key agreement,
  RFC 7518 §4.6), a strict JSON protected header;
* ``alg`` exactly ``ECDH-ES`` and ``enc`` one of the request's ``encrypted_response_enc_values_supported``
  (A128GCM and A256GCM, both required of Verifiers by HAIP); ``kid`` the request's key; ``epk`` a P-256 EC key
  (cryptography refuses points off the curve when joserfc imports it); no ``zip`` (nothing an attacker sent is
  ever inflated) and no ``crit``;
* the plaintext is one strict JSON object (duplicate names refused): the Authorization Response parameters.

Every failure is a :class:`~credentials.oid4vp.errors.PresentationError` with ``response_not_decryptable`` (or
``too_large``); details never include key material or plaintext.

Holder side, :func:`encrypt_response`: picks the Verifier's ECDH-ES P-256 key from client metadata and
``A256GCM`` when offered (HAIP: Wallets SHOULD prefer it), else ``A128GCM`` (the §5.1 default).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_der_private_key
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from credentials.jose import json_bytes
from credentials.oid4vp.errors import PresentationError, VerifierReason
from keys.errors import MalformedInput, Reason, VerificationError
from keys.jose.b64 import b64url_decode, b64url_encode
from keys.jose.json import loads_object
from keys.jose.jwk import public_jwk
from keys.limits import DEFAULT_LIMITS, Limits

#: The key agreement HAIP requires: ECDH-ES direct key agreement on P-256 (RFC 7518 §4.6).
ECDH_ES: Final = "ECDH-ES"
#: Content encryption Verifiers accept (HAIP: both MUST be supported and listed).
ENC_VALUES: Final = ("A128GCM", "A256GCM")
#: ``enc`` when client metadata lists none (OpenID4VP 1.0 §5.1).
DEFAULT_ENC: Final = "A128GCM"
#: Longest encrypted response accepted: the Limits' JWS size, plus base64url growth of the encrypted VP Token.
MAX_RESPONSE_CHARS: Final = DEFAULT_LIMITS.jws_bytes * 2


@dataclass(frozen=True, slots=True)
class ResponseKey:
    """The Verifier's ephemeral response-encryption key of one Authorization Request."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> ResponseKey:
        """A fresh P-256 key with a random ``kid``."""
        return cls(b64url_encode(secrets.token_bytes(12)), ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_private_bytes(cls, kid: str, der: bytes) -> ResponseKey:
        """The key back from :meth:`private_bytes` (PKCS#8 DER)."""
        key = load_der_private_key(der, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("a response key is a P-256 private key")
        return cls(kid, key)

    def private_bytes(self) -> bytes:
        """PKCS#8 DER of the private key (to be stored encrypted, never in the clear)."""
        return self.private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())

    def public_jwk(self) -> dict[str, str]:
        """The JWK for ``client_metadata.jwks`` (§5.1): public members, ``kid``, ``use`` and ``alg``."""
        jwk = public_jwk(self.private_key.public_key(), kid=self.kid, alg=ECDH_ES)
        jwk["use"] = "enc"
        return jwk

    def decrypt(
        self, response: object, *, enc_values: Collection[str] = ENC_VALUES, limits: Limits = DEFAULT_LIMITS
    ) -> dict[str, Any]:
        """The Authorization Response parameters inside the Wallet's encrypted ``response`` (module docstring)."""
        if not isinstance(response, str):
            raise _undecryptable("the response is not a string")
        if len(response) > MAX_RESPONSE_CHARS:
            raise PresentationError(Reason.TOO_LARGE, f"the encrypted response exceeds {MAX_RESPONSE_CHARS} chars")
        parts = response.split(".")
        if len(parts) != 5:
            raise _undecryptable("not a compact JWE (five parts)")
        if parts[1]:
            raise _undecryptable("ECDH-ES direct key agreement has an empty JWE Encrypted Key")
        try:
            header = loads_object(b64url_decode(parts[0], "JWE header"), what="JWE header", limits=limits)
        except VerificationError as exc:
            raise _undecryptable(f"JWE header: {exc.reason.value}") from None
        _check_header(header, self.kid, enc_values)
        registry = jwe.JWERegistry(algorithms=[ECDH_ES, header["enc"]])
        try:
            plaintext = jwe.decrypt_compact(response, ECKey.import_key(self.private_key), registry=registry).plaintext
        except (JoseError, ValueError, TypeError) as exc:
            raise _undecryptable(f"decryption failed ({type(exc).__name__})") from None
        if plaintext is None:
            raise _undecryptable("no plaintext")
        try:
            return loads_object(plaintext, what="encrypted response", limits=limits, max_bytes=MAX_RESPONSE_CHARS)
        except MalformedInput as exc:
            raise _undecryptable(f"the decrypted response is not one JSON object ({exc.reason.value})") from None
        except VerificationError as exc:
            raise PresentationError(exc.reason, exc.detail) from None


def _check_header(header: Mapping[str, Any], kid: str, enc_values: Collection[str]) -> None:
    if header.get("alg") != ECDH_ES:
        raise _undecryptable("JWE alg is not ECDH-ES")
    if header.get("enc") not in enc_values:
        raise _undecryptable("JWE enc is not one the request offered")
    if header.get("kid") != kid:
        raise _undecryptable("JWE kid is not this request's key")
    if "zip" in header or "crit" in header:
        raise _undecryptable("JWE zip and crit are not accepted")
    epk = header.get("epk")
    if not isinstance(epk, Mapping) or epk.get("kty") != "EC" or epk.get("crv") != "P-256":
        raise _undecryptable("JWE epk is not a P-256 EC key")
    if any(member in epk for member in ("d", "p", "q", "k")):
        raise _undecryptable("JWE epk holds private members")


def _undecryptable(detail: str) -> PresentationError:
    return PresentationError(VerifierReason.RESPONSE_NOT_DECRYPTABLE, detail)


def encrypt_response(payload: Mapping[str, Any], client_metadata: Mapping[str, Any]) -> str:
    """Holder side of §8.3: the Authorization Response ``payload`` as an unsigned JWT encrypted to the Verifier's
    ECDH-ES P-256 key from ``client_metadata.jwks``, with its ``kid``, and ``A256GCM`` when offered."""
    jwks = client_metadata.get("jwks")
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    candidates = [k for k in keys if isinstance(k, Mapping) and k.get("kty") == "EC" and k.get("crv") == "P-256"
                  and k.get("alg") == ECDH_ES] if isinstance(keys, list) else []
    if not candidates:
        raise ValueError("client metadata has no ECDH-ES P-256 key")
    jwk = candidates[0]
    offered = client_metadata.get("encrypted_response_enc_values_supported", [DEFAULT_ENC])
    enc = next((e for e in ("A256GCM", "A128GCM") if e in offered), None)
    if enc is None:
        raise ValueError("client metadata offers neither A128GCM nor A256GCM")
    protected = {"alg": ECDH_ES, "enc": enc}
    if "kid" in jwk:
        protected["kid"] = jwk["kid"]
    public = {k: jwk[k] for k in ("kty", "crv", "x", "y")}
    return jwe.encrypt_compact(protected, json_bytes(payload), ECKey.import_key(public),
                               registry=jwe.JWERegistry(algorithms=[ECDH_ES, enc]))
