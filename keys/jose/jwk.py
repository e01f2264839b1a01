"""JSON Web Keys (RFC 7517) for verification: strict import, keys bound to one algorithm, thumbprints.

Import rules (each failure is a :class:`~keys.errors.VerificationError` with a reason):

* members are strict base64url (RFC 7515 §2); integers are minimal (RFC 7518 §2 ``Base64urlUInt``); EC
  coordinates are full length (RFC 7518 §6.2.1.2) and the point is on the curve; OKP ``x`` has the curve's
  length (RFC 8037 §2) — ``MALFORMED``;
* private members (``d``, ``p``, …) are refused in a public JWK unless the caller asks (``MALFORMED``);
* ``use`` must be ``sig`` and ``key_ops`` must contain ``verify`` when present (``WRONG_KEY_USAGE``);
* ``alg`` must be a JWS algorithm we implement and fit the key type and curve (``ALGORITHM_NOT_ALLOWED``);
* RSA keys follow the :class:`~keys.signatures.SignaturePolicy` (size, exponent, ROCA) and HMAC secrets are at
  least as long as the hash (RFC 7518 §3.2) — ``WEAK_KEY``; symmetric keys only when the caller allows them.

A :class:`VerificationKey` binds a key to exactly one JWS ``alg``: a token is verified only with a key whose
bound ``alg`` equals the token's, which makes algorithm confusion (RFC 8725 §2.1, CVE-2022-29217) impossible by
construction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from keys.errors import InvalidSignature, MalformedInput, Reason, VerificationError
from keys.jose.b64 import b64url_decode, b64url_encode
from keys.signatures import (
    JOSE,
    Curve,
    PublicKey,
    SigAlg,
    SignaturePolicy,
    check_key_type,
    check_public_key,
    check_rsa_numbers,
)

#: HMAC algorithms (RFC 7518 §3.2) and their minimum key length in octets (= hash output length).
HMAC_ALGS: Mapping[str, int] = {"HS256": 32, "HS384": 48, "HS512": 64}
#: Every JWS ``alg`` this package implements.
JWS_ALGS: frozenset[str] = frozenset(HMAC_ALGS) | frozenset(SigAlg)

#: JWE key-management and content-encryption algorithms (RFC 7518 §4.1, §5.1): keys for these are not ours.
_JWE_ALGS = frozenset({
    "RSA1_5", "RSA-OAEP", "RSA-OAEP-256", "A128KW", "A192KW", "A256KW", "dir", "ECDH-ES", "ECDH-ES+A128KW",
    "ECDH-ES+A192KW", "ECDH-ES+A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW", "PBES2-HS256+A128KW",
    "PBES2-HS384+A192KW", "PBES2-HS512+A256KW", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM",
    "A192GCM", "A256GCM",
})
_PRIVATE_MEMBERS = {"RSA": ("d", "p", "q", "dp", "dq", "qi", "oth"), "EC": ("d",), "OKP": ("d",)}
_EC = {"P-256": (Curve.P256, ec.SECP256R1(), 32), "P-384": (Curve.P384, ec.SECP384R1(), 48),
       "P-521": (Curve.P521, ec.SECP521R1(), 66)}
_OKP = {"Ed25519": 32, "Ed448": 57}
#: The one JWS alg of each EC/OKP key type: these keys carry their algorithm, RSA and oct keys do not.
_CURVE_ALG = {Curve.P256: SigAlg.ES256, Curve.P384: SigAlg.ES384, Curve.P521: SigAlg.ES512,
              Curve.ED25519: SigAlg.EdDSA, Curve.ED448: SigAlg.Ed448}
#: RFC 7638 §3.2: the required members hashed for each key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"),
                       "oct": ("k", "kty")}


@dataclass(frozen=True, slots=True)
class HmacKey:
    """A shared secret for HS256/384/512. The secret never appears in a repr."""

    secret: bytes = field(repr=False)


JwkKey = PublicKey | HmacKey


@dataclass(frozen=True, slots=True)
class Jwk:
    """An imported JWK: the key, its ``kid`` and ``alg`` if stated, and its curve (EC/OKP)."""

    key: JwkKey
    kid: str | None
    alg: str | None
    curve: Curve | None


def parse_jwk(
    jwk: Mapping[str, Any],
    *,
    policy: SignaturePolicy = JOSE,
    allow_private: bool = False,
    allow_symmetric: bool = False,
) -> Jwk:
    """Import one JWK under the rules in the module docstring.

    ``allow_private`` accepts a private JWK and keeps its public part only; ``allow_symmetric`` accepts
    ``kty: oct`` (HMAC) keys.
    """
    if not isinstance(jwk, Mapping):
        raise MalformedInput(Reason.MALFORMED, "a JWK is a JSON object")
    kty = jwk.get("kty")
    kid = jwk.get("kid")
    alg = jwk.get("alg")
    if not (kid is None or isinstance(kid, str)) or not (alg is None or isinstance(alg, str)):
        raise MalformedInput(Reason.MALFORMED, "JWK kid and alg are strings")
    _check_use(jwk)
    if alg in _JWE_ALGS:
        raise InvalidSignature(Reason.WRONG_KEY_USAGE, "JWK is an encryption key")
    if alg is not None and alg not in JWS_ALGS:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"JWK alg {short_repr(alg)} is not a supported JWS alg")
    if not allow_private and any(m in jwk for m in _PRIVATE_MEMBERS.get(str(kty), ())):
        raise MalformedInput(Reason.MALFORMED, "private key member in a public JWK")
    curve: Curve | None = None
    key: JwkKey
    if kty == "RSA":
        key = _rsa_key(jwk, policy)
    elif kty == "EC":
        curve, key = _ec_key(jwk)
    elif kty == "OKP":
        curve, key = _okp_key(jwk)
    elif kty == "oct":
        if not allow_symmetric:
            raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "symmetric (oct) keys are not accepted here")
        secret = b64url_decode(jwk.get("k"), "JWK k")
        if not secret:
            raise InvalidSignature(Reason.WEAK_KEY, "empty HMAC key")
        key = HmacKey(secret)
    else:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"JWK kty {short_repr(kty)} is not supported")
    return Jwk(key, kid, alg, curve)


def _check_use(jwk: Mapping[str, Any]) -> None:
    """RFC 7517 §4.2–4.3: a verification key is for ``sig`` and, if it lists operations, for ``verify``."""
    if "use" in jwk and jwk["use"] != "sig":
        raise InvalidSignature(Reason.WRONG_KEY_USAGE, "JWK use is not sig")
    if "key_ops" in jwk:
        ops = jwk["key_ops"]
        if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops) or len(set(ops)) != len(ops):
            raise MalformedInput(Reason.MALFORMED, "JWK key_ops is not an array of distinct strings")
        if "verify" not in ops:
            raise InvalidSignature(Reason.WRONG_KEY_USAGE, "JWK key_ops does not include verify")


def _uint(value: object, what: str) -> int:
    raw = b64url_decode(value, what)
    if not raw or raw[0] == 0:
        raise MalformedInput(Reason.MALFORMED, f"{what} is not a minimal Base64urlUInt")
    return int.from_bytes(raw, "big")


def _rsa_key(jwk: Mapping[str, Any], policy: SignaturePolicy) -> rsa.RSAPublicKey:
    n, e = _uint(jwk.get("n"), "JWK n"), _uint(jwk.get("e"), "JWK e")
    if not policy.min_rsa_bits <= n.bit_length() <= policy.max_rsa_bits:
        raise InvalidSignature(Reason.WEAK_KEY, f"RSA key of {n.bit_length()} bits")
    check_rsa_numbers(n, e, policy)  # before pyca sees e, so that e = 1 is WEAK_KEY, not a crash
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise MalformedInput(Reason.MALFORMED, "not a valid RSA public key") from None


def _ec_key(jwk: Mapping[str, Any]) -> tuple[Curve, ec.EllipticCurvePublicKey]:
    crv = jwk.get("crv")
    spec = _EC.get(crv) if isinstance(crv, str) else None
    if spec is None:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"EC curve {short_repr(crv)} is not supported")
    curve, pyca_curve, size = spec
    x, y = b64url_decode(jwk.get("x"), "JWK x"), b64url_decode(jwk.get("y"), "JWK y")
    if len(x) != size or len(y) != size:
        raise MalformedInput(Reason.MALFORMED, f"{curve} coordinates must be {size} octets")
    try:  # the uncompressed-point decoder checks 0 <= x, y < p and that the point is on the curve
        return curve, ec.EllipticCurvePublicKey.from_encoded_point(pyca_curve, b"\x04" + x + y)
    except ValueError:
        raise MalformedInput(Reason.MALFORMED, f"point is not on {curve}") from None


def _okp_key(jwk: Mapping[str, Any]) -> tuple[Curve, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey]:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _OKP:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"OKP curve {short_repr(crv)} is not a signature curve")
    x = b64url_decode(jwk.get("x"), "JWK x")
    if len(x) != _OKP[crv]:
        raise MalformedInput(Reason.MALFORMED, f"{crv} public key must be {_OKP[crv]} octets")
    if crv == "Ed25519":
        return Curve.ED25519, ed25519.Ed25519PublicKey.from_public_bytes(x)
    return Curve.ED448, ed448.Ed448PublicKey.from_public_bytes(x)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A key bound to exactly one JWS ``alg`` (and optionally a ``kid``).

    Construction checks that the key type and curve fit ``alg`` and that an HMAC secret is long enough; the
    signature policy (RSA size, exponent) is applied again at every verification.
    """

    key: JwkKey
    alg: str
    kid: str | None = None

    def __post_init__(self) -> None:
        if self.alg not in JWS_ALGS:
            raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"alg {short_repr(self.alg)} is not supported")
        if self.alg in HMAC_ALGS:
            if not isinstance(self.key, HmacKey):
                raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"{self.alg} needs an HMAC key")
            if len(self.key.secret) < HMAC_ALGS[self.alg]:
                raise InvalidSignature(Reason.WEAK_KEY, f"{self.alg} key shorter than {HMAC_ALGS[self.alg]} octets")
        else:
            check_key_type(self.key, SigAlg(self.alg).params)

    @property
    def symmetric(self) -> bool:
        """True for HMAC keys."""
        return isinstance(self.key, HmacKey)

    @classmethod
    def from_jwk(
        cls,
        jwk: Mapping[str, Any],
        *,
        alg: str | None = None,
        policy: SignaturePolicy = JOSE,
        allow_private: bool = False,
        allow_symmetric: bool = False,
    ) -> VerificationKey:
        """Import ``jwk`` (see :func:`parse_jwk`) and bind it to ``alg``.

        The bound algorithm is ``alg`` if given (it must equal the JWK's own ``alg`` if that is present), else
        the JWK's ``alg``, else — for EC and OKP keys only, whose curve fixes the algorithm — the curve's
        algorithm. RSA and oct keys without an ``alg`` must be bound explicitly.
        """
        parsed = parse_jwk(jwk, policy=policy, allow_private=allow_private, allow_symmetric=allow_symmetric)
        if alg is not None and parsed.alg is not None and alg != parsed.alg:
            raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"JWK is for {parsed.alg}, not {short_repr(alg)}")
        bound = alg or parsed.alg or (_CURVE_ALG[parsed.curve] if parsed.curve else None)
        if bound is None:
            raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "JWK has no alg; bind one explicitly")
        key = cls(parsed.key, bound, parsed.kid)
        if not isinstance(parsed.key, HmacKey):
            params = SigAlg(bound).params
            policy.check_params(params)
            check_public_key(parsed.key, params, policy)
        return key


def verification_keys(
    jwks: Mapping[str, Any],
    *,
    policy: SignaturePolicy = JOSE,
    allow_symmetric: bool = False,
) -> tuple[VerificationKey, ...]:
    """The signature keys of a JWK Set (RFC 7517 §5), each bound by :meth:`VerificationKey.from_jwk`.

    Keys marked for encryption (``use`` other than ``sig``, or ``key_ops`` without ``verify``) are left out; any
    other key that fails import rejects the whole set (fail closed), as do two keys with one ``kid``
    (``AMBIGUOUS_KEY``; RFC 7517 §4.5 wants distinct kids).
    """
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise MalformedInput(Reason.MALFORMED, "a JWK Set has a keys array")
    keys: list[VerificationKey] = []
    for entry in entries:
        try:
            keys.append(VerificationKey.from_jwk(entry, policy=policy, allow_symmetric=allow_symmetric))
        except VerificationError as exc:
            if exc.reason is not Reason.WRONG_KEY_USAGE:
                raise
    check_distinct_kids(keys)
    return tuple(keys)


def check_distinct_kids(keys: tuple[VerificationKey, ...] | list[VerificationKey]) -> None:
    """Raise ``AMBIGUOUS_KEY`` when two keys share a ``kid``."""
    kids = [k.kid for k in keys if k.kid is not None]
    if len(kids) != len(set(kids)):
        raise InvalidSignature(Reason.AMBIGUOUS_KEY, "two keys share one kid")


def jwk_thumbprint(jwk: Mapping[str, Any], *, policy: SignaturePolicy = JOSE) -> str:
    """RFC 7638 §3: base64url SHA-256 over the required members in lexicographic order, no whitespace.

    The JWK is imported first (private and oct keys allowed), so the members hashed are known to be canonical.
    """
    parse_jwk(jwk, policy=policy, allow_private=True, allow_symmetric=True)
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(key: PublicKey, *, kid: str | None = None, alg: str | None = None) -> dict[str, str]:
    """The public JWK of ``key`` (RFC 7518 §6, RFC 8037 §2), with ``kid`` and ``alg`` when given."""
    jwk: dict[str, str]
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        jwk = {"kty": "RSA", "n": _uint_b64(numbers.n), "e": _uint_b64(numbers.e)}
    elif isinstance(key, ec.EllipticCurvePublicKey):
        crv, size = next((name, s) for name, (_, c, s) in _EC.items() if c.name == key.curve.name)
        numbers_ec = key.public_numbers()
        jwk = {"kty": "EC", "crv": crv, "x": b64url_encode(numbers_ec.x.to_bytes(size, "big")),
               "y": b64url_encode(numbers_ec.y.to_bytes(size, "big"))}
    else:
        crv = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
        jwk = {"kty": "OKP", "crv": crv, "x": b64url_encode(key.public_bytes_raw())}
    if kid is not None:
        jwk["kid"] = kid
    if alg is not None:
        jwk["alg"] = alg
    return jwk


def _uint_b64(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def short_repr(value: object) -> str:
    """A bounded rendering of an untrusted header/JWK value for error details (never claims)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
