"""Allow-listed raw signature verification over pyca/cryptography (pure).

One entry point, :func:`verify_signature`, returns ``None`` or raises
:class:`~keys.errors.InvalidSignature` (never a boolean; verification-hardening.md row 20) with

* ``ALGORITHM_NOT_ALLOWED`` when the scheme, hash, curve, encoding or PSS parameters are outside the
  :class:`SignaturePolicy` of the use, or the key type does not match the algorithm;
* ``WEAK_KEY`` when the key is outside the policy's size/exponent rules (RSA modulus bounds, public exponent
  per NIST SP 800-89 §5.3.3 / FIPS 186-5 §5.4, ROCA fingerprint CVE-2017-15361);
* ``BAD_SIGNATURE`` when the signature does not verify.

Every algorithm choice is explicit: a signature is checked with the :class:`SigParams` the caller states, never
with parameters read from the signature. Three named policies cover our uses: :data:`CARD` (the JPKI card
key, RSASSA-PKCS1-v1_5 with SHA-256 over a DigestInfo), :data:`JOSE` (RFC 7518 §3 plus RFC 8037 Ed25519)
and :data:`GENERIC` (the JOSE set, other ECDSA curve/hash pairings, DER-encoded ECDSA, any PSS salt length,
Ed448; used to score Wycheproof).

The JPKI card signs a DER DigestInfo with RSASSA-PKCS1-v1_5 (jpki-card-and-certs.md §1.5):
:func:`verify_card_signature` and :func:`verify_card_digest_signature` are the thin, hot-path checks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, cast

from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from keys.errors import InvalidSignature, MalformedInput, Reason

#: Public keys this module verifies with.
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey


class Scheme(StrEnum):
    """Signature schemes."""

    RSA_PKCS1V15 = "rsa-pkcs1v15"
    RSA_PSS = "rsa-pss"
    ECDSA = "ecdsa"
    EDDSA = "eddsa"


class HashAlg(StrEnum):
    """Hash functions a signature can name. SHA-1 and SHA-224 exist only so that a stated parameter set can be
    named and refused (no policy admits them)."""

    SHA1 = "SHA-1"
    SHA224 = "SHA-224"
    SHA256 = "SHA-256"
    SHA384 = "SHA-384"
    SHA512 = "SHA-512"


class Curve(StrEnum):
    """Curves, named as in JOSE (RFC 7518 §6.2.1.1, RFC 8037 §2)."""

    P256 = "P-256"
    P384 = "P-384"
    P521 = "P-521"
    ED25519 = "Ed25519"
    ED448 = "Ed448"


class EcdsaEncoding(StrEnum):
    """How an ECDSA signature is encoded: DER ``Ecdsa-Sig-Value`` (RFC 3279 §2.2.3) or IEEE P1363 ``r || s``
    (RFC 7518 §3.4, WebCrypto)."""

    DER = "der"
    P1363 = "p1363"


_HASHES: dict[HashAlg, type[hashes.HashAlgorithm]] = {
    HashAlg.SHA1: hashes.SHA1,
    HashAlg.SHA224: hashes.SHA224,
    HashAlg.SHA256: hashes.SHA256,
    HashAlg.SHA384: hashes.SHA384,
    HashAlg.SHA512: hashes.SHA512,
}
_HASH_BYTES = {HashAlg.SHA1: 20, HashAlg.SHA224: 28, HashAlg.SHA256: 32, HashAlg.SHA384: 48, HashAlg.SHA512: 64}
_EC_CURVES: dict[str, Curve] = {"secp256r1": Curve.P256, "secp384r1": Curve.P384, "secp521r1": Curve.P521}
_EC_COORDINATE_BYTES = {Curve.P256: 32, Curve.P384: 48, Curve.P521: 66}


def hash_length(alg: HashAlg | None) -> int:
    """Output length of a hash in octets."""
    if alg is None:
        raise ValueError("no hash")
    return _HASH_BYTES[alg]


class Suite(NamedTuple):
    """What a policy allow-lists: a scheme with its hash (RSA, ECDSA) and curve (ECDSA, EdDSA)."""

    scheme: Scheme
    hash: HashAlg | None
    curve: Curve | None


@dataclass(frozen=True, slots=True)
class SigParams:
    """A complete statement of how a signature is to be verified.

    ``mgf_hash`` and ``salt_length`` are for RSASSA-PSS only (RFC 8017 §8.1, MGF1 from §B.2.1): ``mgf_hash``
    defaults to ``hash`` and ``salt_length`` to the hash length. ``encoding`` is for ECDSA only.
    """

    scheme: Scheme
    hash: HashAlg | None = None
    curve: Curve | None = None
    encoding: EcdsaEncoding = EcdsaEncoding.DER
    mgf_hash: HashAlg | None = None
    salt_length: int | None = None

    def __post_init__(self) -> None:
        rsa_scheme = self.scheme in (Scheme.RSA_PKCS1V15, Scheme.RSA_PSS)
        if (self.hash is None) != (self.scheme is Scheme.EDDSA):
            raise ValueError(f"{self.scheme} {'takes no' if self.hash else 'needs a'} hash")
        if rsa_scheme != (self.curve is None):
            raise ValueError(f"{self.scheme} {'takes no' if rsa_scheme else 'needs a'} curve")
        if self.scheme is Scheme.EDDSA and self.curve not in (Curve.ED25519, Curve.ED448):
            raise ValueError("EdDSA is over Ed25519 or Ed448")
        if self.scheme is Scheme.ECDSA and self.curve not in _EC_COORDINATE_BYTES:
            raise ValueError("ECDSA is over P-256, P-384 or P-521")
        if self.scheme is not Scheme.RSA_PSS and (self.mgf_hash is not None or self.salt_length is not None):
            raise ValueError("MGF hash and salt length are RSASSA-PSS parameters")
        if self.salt_length is not None and self.salt_length < 0:
            raise ValueError("salt length must not be negative")

    @property
    def suite(self) -> Suite:
        """The allow-list entry this parameter set falls under."""
        return Suite(self.scheme, self.hash, self.curve)

    @property
    def pss_salt_length(self) -> int:
        """The PSS salt length in octets (the hash length unless stated)."""
        return hash_length(self.hash) if self.salt_length is None else self.salt_length


class SigAlg(StrEnum):
    """Named algorithms, with their JOSE names (RFC 7518 §3.1; RFC 8037 §3.1 ``EdDSA`` over Ed25519; ``Ed448``
    as in RFC 9864). ES* use the P1363 encoding, as JWS does."""

    RS256 = "RS256"
    RS384 = "RS384"
    RS512 = "RS512"
    PS256 = "PS256"
    PS384 = "PS384"
    PS512 = "PS512"
    ES256 = "ES256"
    ES384 = "ES384"
    ES512 = "ES512"
    EdDSA = "EdDSA"
    Ed448 = "Ed448"

    @property
    def params(self) -> SigParams:
        """The parameter set the name stands for."""
        return _SIG_ALG_PARAMS[self]


_SIG_ALG_PARAMS: dict[SigAlg, SigParams] = {
    SigAlg.RS256: SigParams(Scheme.RSA_PKCS1V15, HashAlg.SHA256),
    SigAlg.RS384: SigParams(Scheme.RSA_PKCS1V15, HashAlg.SHA384),
    SigAlg.RS512: SigParams(Scheme.RSA_PKCS1V15, HashAlg.SHA512),
    SigAlg.PS256: SigParams(Scheme.RSA_PSS, HashAlg.SHA256),
    SigAlg.PS384: SigParams(Scheme.RSA_PSS, HashAlg.SHA384),
    SigAlg.PS512: SigParams(Scheme.RSA_PSS, HashAlg.SHA512),
    SigAlg.ES256: SigParams(Scheme.ECDSA, HashAlg.SHA256, Curve.P256, EcdsaEncoding.P1363),
    SigAlg.ES384: SigParams(Scheme.ECDSA, HashAlg.SHA384, Curve.P384, EcdsaEncoding.P1363),
    SigAlg.ES512: SigParams(Scheme.ECDSA, HashAlg.SHA512, Curve.P521, EcdsaEncoding.P1363),
    SigAlg.EdDSA: SigParams(Scheme.EDDSA, None, Curve.ED25519),
    SigAlg.Ed448: SigParams(Scheme.EDDSA, None, Curve.ED448),
}


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    """The allow-list of one use: suites, ECDSA encodings, PSS salt rule and RSA key rules."""

    name: str
    suites: frozenset[Suite]
    ecdsa_encodings: frozenset[EcdsaEncoding]
    #: RSA modulus bounds in bits (the upper bound caps verification cost).
    min_rsa_bits: int = 2048
    max_rsa_bits: int = 4096
    #: The required RSA public exponent; ``None``: any odd ``e`` with 65537 <= e < 2**256 (NIST SP 800-89).
    rsa_exponent: int | None = 65537
    #: ``False``: the PSS salt must be as long as the hash (RFC 7518 §3.5); ``True``: any stated length.
    pss_any_salt: bool = False
    #: Refuse RSA moduli with the ROCA fingerprint (CVE-2017-15361).
    reject_roca: bool = True

    def check_params(self, params: SigParams) -> None:
        """Raise ``ALGORITHM_NOT_ALLOWED`` unless ``params`` are inside this policy."""
        if params.suite not in self.suites:
            raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"{_describe(params)} is not allowed for {self.name}")
        if params.scheme is Scheme.ECDSA and params.encoding not in self.ecdsa_encodings:
            raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"{params.encoding} ECDSA encoding is not allowed")
        if params.scheme is Scheme.RSA_PSS:
            if params.mgf_hash not in (None, params.hash):
                raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "the MGF1 hash must be the message hash")
            if not self.pss_any_salt and params.pss_salt_length != hash_length(params.hash):
                raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "the PSS salt must be as long as the hash")


_SHA2 = (HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512)
_NIST = (Curve.P256, Curve.P384, Curve.P521)

_JOSE_ALGS = [a.params for a in SigAlg if a is not SigAlg.Ed448]

#: The JPKI card key: RSASSA-PKCS1-v1_5 with SHA-256, RSA 2048–4096, e = 65537. ROCA screening belongs to
#: certificate admission, not to every signature on the hot path.
CARD = SignaturePolicy("card", frozenset({SigAlg.RS256.params.suite}), frozenset(), reject_roca=False)
#: JWS (RFC 7518 §3 and RFC 8037): RS*, PS* (salt = hash length), ES256/384/512 in P1363, EdDSA over Ed25519.
JOSE = SignaturePolicy(
    "jose", frozenset(p.suite for p in _JOSE_ALGS), frozenset({EcdsaEncoding.P1363}), rsa_exponent=None
)
#: Everything in JOSE, plus every NIST curve with every SHA-2 hash in DER or P1363, any PSS salt, Ed448 and RSA up
#: to 8192 bits. For outside suites (Wycheproof); never for card or token verification.
GENERIC = SignaturePolicy(
    "generic",
    JOSE.suites
    | {Suite(Scheme.ECDSA, h, c) for h in _SHA2 for c in _NIST}
    | {Suite(Scheme.EDDSA, None, Curve.ED448)},
    frozenset(EcdsaEncoding),
    max_rsa_bits=8192,
    rsa_exponent=None,
    pss_any_salt=True,
)


@dataclass(frozen=True, slots=True)
class SubjectPublicKey:
    """A public key from a SubjectPublicKeyInfo, with the RSASSA-PSS parameters its algorithm identifier binds
    it to (RFC 4055 §1.2, §3.1), if any."""

    key: PublicKey
    pss: SigParams | None = None


def load_spki(der: bytes) -> SubjectPublicKey:
    """Parse a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7); ``id-RSASSA-PSS`` keys keep their parameters.

    Raises :class:`MalformedInput` for anything that is not a supported, well-formed public key.
    """
    try:
        key = load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise MalformedInput(Reason.MALFORMED, f"not a supported public key: {type(exc).__name__}") from None
    if not isinstance(key, PublicKey):
        raise MalformedInput(Reason.MALFORMED, f"{type(key).__name__} keys are not supported")
    try:
        info = asn1_keys.PublicKeyInfo.load(der, strict=True)
        algorithm = info["algorithm"]
        if algorithm["algorithm"].native != "rsassa_pss":
            return SubjectPublicKey(key)
        return SubjectPublicKey(key, _pss_key_params(algorithm["parameters"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad RSASSA-PSS parameters: {type(exc).__name__}") from None


_ASN1_HASHES = {"sha1": HashAlg.SHA1, "sha224": HashAlg.SHA224, "sha256": HashAlg.SHA256,
                "sha384": HashAlg.SHA384, "sha512": HashAlg.SHA512}


def _pss_key_params(parameters: asn1_keys.RSASSAPSSParams) -> SigParams:
    """RSASSA-PSS-params (RFC 4055 §3.1, defaults SHA-1/MGF1-SHA-1/20/1). Absent parameters leave the key
    unrestricted, which we refuse: a PSS key must state its hash."""
    if parameters.native is None:
        raise ValueError("RSASSA-PSS key without parameters")
    params = parameters.native
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"] != "mgf1" or params["trailer_field"] != "trailer_field_bc":
        raise ValueError("only MGF1 with trailer field 1")
    return SigParams(
        Scheme.RSA_PSS,
        _ASN1_HASHES[params["hash_algorithm"]["algorithm"]],
        mgf_hash=_ASN1_HASHES[mgf["parameters"]["algorithm"]],
        salt_length=params["salt_length"],
    )


def verify_signature(
    public_key: PublicKey | SubjectPublicKey,
    signature: bytes,
    data: bytes | memoryview,
    *,
    alg: SigAlg | SigParams,
    policy: SignaturePolicy,
    prehashed: bool = False,
) -> None:
    """Verify ``signature`` over ``data`` (or over the digest ``data`` when ``prehashed``) with ``alg``.

    Order: policy on the parameters, key type and strength, PSS key restrictions (RFC 4055 §3.1: same hash
    and MGF, salt no shorter than the key's), then the signature itself. ECDSA P1363 signatures must be
    exactly ``2 * ceil(bits / 8)`` octets (RFC 7518 §3.4); RSA signatures exactly the modulus length
    (RFC 8017 §8.2.2 step 1).
    """
    params = alg.params if isinstance(alg, SigAlg) else alg
    policy.check_params(params)
    if isinstance(public_key, SubjectPublicKey):
        if public_key.pss is not None:
            _check_pss_key_restriction(public_key.pss, params)
        key = public_key.key
    else:
        key = public_key
    check_public_key(key, params, policy)
    if prehashed and params.scheme is Scheme.EDDSA:
        raise ValueError("EdDSA signs the message itself, not a digest")
    try:
        _verify(key, signature, data, params, prehashed)
    except _CryptoInvalidSignature:
        raise InvalidSignature(Reason.BAD_SIGNATURE, f"{_describe(params)} signature does not verify") from None
    except ValueError as exc:  # e.g. a digest of the wrong length, or a PSS salt too long for the modulus
        raise InvalidSignature(Reason.BAD_SIGNATURE, f"{_describe(params)} signature rejected: {exc}") from None


def _verify(key: PublicKey, signature: bytes, data: bytes | memoryview, params: SigParams, prehashed: bool) -> None:
    # pyca reads any buffer (typed as bytes): a memoryview spares copying a large signed CRL
    data = cast(bytes, data)
    if params.hash is None:  # EdDSA: key type checked against the curve already
        assert isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
        key.verify(signature, data)
        return
    algorithm = _HASHES[params.hash]()
    chosen: hashes.HashAlgorithm | Prehashed = Prehashed(algorithm) if prehashed else algorithm
    if isinstance(key, rsa.RSAPublicKey):
        if len(signature) != (key.key_size + 7) // 8:
            raise _CryptoInvalidSignature
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if params.scheme is Scheme.RSA_PKCS1V15
            else padding.PSS(padding.MGF1(_HASHES[params.mgf_hash or params.hash]()), params.pss_salt_length)
        )
        key.verify(signature, data, pad, chosen)
        return
    assert isinstance(key, ec.EllipticCurvePublicKey)
    if params.encoding is EcdsaEncoding.P1363:
        signature = _p1363_to_der(signature, _EC_COORDINATE_BYTES[_EC_CURVES[key.curve.name]])
    key.verify(signature, data, ec.ECDSA(chosen))


def _p1363_to_der(signature: bytes, size: int) -> bytes:
    """``r || s`` with each half exactly ``size`` octets (RFC 7518 §3.4) to DER; range checks are OpenSSL's."""
    if len(signature) != 2 * size:
        raise _CryptoInvalidSignature
    return encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))


def check_public_key(key: PublicKeyTypes, params: SigParams, policy: SignaturePolicy) -> None:
    """The key must fit ``params`` (``ALGORITHM_NOT_ALLOWED``) and the policy's key rules (``WEAK_KEY``)."""
    check_key_type(key, params)
    if isinstance(key, rsa.RSAPublicKey):
        check_rsa_key(key, policy)


def check_key_type(key: object, params: SigParams) -> None:
    """Raise ``ALGORITHM_NOT_ALLOWED`` unless ``key`` is of the type (and curve) ``params`` need."""
    if params.scheme in (Scheme.RSA_PKCS1V15, Scheme.RSA_PSS):
        ok = isinstance(key, rsa.RSAPublicKey)
    elif params.scheme is Scheme.ECDSA:
        ok = isinstance(key, ec.EllipticCurvePublicKey) and _EC_CURVES.get(key.curve.name) is params.curve
    else:
        ok = isinstance(key, ed25519.Ed25519PublicKey if params.curve is Curve.ED25519 else ed448.Ed448PublicKey)
    if not ok:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"{_describe(params)} cannot use a {type(key).__name__}")


def check_rsa_key(key: rsa.RSAPublicKey, policy: SignaturePolicy) -> None:
    """RSA key rules of ``policy``: modulus size bounds, public exponent, ROCA fingerprint (``WEAK_KEY``)."""
    bits = key.key_size
    if not policy.min_rsa_bits <= bits <= policy.max_rsa_bits:
        raise InvalidSignature(
            Reason.WEAK_KEY, f"RSA key of {bits} bits, {policy.name} needs {policy.min_rsa_bits}–{policy.max_rsa_bits}"
        )
    numbers = key.public_numbers()
    check_rsa_numbers(numbers.n, numbers.e, policy)


def check_rsa_numbers(n: int, e: int, policy: SignaturePolicy) -> None:
    """Exponent and ROCA rules on raw numbers (also used before a key object can be built, e.g. for e = 1)."""
    if policy.rsa_exponent is not None:
        if e != policy.rsa_exponent:
            raise InvalidSignature(Reason.WEAK_KEY, f"RSA exponent must be {policy.rsa_exponent} for {policy.name}")
    elif e % 2 == 0 or not 65537 <= e < 1 << 256:
        raise InvalidSignature(Reason.WEAK_KEY, "RSA exponent must be odd and in [65537, 2**256)")
    if policy.reject_roca and is_roca_weak(n):
        raise InvalidSignature(Reason.WEAK_KEY, "RSA modulus has the ROCA fingerprint (CVE-2017-15361)")


def _check_pss_key_restriction(key_params: SigParams, params: SigParams) -> None:
    if (
        params.scheme is not Scheme.RSA_PSS
        or params.hash is not key_params.hash
        or (params.mgf_hash or params.hash) is not (key_params.mgf_hash or key_params.hash)
        or params.pss_salt_length < key_params.pss_salt_length
    ):
        raise InvalidSignature(
            Reason.ALGORITHM_NOT_ALLOWED, "parameters differ from the RSASSA-PSS parameters bound to the key"
        )


# ROCA (Nemec et al., CCS 2017): moduli from the affected library are congruent, modulo each of these small primes,
# to a power of 65537. The test is the published fingerprint; a random modulus passes all 38 with negligible odds.
_ROCA_PRIMES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101,
                103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167)


def _powers_of_65537(p: int) -> frozenset[int]:
    powers, x = {1}, 65537 % p
    while x not in powers:
        powers.add(x)
        x = x * 65537 % p
    return frozenset(powers)


#: Most selective primes first (the fewest powers of 65537 per residue class): a sound modulus usually fails the
#: first or second test, so the check costs one or two divisions instead of about six.
_ROCA_RESIDUES = tuple(
    sorted(((p, _powers_of_65537(p)) for p in _ROCA_PRIMES), key=lambda entry: len(entry[1]) / entry[0])
)


def is_roca_weak(n: int) -> bool:
    """True when the modulus ``n`` has the ROCA fingerprint (CVE-2017-15361)."""
    return all(n % p in residues for p, residues in _ROCA_RESIDUES)


def _describe(params: SigParams) -> str:
    parts = [params.scheme, params.hash, params.curve, params.encoding if params.scheme is Scheme.ECDSA else None]
    return "/".join(p.value for p in parts if p is not None)


# --- the JPKI card key (hot path) ---------------------------------------------------------------------------------

#: DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_PREHASHED_SHA256 = Prehashed(hashes.SHA256())


def digest_info_sha256(digest: bytes) -> bytes:
    """The DER DigestInfo of a SHA-256 digest (RFC 8017 §9.2 step 2): what the card's COMPUTE DIGITAL SIGNATURE
    takes as data (jpki-card-and-certs.md §1.5)."""
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    return SHA256_DIGEST_INFO_PREFIX + digest


def verify_card_signature(public_key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> None:
    """Verify a card signature over ``message``: RSASSA-PKCS1-v1_5 over DigestInfo(SHA-256(message)).

    Policy :data:`CARD`: RSA 2048–4096 bits, e = 65537, signature exactly the modulus length. The encoded
    message is rebuilt and compared as a whole (RFC 8017 §8.2.2 step 3-4), so BER variants, missing NULL
    parameters or garbage in the padding fail (Bleichenbacher 2006, BERserk).
    """
    _check_card_key(public_key, signature)
    _verify_card(public_key, signature, message, _SHA256)


def verify_checked_card_signature(public_key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> None:
    """As :func:`verify_card_signature`, for a key already held to rules at least as strict as :data:`CARD`'s
    (:meth:`keys.x509.path.ValidatedPath.verify_card_signature`: step 2 of path validation checked the JPKI leaf
    key, RSA 2048–4096 in whole octets with e = 65537): the key's numbers are not read again. The signature
    length and the verification itself are as in :func:`verify_card_signature`."""
    _check_signature_length(public_key.key_size, signature)
    _verify_card(public_key, signature, message, _SHA256)


def verify_card_digest_signature(public_key: rsa.RSAPublicKey, signature: bytes, digest: bytes) -> None:
    """As :func:`verify_card_signature`, for a caller that holds SHA-256(message) already."""
    if len(digest) != 32:
        raise MalformedInput(Reason.MALFORMED, "a SHA-256 digest is 32 bytes")
    _check_card_key(public_key, signature)
    _verify_card(public_key, signature, digest, _PREHASHED_SHA256)


def _verify_card(public_key: rsa.RSAPublicKey, signature: bytes, data: bytes,
                 algorithm: hashes.HashAlgorithm | Prehashed) -> None:
    try:
        public_key.verify(signature, data, _PKCS1V15, algorithm)
    except _CryptoInvalidSignature:
        raise InvalidSignature(Reason.BAD_SIGNATURE, "card signature does not verify") from None


def _check_signature_length(bits: int, signature: bytes) -> None:
    if len(signature) != (bits + 7) // 8:
        raise InvalidSignature(Reason.BAD_SIGNATURE, "signature length differs from the modulus length")


def _check_card_key(public_key: rsa.RSAPublicKey, signature: bytes) -> None:
    """:data:`CARD` key rules, inlined for the hot path (same checks and reasons as :func:`check_rsa_key`).

    Only RSA public numbers have ``e``: reading it doubles as the key-type check, cheaper than an ABC
    ``isinstance`` (EC and DSA keys have ``key_size`` but no ``e``; EdDSA keys have neither).
    """
    try:
        bits, e = public_key.key_size, public_key.public_numbers().e
    except AttributeError:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "the card key is an RSA key") from None
    if not CARD.min_rsa_bits <= bits <= CARD.max_rsa_bits or e != CARD.rsa_exponent:
        check_rsa_key(public_key, CARD)  # raises WEAK_KEY with the precise detail
    _check_signature_length(bits, signature)
