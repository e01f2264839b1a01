"""Raw signature verification: the card signature over a DigestInfo, the policies, and what Wycheproof lacks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from asn1crypto import algos
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from keys.errors import InvalidSignature, MalformedInput, Reason
from keys.signatures import (
    CARD,
    GENERIC,
    JOSE,
    SHA256_DIGEST_INFO_PREFIX,
    Curve,
    EcdsaEncoding,
    HashAlg,
    PublicKey,
    Scheme,
    SigAlg,
    SigParams,
    SubjectPublicKey,
    digest_info_sha256,
    is_roca_weak,
    load_spki,
    verify_card_digest_signature,
    verify_card_signature,
    verify_signature,
)
from keys.testpki import new_rsa_key

MESSAGE = b"JPKI login challenge 0123456789"
EcKeys = dict[Curve, ec.EllipticCurvePrivateKey]
HASHES: dict[HashAlg, hashes.HashAlgorithm] = {
    HashAlg.SHA256: hashes.SHA256(), HashAlg.SHA384: hashes.SHA384(), HashAlg.SHA512: hashes.SHA512()
}
EdKeys = dict[Curve, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey]


@pytest.fixture(scope="module")
def card_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@pytest.fixture(scope="module")
def ec_keys() -> EcKeys:
    return {c: ec.generate_private_key(k) for c, k in
            ((Curve.P256, ec.SECP256R1()), (Curve.P384, ec.SECP384R1()), (Curve.P521, ec.SECP521R1()))}


def _card_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """What the card does with COMPUTE DIGITAL SIGNATURE: type-1 padding around ``data``, then the raw RSA
    private operation (jpki-card-and-certs.md §1.5)."""
    numbers = key.private_numbers()
    k = (key.key_size + 7) // 8
    encoded = b"\x00\x01" + b"\xff" * (k - len(data) - 3) + b"\x00" + data
    return pow(int.from_bytes(encoded, "big"), numbers.d, numbers.public_numbers.n).to_bytes(k, "big")


# --- the card signature -----------------------------------------------------------------------------------------


def test_digest_info_is_the_rfc_8017_encoding() -> None:
    digest = hashlib.sha256(MESSAGE).digest()
    assert SHA256_DIGEST_INFO_PREFIX.hex(" ") == "30 31 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20"
    assert digest_info_sha256(digest) == SHA256_DIGEST_INFO_PREFIX + digest
    assert len(digest_info_sha256(digest)) == 51
    with pytest.raises(ValueError, match="32 bytes"):
        digest_info_sha256(digest[:31])


def test_card_signature_over_digest_info_verifies(card_key: rsa.RSAPrivateKey) -> None:
    digest = hashlib.sha256(MESSAGE).digest()
    signature = _card_sign(card_key, digest_info_sha256(digest))
    # the card's raw operation equals RSASSA-PKCS1-v1_5 with SHA-256, as the verifier assumes
    assert signature == card_key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    verify_card_signature(card_key.public_key(), signature, MESSAGE)
    verify_card_digest_signature(card_key.public_key(), signature, digest)


def test_card_signature_over_a_different_message_fails(card_key: rsa.RSAPrivateKey) -> None:
    signature = _card_sign(card_key, digest_info_sha256(hashlib.sha256(MESSAGE).digest()))
    with pytest.raises(InvalidSignature) as exc:
        verify_card_signature(card_key.public_key(), signature, MESSAGE + b"!")
    assert exc.value.reason is Reason.BAD_SIGNATURE
    with pytest.raises(InvalidSignature):
        verify_card_digest_signature(card_key.public_key(), signature, hashlib.sha256(b"other").digest())


@pytest.mark.parametrize(
    "encoded",
    [
        # DigestInfo without the NULL parameters (Wycheproof MissingNull, "acceptable" elsewhere)
        bytes.fromhex("302f300b0609608648016503040201" "0420"),
        # BER long-form length of the outer SEQUENCE (BERserk, CVE-2014-1568)
        bytes.fromhex("30813130 0d060960864801650304020105000420".replace(" ", "")),
        # SHA-1 DigestInfo of the same message
        bytes.fromhex("3021300906052b0e03021a05000414"),
    ],
    ids=["missing-null", "ber-length", "sha1"],
)
def test_card_signature_over_a_variant_digest_info_fails(card_key: rsa.RSAPrivateKey, encoded: bytes) -> None:
    hash_ = hashlib.sha1 if encoded.endswith(bytes.fromhex("0414")) else hashlib.sha256
    signature = _card_sign(card_key, encoded + hash_(MESSAGE).digest())
    with pytest.raises(InvalidSignature) as exc:
        verify_card_signature(card_key.public_key(), signature, MESSAGE)
    assert exc.value.reason is Reason.BAD_SIGNATURE


def test_card_signature_with_garbage_after_digest_info_fails(card_key: rsa.RSAPrivateKey) -> None:
    """Bleichenbacher 2006: a lax parser stops after the DigestInfo and ignores what follows."""
    data = digest_info_sha256(hashlib.sha256(MESSAGE).digest()) + b"\x00" * 8
    with pytest.raises(InvalidSignature):
        verify_card_signature(card_key.public_key(), _card_sign(card_key, data), MESSAGE)


@pytest.mark.parametrize("mangle", [lambda s: b"\x00" + s, lambda s: s[1:], lambda s: s + b"\x00"],
                         ids=["leading-zero", "truncated", "trailing-zero"])
def test_card_signature_length_must_equal_the_modulus(card_key: rsa.RSAPrivateKey,
                                                     mangle: Callable[[bytes], bytes]) -> None:
    signature = card_key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature) as exc:
        verify_card_signature(card_key.public_key(), mangle(signature), MESSAGE)
    assert exc.value.reason is Reason.BAD_SIGNATURE


def test_card_policy_refuses_weak_and_foreign_keys(card_key: rsa.RSAPrivateKey) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    e3 = rsa.generate_private_key(public_exponent=3, key_size=2048)
    for key in (small, e3):
        with pytest.raises(InvalidSignature) as exc:
            verify_card_signature(key.public_key(), key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256()), MESSAGE)
        assert exc.value.reason is Reason.WEAK_KEY
    huge = rsa.RSAPublicNumbers(65537, (1 << 4199) | 1).public_key()
    with pytest.raises(InvalidSignature) as exc:
        verify_card_signature(huge, b"\x01" * 525, MESSAGE)
    assert exc.value.reason is Reason.WEAK_KEY
    with pytest.raises(InvalidSignature) as exc:
        verify_card_signature(ec.generate_private_key(ec.SECP256R1()).public_key(), b"\x00" * 64, MESSAGE)  # type: ignore[arg-type]
    assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED


def test_card_digest_of_the_wrong_length_is_malformed(card_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(MalformedInput):
        verify_card_digest_signature(card_key.public_key(), b"\x00" * 256, b"\x00" * 20)


def test_card_policy_is_rs256_only(card_key: rsa.RSAPrivateKey) -> None:
    signature = card_key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    verify_signature(card_key.public_key(), signature, MESSAGE, alg=SigAlg.RS256, policy=CARD)
    pss = card_key.sign(MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    for alg, sig in ((SigAlg.PS256, pss), (SigAlg.RS384, signature)):
        with pytest.raises(InvalidSignature) as exc:
            verify_signature(card_key.public_key(), sig, MESSAGE, alg=alg, policy=CARD)
        assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED


# --- every named algorithm -------------------------------------------------------------------------------------


def _sign(alg: SigAlg, rsa_key: rsa.RSAPrivateKey, ec_keys: EcKeys,
          ed: EdKeys, data: bytes) -> tuple[object, bytes]:
    params = alg.params
    if params.scheme is Scheme.EDDSA:
        assert params.curve is not None
        return ed[params.curve].public_key(), ed[params.curve].sign(data)
    assert params.hash is not None
    algorithm = HASHES[params.hash]
    if params.scheme is Scheme.RSA_PKCS1V15:
        return rsa_key.public_key(), rsa_key.sign(data, padding.PKCS1v15(), algorithm)
    if params.scheme is Scheme.RSA_PSS:
        pss = padding.PSS(padding.MGF1(algorithm), algorithm.digest_size)
        return rsa_key.public_key(), rsa_key.sign(data, pss, algorithm)
    assert params.curve is not None
    key = ec_keys[params.curve]
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(algorithm)))
    size = (key.curve.key_size + 7) // 8
    return key.public_key(), r.to_bytes(size, "big") + s.to_bytes(size, "big")


@pytest.fixture(scope="module")
def ed_keys() -> EdKeys:
    return {Curve.ED25519: ed25519.Ed25519PrivateKey.generate(), Curve.ED448: ed448.Ed448PrivateKey.generate()}


@pytest.mark.parametrize("alg", list(SigAlg))
def test_each_algorithm_verifies_and_detects_a_changed_message(
    alg: SigAlg, card_key: rsa.RSAPrivateKey, ec_keys: EcKeys,
    ed_keys: EdKeys,
) -> None:
    public, signature = _sign(alg, card_key, ec_keys, ed_keys, MESSAGE)
    policy = GENERIC if alg is SigAlg.Ed448 else JOSE
    verify_signature(public, signature, MESSAGE, alg=alg, policy=policy)  # type: ignore[arg-type]
    with pytest.raises(InvalidSignature) as exc:
        verify_signature(public, signature, MESSAGE + b".", alg=alg, policy=policy)  # type: ignore[arg-type]
    assert exc.value.reason is Reason.BAD_SIGNATURE


def test_jose_refuses_ed448_and_der_ecdsa(ed_keys: EdKeys,
                                          ec_keys: EcKeys) -> None:
    ed = ed_keys[Curve.ED448]
    with pytest.raises(InvalidSignature) as exc:
        verify_signature(ed.public_key(), ed.sign(MESSAGE), MESSAGE, alg=SigAlg.Ed448, policy=JOSE)
    assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED
    key = ec_keys[Curve.P256]
    der = key.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    params = SigParams(Scheme.ECDSA, HashAlg.SHA256, Curve.P256, EcdsaEncoding.DER)
    verify_signature(key.public_key(), der, MESSAGE, alg=params, policy=GENERIC)
    with pytest.raises(InvalidSignature) as exc:
        verify_signature(key.public_key(), der, MESSAGE, alg=params, policy=JOSE)
    assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED


def test_curve_and_hash_pairings_beyond_jose(ec_keys: EcKeys) -> None:
    """Wycheproof's P-256/SHA-512 and P-384/SHA-256 pairings: GENERIC admits them, JOSE does not."""
    key = ec_keys[Curve.P384]
    params = SigParams(Scheme.ECDSA, HashAlg.SHA256, Curve.P384, EcdsaEncoding.DER)
    signature = key.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    verify_signature(key.public_key(), signature, MESSAGE, alg=params, policy=GENERIC)
    with pytest.raises(InvalidSignature):
        verify_signature(key.public_key(), signature, MESSAGE,
                         alg=SigParams(Scheme.ECDSA, HashAlg.SHA256, Curve.P384, EcdsaEncoding.P1363), policy=JOSE)


@pytest.mark.parametrize("delta", [-1, 1])
def test_p1363_signature_must_have_the_exact_length(ec_keys: EcKeys,
                                                    card_key: rsa.RSAPrivateKey, delta: int,
                                                    ed_keys: EdKeys) -> None:
    public, signature = _sign(SigAlg.ES512, card_key, ec_keys, ed_keys, MESSAGE)
    assert len(signature) == 132
    mangled = b"\x00" + signature if delta > 0 else signature[1:]
    with pytest.raises(InvalidSignature) as exc:
        verify_signature(public, mangled, MESSAGE, alg=SigAlg.ES512, policy=JOSE)  # type: ignore[arg-type]
    assert exc.value.reason is Reason.BAD_SIGNATURE


def test_key_type_must_fit_the_algorithm(card_key: rsa.RSAPrivateKey,
                                         ec_keys: EcKeys) -> None:
    cases: list[tuple[PublicKey, SigAlg]] = [
        (card_key.public_key(), SigAlg.ES256), (ec_keys[Curve.P384].public_key(), SigAlg.ES256),
        (ec_keys[Curve.P256].public_key(), SigAlg.RS256), (card_key.public_key(), SigAlg.EdDSA),
    ]
    for public, alg in cases:
        with pytest.raises(InvalidSignature) as exc:
            verify_signature(public, b"\x00" * 64, MESSAGE, alg=alg, policy=JOSE)
        assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED


def test_pss_rules(card_key: rsa.RSAPrivateKey) -> None:
    salt0 = card_key.sign(MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 0), hashes.SHA256())
    zero_salt = SigParams(Scheme.RSA_PSS, HashAlg.SHA256, salt_length=0)
    verify_signature(card_key.public_key(), salt0, MESSAGE, alg=zero_salt, policy=GENERIC)
    with pytest.raises(InvalidSignature) as exc:  # JOSE: salt = hash length (RFC 7518 §3.5)
        verify_signature(card_key.public_key(), salt0, MESSAGE, alg=zero_salt, policy=JOSE)
    assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED
    with pytest.raises(InvalidSignature) as exc:  # the stated salt length is checked exactly
        verify_signature(card_key.public_key(), salt0, MESSAGE, alg=SigAlg.PS256, policy=JOSE)
    assert exc.value.reason is Reason.BAD_SIGNATURE
    for params in (SigParams(Scheme.RSA_PSS, HashAlg.SHA256, mgf_hash=HashAlg.SHA512),
                   SigParams(Scheme.RSA_PSS, HashAlg.SHA1), SigParams(Scheme.RSA_PKCS1V15, HashAlg.SHA224)):
        with pytest.raises(InvalidSignature) as exc:
            verify_signature(card_key.public_key(), salt0, MESSAGE, alg=params, policy=GENERIC)
        assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED


def _pss_spki(key: rsa.RSAPublicKey, hash_name: str, salt: int) -> bytes:
    rsa_der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    params = algos.RSASSAPSSParams({
        "hash_algorithm": {"algorithm": hash_name},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": hash_name}},
        "salt_length": salt,
    })
    info = asn1_keys.PublicKeyInfo({
        "algorithm": {"algorithm": "rsassa_pss", "parameters": params},
        "public_key": asn1_keys.RSAPublicKey.load(rsa_der),
    })
    return bytes(info.dump())


def test_pss_key_parameters_bind_the_key(card_key: rsa.RSAPrivateKey) -> None:
    """RFC 4055 §3.1: an id-RSASSA-PSS key is used only with its hash and MGF, and a salt no shorter."""
    spki = load_spki(_pss_spki(card_key.public_key(), "sha256", 32))
    assert spki.pss == SigParams(Scheme.RSA_PSS, HashAlg.SHA256, mgf_hash=HashAlg.SHA256, salt_length=32)
    signature = card_key.sign(MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    verify_signature(spki, signature, MESSAGE, alg=SigAlg.PS256, policy=JOSE)
    rs256 = card_key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    refused: list[tuple[SigAlg | SigParams, bytes]] = [
        (SigAlg.RS256, rs256),
        (SigParams(Scheme.RSA_PSS, HashAlg.SHA256, salt_length=20), signature),
        (SigAlg.PS384, signature),
    ]
    for alg, sig in refused:
        with pytest.raises(InvalidSignature) as exc:
            verify_signature(spki, sig, MESSAGE, alg=alg, policy=GENERIC)
        assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED
    plain = load_spki(card_key.public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    assert plain == SubjectPublicKey(plain.key)


def test_unreadable_spki_is_malformed(card_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(MalformedInput):
        load_spki(b"\x30\x03\x02\x01\x00")
    rsa_der = card_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    no_params = asn1_keys.PublicKeyInfo({"algorithm": {"algorithm": "rsassa_pss"},
                                         "public_key": asn1_keys.RSAPublicKey.load(rsa_der)}).dump()
    with pytest.raises(MalformedInput):
        load_spki(no_params)


def test_prehashed_digest_and_eddsa_refusal(ec_keys: EcKeys,
                                            ed_keys: EdKeys) -> None:
    key = ec_keys[Curve.P256]
    digest = hashlib.sha256(MESSAGE).digest()
    der = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    params = SigParams(Scheme.ECDSA, HashAlg.SHA256, Curve.P256)
    verify_signature(key.public_key(), der, digest, alg=params, policy=GENERIC, prehashed=True)
    verify_signature(key.public_key(), der, MESSAGE, alg=params, policy=GENERIC)
    with pytest.raises(InvalidSignature):  # a digest of the wrong length is a failed verification, not a crash
        verify_signature(key.public_key(), der, digest[:20], alg=params, policy=GENERIC, prehashed=True)
    ed = ed_keys[Curve.ED25519]
    with pytest.raises(ValueError, match="EdDSA"):
        verify_signature(ed.public_key(), ed.sign(MESSAGE), MESSAGE, alg=SigAlg.EdDSA, policy=JOSE,
                         prehashed=True)


def _with_exponent(key: rsa.RSAPrivateKey, e: int) -> rsa.RSAPrivateKey:
    """The same primes with another public exponent (pyca only generates e = 3 or 65537)."""
    numbers = key.private_numbers()
    p, q = numbers.p, numbers.q
    d = pow(e, -1, (p - 1) * (q - 1))
    return rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                 rsa.RSAPublicNumbers(e, p * q)).private_key()


def test_rsa_exponent_rules(card_key: rsa.RSAPrivateKey) -> None:
    key = _with_exponent(card_key, 65539)
    signature = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    verify_signature(key.public_key(), signature, MESSAGE, alg=SigAlg.RS256, policy=JOSE)
    with pytest.raises(InvalidSignature) as exc:  # the card use wants exactly 65537
        verify_signature(key.public_key(), signature, MESSAGE, alg=SigAlg.RS256, policy=CARD)
    assert exc.value.reason is Reason.WEAK_KEY


def test_roca_fingerprint() -> None:
    """A modulus that is a power of 65537 modulo every fingerprint prime has the fingerprint (that is how the
    affected library built its primes); random keys do not."""
    primes = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101,
              103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167)
    m = 1
    for p in primes:
        m *= p
    fingerprinted = pow(65537, 123456789, m) + m * (1 << 1900)
    fingerprinted += m if fingerprinted % 2 == 0 else 0  # odd, same residues
    assert is_roca_weak(fingerprinted)
    assert not is_roca_weak(fingerprinted + 2)
    assert not any(is_roca_weak(new_rsa_key().public_key().public_numbers().n) for _ in range(3))
    weak = rsa.RSAPublicNumbers(65537, fingerprinted).public_key()
    with pytest.raises(InvalidSignature) as exc:
        verify_signature(weak, b"\x00" * ((weak.key_size + 7) // 8), MESSAGE, alg=SigAlg.RS256, policy=JOSE)
    assert exc.value.reason is Reason.WEAK_KEY
