"""PKCS#11 keys: private keys generated in and never leaving an HSM (python-pkcs11).

Keys are found by label (``ref``); the token is found by its label, not its slot, because SoftHSM2
reassigns slot ids. ES256 hashes with SHA-256 in Python and signs with ``CKM_ECDSA`` (SoftHSM 2.6.1 has
no ``CKM_ECDSA_SHA256``); the token returns R || S, which is already the JWS form (RFC 7518 §3.4).
One session per process is shared under a lock (PKCS#11 v2.40 §5.1.2: a session is not for concurrent
use).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from typing import Any

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import NoSuchKey, PKCS11Error, UserAlreadyLoggedIn
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from keys.service.backend import GeneratedKey
from keys.service.errors import KeyFault, KeyServiceError
from keys.service.signer import RSA_KEY_BITS, NamedKey, Signer, check_algorithm

_LABEL_PREFIX = "mynacard-id-"
_CAPABILITIES = MechanismFlag.SIGN | MechanismFlag.VERIFY
_PRIVATE_TEMPLATE = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}
#: RFC 7518 §3.5: PS256 is RSASSA-PSS with SHA-256, MGF1 with SHA-256, salt as long as the hash.
_PSS_PARAMS = (Mechanism.SHA256, pkcs11.MGF.SHA256, 32)


def _hsm_error(action: str, exc: Exception) -> KeyServiceError:
    return KeyServiceError(KeyFault.HSM_ERROR, f"{action} failed: {type(exc).__name__}")


class Pkcs11Signer(NamedKey):
    """A :class:`~keys.service.signer.Signer` whose private key stays in the token."""

    __slots__ = ("_key", "_lock")

    def __init__(self, key: Any, lock: threading.Lock, alg: str, kid: str) -> None:
        super().__init__(alg, kid)
        self._key = key
        self._lock = lock

    def sign(self, data: bytes) -> bytes:
        """RFC 7518 §3.3 (RS256), §3.4 (ES256), §3.5 (PS256), computed by the token."""
        try:
            with self._lock:
                if self.alg == "ES256":
                    return bytes(self._key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
                if self.alg == "PS256":
                    return bytes(self._key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                                                mechanism_param=_PSS_PARAMS))
                return bytes(self._key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))
        except PKCS11Error as exc:
            raise _hsm_error("signing", exc) from None


#: Tokens this process logged in to -> keyed digest of the PIN used (never the PIN itself).
_LOGINS: dict[tuple[str, str], bytes] = {}
_PROCESS_KEY = secrets.token_bytes(32)


class Pkcs11Backend:
    """Keys on one PKCS#11 token, reached through one logged-in read/write session."""

    name = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        try:
            token = pkcs11.lib(module).get_token(token_label=token_label)
            proof = hmac.new(_PROCESS_KEY, pin.encode(), hashlib.sha256).digest()
            try:
                self._session = token.open(user_pin=pin, rw=True)
                _LOGINS[(module, token_label)] = proof
            except UserAlreadyLoggedIn:
                # Login state is per process (PKCS#11 v2.40 §5.5): an earlier backend logged in. Reuse it
                # only for the same PIN, so that a wrong PIN never rides on another's login.
                if not hmac.compare_digest(_LOGINS.get((module, token_label), b""), proof):
                    raise
                self._session = token.open(rw=True)
        except (PKCS11Error, RuntimeError) as exc:
            raise KeyServiceError(KeyFault.BACKEND_UNAVAILABLE,
                                  f"cannot open token {token_label!r}: {type(exc).__name__}") from None
        self._lock = threading.Lock()

    def generate(self, alg: str) -> GeneratedKey:
        """A key pair stored on the token, private half sensitive and not extractable."""
        check_algorithm(alg)
        label = _LABEL_PREFIX + secrets.token_hex(8)
        options: dict[str, Any] = {"label": label, "id": label.encode("ascii"), "store": True,
                                   "capabilities": _CAPABILITIES, "private_template": _PRIVATE_TEMPLATE}
        try:
            with self._lock:
                if alg == "ES256":
                    params = self._session.create_domain_parameters(
                        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
                    public, _ = params.generate_keypair(**options)
                    spki = encode_ec_public_key(public)
                else:
                    public, _ = self._session.generate_keypair(KeyType.RSA, RSA_KEY_BITS, **options)
                    spki = encode_rsa_public_key(public)
        except PKCS11Error as exc:
            raise _hsm_error("key generation", exc) from None
        loaded = load_der_public_key(spki)
        if not isinstance(loaded, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise KeyServiceError(KeyFault.HSM_ERROR, "the token returned an unexpected public key type")
        return GeneratedKey(loaded, None, label)

    def signer(self, alg: str, kid: str, ref: str | None, secret: bytes | None) -> Signer:
        """A signer over the private key labelled ``ref``."""
        check_algorithm(alg)
        if ref is None:
            raise KeyServiceError(KeyFault.BACKEND_UNAVAILABLE, f"PKCS#11 key {kid} has no label")
        try:
            with self._lock:
                key = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=ref)
        except NoSuchKey:
            raise KeyServiceError(KeyFault.BACKEND_UNAVAILABLE, f"PKCS#11 key {kid} is not on the token") from None
        except PKCS11Error as exc:
            raise _hsm_error("key lookup", exc) from None
        return Pkcs11Signer(key, self._lock, alg, kid)

    def destroy(self, ref: str | None) -> None:
        """Destroy both halves of the key pair labelled ``ref``; absent objects are fine."""
        if ref is None:
            return
        try:
            with self._lock:
                for obj in list(self._session.get_objects({Attribute.LABEL: ref})):
                    obj.destroy()
        except PKCS11Error as exc:
            raise _hsm_error("key destruction", exc) from None

    def close(self) -> None:
        """Close the session."""
        with self._lock:
            self._session.close()
