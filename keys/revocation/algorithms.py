"""The signature algorithms allowed on revocation data (CRLs, OCSP responses and OCSP responder
certificates), named by their X.509 OIDs and checked through :mod:`keys.signatures`.

Allowed: RSASSA-PKCS1-v1_5 and ECDSA (DER) with SHA-256/384/512 (RFC 4055, RFC 5758), RSA 2048–8192
bits, curves P-256/384/521. Refused: SHA-1 and MD5 (collisions), RSA-PSS and EdDSA (not used by JPKI;
refusing them keeps one parameter set per OID, with no parameters to read from the data).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ObjectIdentifier, SignatureAlgorithmOID

from keys import signatures
from keys.errors import InvalidSignature, Reason
from keys.signatures import Curve, EcdsaEncoding, HashAlg, Scheme, SignaturePolicy, SigParams, Suite

_SHA2 = (HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512)
_CURVES = (Curve.P256, Curve.P384, Curve.P521)

_ALGORITHMS: dict[ObjectIdentifier, tuple[Scheme, HashAlg]] = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: (Scheme.RSA_PKCS1V15, HashAlg.SHA256),
    SignatureAlgorithmOID.RSA_WITH_SHA384: (Scheme.RSA_PKCS1V15, HashAlg.SHA384),
    SignatureAlgorithmOID.RSA_WITH_SHA512: (Scheme.RSA_PKCS1V15, HashAlg.SHA512),
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: (Scheme.ECDSA, HashAlg.SHA256),
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: (Scheme.ECDSA, HashAlg.SHA384),
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: (Scheme.ECDSA, HashAlg.SHA512),
}
_CURVE_NAMES = {"secp256r1": Curve.P256, "secp384r1": Curve.P384, "secp521r1": Curve.P521}

#: Signers of CRLs and OCSP responses: CA and responder keys.
REVOCATION_DATA = SignaturePolicy(
    "revocation data",
    frozenset({Suite(Scheme.RSA_PKCS1V15, h, None) for h in _SHA2} | {Suite(Scheme.ECDSA, h, c) for h in _SHA2
                                                                      for c in _CURVES}),
    frozenset({EcdsaEncoding.DER}),
    max_rsa_bits=8192,
    rsa_exponent=None,
)


def check_algorithm(algorithm: ObjectIdentifier, what: str) -> None:
    """Refuse a signature algorithm outside the allow-list (``ALGORITHM_NOT_ALLOWED``)."""
    if algorithm not in _ALGORITHMS:
        raise InvalidSignature(
            Reason.ALGORITHM_NOT_ALLOWED, f"{what} is signed with {algorithm.dotted_string}, which is not allowed"
        )


def verify_signature(
    key: CertificatePublicKeyTypes, algorithm: ObjectIdentifier, signature: bytes, data: bytes | memoryview, what: str
) -> None:
    """Verify ``signature`` over the exact bytes ``data`` with ``key`` under the X.509 ``algorithm``, or raise
    :class:`~keys.errors.InvalidSignature` (algorithm, key or signature refused)."""
    check_algorithm(algorithm, what)
    scheme, digest = _ALGORITHMS[algorithm]
    if scheme is Scheme.RSA_PKCS1V15 and isinstance(key, rsa.RSAPublicKey):
        params = SigParams(scheme, digest)
    elif scheme is Scheme.ECDSA and isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _CURVE_NAMES:
        params = SigParams(scheme, digest, _CURVE_NAMES[key.curve.name])
    else:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"{what}: the signer's key does not fit the algorithm")
    try:
        signatures.verify_signature(key, signature, data, alg=params, policy=REVOCATION_DATA)
    except InvalidSignature as exc:
        raise InvalidSignature(exc.reason, f"{what}: {exc.detail}") from None
