"""Certificate path validation to pinned roots: pyca/cryptography's RFC 5280 verifier (for the JPKI profiles, its
rules on ``[leaf, root]`` checked directly, pyca's verifier as the fallback) plus the JPKI rules it does not enforce
(verification-hardening.md §2).

:func:`validate_path` follows these steps; returning is the one success path, and each failure raises a
:class:`~keys.errors.VerificationError` subclass with a precise reason:

1. Size limits, then parse (``MALFORMED``/``TOO_LARGE``).
2. Structural strictness beyond pyca (:mod:`keys.x509.strict`) and the leaf key (RSA 2048–4096 in whole
   octets, e = 65537, no ROCA fingerprint).
3. RFC 5280 path building and validation, validity at ``at`` included (§6.1.3(a)(2)), among the anchors of
   the profile's purpose (all root generations), with explicit CA/EE extension policies. For the JPKI profiles
   the end-entity policy requires critical certificatePolicies and KeyUsage, a non-critical EKU if any, and no
   subjectAltName on authentication certificates (signing: a non-critical one).

   JPKI (``direct_issue_only``), first: :func:`_direct_path` checks ``[leaf, root]`` itself, the rules pyca's
   verifier applies to such a path, on the leaf's octets: (3.1) v3, signatureAlgorithm equal to the TBS
   signature and one of webpki's, serial of 1–21 octets and not negative, non-empty issuer, UTCTime validity
   with ``at`` within it at one-second resolution; (3.2) the end-entity extension policy (criticality of each
   extension, required ones present, no nameConstraints, no unknown critical extension, AIA and basicConstraints
   values pyca accepted before); (3.3) issuers by the leaf's issuer DER in pyca's key-identifier order; (3.4) the
   anchor valid at ``at``, accepted by pyca as the issuer of an earlier path (its CA rules), an RSA key of at
   least 2048 bits, no nameConstraints, then the signature and name chaining by pyca's
   ``verify_directly_issued_by``. It may only accept: anything else (or a case it leaves to pyca) runs pyca's
   verifier, whose acceptance also records what the direct step may reuse, and whose refusal goes to
   :func:`_diagnose` as before. tests/keys/test_direct_path.py holds it to pyca's verdicts.
   Other profiles: pyca's verifier only.
3b. JPKI: the values of those extensions (policy OID pinned to the profile, KeyUsage bits, EKU), each decoded
   and checked once per distinct encoding: the leaf's extensions are never all decoded in Python on the
   success path, which would cost more than the signature check itself.
4. Certificates of the built path above the leaf pass the structural checks (the anchor's once per store).
5. JPKI: the path is exactly ``[leaf, root]``; the root is of the profile's purpose and, outside test
   mode, not a test root; the leaf's authorityKeyIdentifier names the root's key.

When step 3 fails, :func:`_diagnose` re-runs the same rules on the decoded leaf to name the precise reason
(expired, not yet valid, test hierarchy outside test mode, wrong policy, wrong key usage, no pinned root,
...); anything it cannot name is ``NO_VALID_PATH`` with pyca's message.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification as pv
from cryptography.x509.oid import ObjectIdentifier

from keys import der
from keys.errors import InvalidSignature, LimitExceeded, MalformedInput, Reason, UntrustedCertificate, VerificationError
from keys.limits import DEFAULT_LIMITS, Limits
from keys.signatures import CARD, is_roca_weak, verify_card_signature, verify_checked_card_signature
from keys.trust import TrustAnchor, TrustStore, is_test_hierarchy_name, parse_certificate
from keys.x509 import strict
from keys.x509.profile import JPKI_AUTH, JPKI_SIGN, Profile, Purpose, key_usage_bits
from keys.x509.rawcert import RawCertificate, raw_certificate

_ANY_POLICY = ObjectIdentifier("2.5.29.32.0")
_ISO = "%Y-%m-%dT%H:%M:%SZ"
_E = TypeVar("_E", bound=x509.ExtensionType)


#: Profiles whose leaf-key rules (step 2, :func:`check_leaf_key`) include the card signature policy's: RSA only,
#: modulus sizes within CARD's, CARD's exponent.
_CARD_STRICT = tuple(
    p for p in (JPKI_AUTH, JPKI_SIGN)
    if not p.allow_ec_leaf and p.rsa_exponent == CARD.rsa_exponent and CARD.min_rsa_bits <= p.min_rsa_bits
    and p.max_rsa_bits <= CARD.max_rsa_bits
)


@dataclass(frozen=True, slots=True)
class ValidatedPath:
    """A successfully validated path, leaf first, ending at a pinned (or admitted test) anchor."""

    leaf: x509.Certificate
    #: The leaf as read (what the card sent): revocation checks read their fields from these bytes.
    raw: RawCertificate
    chain: tuple[x509.Certificate, ...]
    anchor: TrustAnchor
    profile: Profile
    #: The leaf's public key, parsed once (step 2 checks it; callers verify the holder's signatures with it).
    leaf_key: CertificatePublicKeyTypes

    def verify_card_signature(self, signature: bytes, message: bytes) -> None:
        """Verify the card holder's signature over ``message`` with the leaf key
        (:func:`keys.signatures.verify_card_signature`). For the JPKI profiles step 2 held the key to rules
        stricter than the card signature policy's (:func:`check_leaf_key`: RSA 2048–4096 in whole octets,
        e = 65537, no ROCA fingerprint), so they are not checked again."""
        if self.profile in _CARD_STRICT:
            verify_checked_card_signature(cast(rsa.RSAPublicKey, self.leaf_key), signature, message)
            return
        key = self.leaf_key
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "the card key is an RSA key")
        verify_card_signature(key, signature, message)

    @property
    def leaf_der(self) -> bytes:
        """The leaf certificate as DER."""
        return self.raw.der

    @property
    def issuer(self) -> x509.Certificate:
        """The certificate that issued the leaf (the root, for JPKI)."""
        return self.chain[1]

    @property
    def policy_oid(self) -> ObjectIdentifier | None:
        """The profile policy OID the leaf asserts (JPKI profiles), decoded on demand."""
        if not self.profile.policy_oids:
            return None
        policies = self.leaf.extensions.get_extension_for_class(x509.CertificatePolicies).value
        oid: ObjectIdentifier = policies[0].policy_identifier
        return oid


def validate_path(
    leaf: x509.Certificate | bytes,
    *,
    profile: Profile,
    trust: TrustStore,
    at: dt.datetime,
    intermediates: Sequence[x509.Certificate | bytes] = (),
    server_name: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ValidatedPath:
    """Validate ``leaf`` for ``profile`` at time ``at`` against ``trust``; raise on any failure."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    try:
        return _validate_path(leaf, profile, trust, at, intermediates, server_name, limits)
    except strict.LAZY_DECODING_ERRORS as exc:  # cryptography decodes names, keys and extensions lazily
        raise MalformedInput(Reason.MALFORMED, f"malformed certificate: {_clean(str(exc))}") from None


def _validate_path(
    leaf: x509.Certificate | bytes,
    profile: Profile,
    trust: TrustStore,
    at: dt.datetime,
    intermediates: Sequence[x509.Certificate | bytes],
    server_name: str | None,
    limits: Limits,
) -> ValidatedPath:
    # 1. limits and parsing
    if len(intermediates) + 1 > limits.chain_length:
        raise LimitExceeded(Reason.TOO_LARGE, f"chain of {len(intermediates) + 1}, limit {limits.chain_length}")
    if isinstance(leaf, x509.Certificate):
        cert, leaf_der = leaf, leaf.public_bytes(Encoding.DER)
    else:
        cert, leaf_der = parse_certificate(leaf, limits), leaf
    raw = raw_certificate(leaf_der)
    pool = [c if isinstance(c, x509.Certificate) else parse_certificate(c, limits) for c in intermediates] if (
        intermediates) else []
    if profile.direct_issue_only and pool:
        raise UntrustedCertificate(Reason.NO_VALID_PATH, "JPKI certificates are issued directly by a root")

    # 2. structural strictness and the leaf key (JPKI leaf extensions are checked by the policy in step 3)
    is_jpki = profile.is_jpki
    if is_jpki:
        strict.check_serial_number(raw.serial_number)  # the serial pyca reads, from the same octets
    else:
        strict.check_certificate(cert, is_leaf=True)
    leaf_key = check_leaf_key(cert, profile)

    # 3. RFC 5280 path validation (validity at ``at`` included) with the profile's extension policies
    anchors = trust.anchors_for(profile.purpose) if is_jpki else trust.anchors
    if not anchors:
        raise _diagnose(cert, profile, trust, at, f"no trust anchor for {profile.purpose}")
    direct: TrustAnchor | None = None
    authority_key_id: bytes | None = None
    aki_read = False
    if profile.direct_issue_only:
        try:
            authority_key_id, aki_read = raw.authority_key_id(), True
        except MalformedInput:  # refused in step 5 as before, after pyca's verdict
            pass
        else:
            direct = _direct_path(cert, raw, profile, trust, anchors, at, authority_key_id)
    if direct is not None:
        anchor = direct
        chain: tuple[x509.Certificate, ...] = (cert, anchor.certificate)
    else:
        verifier = _verifier(trust, profile, anchors, int(at.timestamp()), server_name, limits.chain_depth)
        try:
            verified = verifier.verify(cert, pool)
        except pv.VerificationError as exc:
            raise _diagnose(cert, profile, trust, at, _clean(str(exc))) from None
        except ValueError as exc:  # malformed extensions met while building
            raise MalformedInput(Reason.MALFORMED, _clean(str(exc))) from None
        chain = tuple(verified.chain if isinstance(verified, pv.VerifiedClient) else verified)
        anchor = _anchor_of(chain[-1], anchors)
        if profile.direct_issue_only:
            _remember_proven(trust, raw, anchor, len(chain))
    if is_jpki:  # 3b. the values of the JPKI end-entity extensions
        try:
            _check_profile_values(cert, raw, profile, trust)
        except VerificationError as exc:
            raise _diagnose(cert, profile, trust, at, exc.detail) from None

    # 4. the rest of the built path
    for c in chain[1:-1]:
        strict.check_certificate(c, is_leaf=False)
    _check_anchor_once(trust, anchor)

    # 5. JPKI shape
    if profile.direct_issue_only:
        if len(chain) != 2:
            raise UntrustedCertificate(Reason.NO_VALID_PATH, "JPKI path must be leaf and root only")
        if anchor.purpose is not profile.purpose:
            raise UntrustedCertificate(Reason.WRONG_POLICY, f"root is for {anchor.purpose}, not {profile.purpose}")
        if anchor.is_test and not trust.allow_test_roots:  # defence in depth: the store refuses them already
            raise UntrustedCertificate(Reason.TEST_ROOT_REFUSED, "test root outside test mode")
        # pyca picks among same-DN generations by signature alone; the leaf must also name that key (§4.2.1.1)
        if anchor.key_id is not None and not aki_read:
            authority_key_id = raw.authority_key_id()
        if anchor.key_id is not None and authority_key_id not in (None, anchor.key_id):
            raise UntrustedCertificate(Reason.NO_VALID_PATH, "authorityKeyIdentifier names another root key")
    return ValidatedPath(cert, raw, chain, anchor, profile, leaf_key)


def _diagnose(
    cert: x509.Certificate, profile: Profile, trust: TrustStore, at: dt.datetime, message: str
) -> VerificationError:
    """The precise reason a leaf failed step 3, found by re-running the rules on the decoded leaf."""
    try:
        _check_validity(cert, at, "certificate")
    except VerificationError as exc:
        return exc
    if not profile.is_jpki:
        return UntrustedCertificate(Reason.UNTRUSTED_ROOT if not trust.anchors else Reason.NO_VALID_PATH, message)
    if is_test_hierarchy_name(cert.issuer) and not trust.allow_test_roots:
        return UntrustedCertificate(Reason.TEST_ROOT_REFUSED, "issued by a test hierarchy; test mode is off")
    try:
        strict.check_extensions(cert)
        _check_profile(cert, profile, trust.allow_test_roots)
        candidates = trust.candidates_for(cert)
    except VerificationError as exc:
        return exc
    if not candidates:
        return UntrustedCertificate(Reason.UNTRUSTED_ROOT, "no pinned root matches the issuer key identifier")
    if all(a.purpose is not profile.purpose for a in candidates):
        return UntrustedCertificate(Reason.WRONG_POLICY, f"the issuing root is not for {profile.purpose}")
    return UntrustedCertificate(Reason.NO_VALID_PATH, message)


def _check_anchor_once(trust: TrustStore, anchor: TrustAnchor) -> None:
    """Structural checks of the anchor, memoised per store: its certificate never changes."""
    key = ("anchor-checked", anchor.fingerprint)
    if key not in trust.memo:
        strict.check_certificate(anchor.certificate, is_leaf=False, is_anchor=True)
        trust.memo[key] = True


def _check_validity(cert: x509.Certificate, at: dt.datetime, what: str) -> None:
    at = at.replace(microsecond=0)  # X.509 times have one-second resolution, as in step 7
    if at < cert.not_valid_before_utc:
        raise UntrustedCertificate(Reason.NOT_YET_VALID, f"{what} is valid from {cert.not_valid_before_utc:{_ISO}}")
    if at > cert.not_valid_after_utc:
        raise UntrustedCertificate(Reason.EXPIRED, f"{what} expired {cert.not_valid_after_utc:{_ISO}}")


def _extension(cert: x509.Certificate, cls: type[_E]) -> x509.Extension[_E] | None:
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad extensions: {exc}") from None


def _check_profile(cert: x509.Certificate, profile: Profile, test_mode: bool) -> None:
    """The JPKI end-entity rules on a decoded leaf: presence and criticality (as the pyca policy of step 3
    demands), then the same value checks its callbacks run."""
    policies = _extension(cert, x509.CertificatePolicies)
    if policies is None or not policies.critical:
        raise UntrustedCertificate(Reason.WRONG_POLICY, "certificatePolicies must be present and critical")
    check_policies(policies.value, profile, test_mode)
    usage = _extension(cert, x509.KeyUsage)
    if usage is None or not usage.critical:
        raise UntrustedCertificate(Reason.WRONG_KEY_USAGE, "keyUsage must be present and critical")
    check_key_usage(usage.value, profile)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    check_extended_key_usage(eku.value if eku else None, profile)
    san = _extension(cert, x509.SubjectAlternativeName)
    check_subject_alt_name(san.value if san else None, profile)


def check_policies(value: x509.CertificatePolicies, profile: Profile, test_mode: bool) -> None:
    """Exactly one policy, the profile's OID (or its test OID in test mode); never anyPolicy."""
    allowed = profile.policy_oids | (profile.test_policy_oids if test_mode else frozenset())
    asserted = [p.policy_identifier for p in value]
    if len(asserted) != 1 or asserted[0] not in allowed:
        raise UntrustedCertificate(
            Reason.WRONG_POLICY,
            f"policy {', '.join(o.dotted_string for o in asserted)} is not the {profile.purpose} policy",
        )


def check_key_usage(value: x509.KeyUsage, profile: Profile) -> None:
    """The profile's required KeyUsage bits are asserted and none of its forbidden bits."""
    if all(getattr(value, bit) for bit in profile.required_key_usage) and not any(
        getattr(value, bit) for bit in profile.forbidden_key_usage
    ):
        return
    bits = key_usage_bits(value)
    if missing := profile.required_key_usage - bits:
        raise UntrustedCertificate(Reason.WRONG_KEY_USAGE, f"keyUsage lacks {', '.join(sorted(missing))}")
    if extra := profile.forbidden_key_usage & bits:
        raise UntrustedCertificate(Reason.WRONG_KEY_USAGE, f"keyUsage must not assert {', '.join(sorted(extra))}")


def check_extended_key_usage(value: x509.ExtendedKeyUsage | None, profile: Profile) -> None:
    """If the leaf has an EKU, it contains the profile's required usage."""
    if value is not None and profile.required_eku is not None and profile.required_eku not in value:
        raise UntrustedCertificate(Reason.WRONG_EXTENDED_KEY_USAGE, "extendedKeyUsage lacks the required use")


def check_subject_alt_name(value: x509.SubjectAlternativeName | None, profile: Profile) -> None:
    """Authentication certificates carry no personal data: no subjectAltName at all."""
    if value is not None and profile.purpose is Purpose.AUTH:
        raise UntrustedCertificate(Reason.WRONG_POLICY, "authentication certificates carry no subjectAltName")


def check_leaf_key(cert: x509.Certificate, profile: Profile) -> CertificatePublicKeyTypes:
    """Leaf key strength: pyca checks only keys that verify signatures, never the leaf's own key. Card keys
    are generated on the card, so broken on-card generation (Bernstein et al. 2013; ROCA) is checked here.
    Returns the key."""
    try:
        key = cert.public_key()
    except (ValueError, TypeError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"unreadable public key: {exc}") from None
    if type(key) is _RSA_PUBLIC_KEY or isinstance(key, rsa.RSAPublicKey):  # the first: no ABC check per login
        numbers = key.public_numbers()
        size, n, e = key.key_size, numbers.n, numbers.e
        if not profile.min_rsa_bits <= size <= profile.max_rsa_bits or size % 8:
            raise UntrustedCertificate(Reason.WEAK_KEY, f"RSA key of {size} bits")
        if profile.rsa_exponent is not None and e != profile.rsa_exponent:
            raise UntrustedCertificate(Reason.WEAK_KEY, f"RSA exponent {e} is not {profile.rsa_exponent}")
        if e < 3 or not e & 1 or not n & 1:
            raise UntrustedCertificate(Reason.WEAK_KEY, "RSA key with an even modulus or exponent")
        if is_roca_weak(n):  # CVE-2017-15361: keys from flawed smart-card key generation
            raise UntrustedCertificate(Reason.WEAK_KEY, "RSA key has the ROCA fingerprint")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and profile.allow_ec_leaf:
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise UntrustedCertificate(Reason.WEAK_KEY, f"curve {key.curve.name} is not allowed")
        return key
    if profile.allow_ec_leaf and isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise UntrustedCertificate(Reason.WEAK_KEY, f"{type(key).__name__} is not allowed for {profile.purpose}")


_MEMO_LIMIT = 512
#: pyca's RSA public key class (an :class:`rsa.RSAPublicKey`), compared by identity before the ABC check.
_RSA_PUBLIC_KEY = type(rsa.RSAPublicNumbers(65537, (1 << 2047) | 1).public_key())


def _verifier(
    trust: TrustStore,
    profile: Profile,
    anchors: tuple[TrustAnchor, ...],
    at_second: int,
    server_name: str | None,
    max_depth: int,
) -> pv.ClientVerifier | pv.ServerVerifier:
    """The pyca verifier for a profile and anchor set, memoised per store and second of validation time
    (X.509 times have one-second resolution, so a verifier built for a given second is exact for it)."""
    key = ("verifier", profile.purpose, at_second, server_name, max_depth)
    cached = trust.memo.get(key)
    if isinstance(cached, pv.ClientVerifier | pv.ServerVerifier):
        return cached
    if len(trust.memo) > _MEMO_LIMIT:
        trust.memo.clear()
    builder = (
        pv.PolicyBuilder()
        .store(pv.Store([a.certificate for a in anchors]))
        .time(dt.datetime.fromtimestamp(at_second, dt.UTC))
        .max_chain_depth(max_depth)
        .extension_policies(
            ca_policy=pv.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=_ee_policy(profile),
        )
    )
    verifier: pv.ClientVerifier | pv.ServerVerifier
    if server_name is None:
        verifier = builder.build_client_verifier()
    else:
        try:
            subject: x509.DNSName | x509.IPAddress = x509.IPAddress(ipaddress.ip_address(server_name))
        except ValueError:
            subject = x509.DNSName(server_name)
        try:
            verifier = builder.build_server_verifier(subject)
        except ValueError as exc:  # e.g. a DNS name with characters outside LDH
            raise MalformedInput(Reason.MALFORMED, f"invalid server name: {_clean(str(exc))}") from None
    trust.memo[key] = verifier
    return verifier


def _ee_policy(profile: Profile) -> pv.ExtensionPolicy:
    """Explicit end-entity extension policy. For the JPKI profiles: certificatePolicies and KeyUsage
    present and critical, EKU non-critical if present, subjectAltName required (signing) or absent
    (authentication). Their values are checked in step 3b (:func:`_check_profile_values`), not in pyca
    callbacks: pyca would build the Python objects a callback receives for every certificate."""
    policy = pv.ExtensionPolicy.webpki_defaults_ee()
    if not profile.is_jpki:
        return policy
    c = pv.Criticality
    policy = (
        policy.require_present(x509.CertificatePolicies, c.CRITICAL, None)
        .require_present(x509.KeyUsage, c.CRITICAL, None)
        .may_be_present(x509.ExtendedKeyUsage, c.NON_CRITICAL, None)
    )
    if profile.purpose is Purpose.AUTH:
        return policy.require_not_present(x509.SubjectAlternativeName)
    return policy.require_present(x509.SubjectAlternativeName, c.NON_CRITICAL, None)


#: The JPKI end-entity extensions whose values step 3b checks: OID contents, type, check.
_CERTIFICATE_POLICIES = bytes.fromhex("551d20")
_KEY_USAGE = bytes.fromhex("551d0f")
_EXTENDED_KEY_USAGE = bytes.fromhex("551d25")
_VALUE_CHECKS: tuple[tuple[bytes, type[x509.ExtensionType]], ...] = (
    (_CERTIFICATE_POLICIES, x509.CertificatePolicies),
    (_KEY_USAGE, x509.KeyUsage),
    (_EXTENDED_KEY_USAGE, x509.ExtendedKeyUsage),
)


def _check_profile_values(cert: x509.Certificate, raw: RawCertificate, profile: Profile, trust: TrustStore) -> None:
    """Step 3b: the values of the leaf's certificatePolicies, KeyUsage and EKU (presence and criticality were
    pyca's, step 3), by the same functions :func:`_check_profile` runs. The three values are decoded and checked
    once per distinct encoding of them, per store and profile: the verdict depends on those bytes alone, and a card
    hierarchy issues a handful of encodings."""
    test_mode = trust.allow_test_roots
    extensions = raw.extensions
    get = extensions.get
    key = ("extension-values-accepted", profile, test_mode, get(_CERTIFICATE_POLICIES), get(_KEY_USAGE),
           get(_EXTENDED_KEY_USAGE))
    if key in trust.memo:
        return
    for oid, kind in _VALUE_CHECKS:
        if oid not in extensions:
            continue  # required ones are required by pyca's policy; an absent EKU is allowed
        extension = _extension(cert, kind)
        value = extension.value if extension is not None else None
        if isinstance(value, x509.CertificatePolicies):
            check_policies(value, profile, test_mode)
        elif isinstance(value, x509.KeyUsage):
            check_key_usage(value, profile)
        else:
            check_extended_key_usage(cast(x509.ExtendedKeyUsage | None, value), profile)
    if len(trust.memo) < _MEMO_LIMIT:
        trust.memo[key] = True


#: Step 3 direct (JPKI): pyca's webpki signature AlgorithmIdentifiers (CA/B BR 7.1.3.2), as DER: RSASSA-PKCS1-v1_5
#: with SHA-256/384/512 (NULL parameters), RSASSA-PSS with SHA-256/384/512 (MGF1 with the same hash, salt of the hash
#: length, trailer 1 by default) and ECDSA with SHA-256/384/512 (no parameters): the canonical encodings pyca's own
#: tests pin (policy/mod.rs, WEBPKI_PERMITTED_SIGNATURE_ALGORITHMS).
_RSA_OID = bytes.fromhex("06092a864886f70d0101")
_ECDSA_OID = bytes.fromhex("06082a8648ce3d0403")


def _pss(hash_octet: int, salt: int) -> bytes:
    hash_alg = bytes.fromhex("300d06096086480165030402") + bytes([hash_octet]) + b"\x05\x00"
    mgf1 = b"\x30\x1a" + _RSA_OID + b"\x08" + hash_alg
    params = b"\xa0\x0f" + hash_alg + b"\xa1\x1c" + mgf1 + b"\xa2\x03\x02\x01" + bytes([salt])
    return b"\x30\x41" + _RSA_OID + b"\x0a\x30\x34" + params


_WEBPKI_SIGNATURE_ALGORITHMS = frozenset(
    [b"\x30\x0d" + _RSA_OID + bytes([last]) + b"\x05\x00" for last in (0x0B, 0x0C, 0x0D)]
    + [_pss(1, 32), _pss(2, 48), _pss(3, 64)]
    + [b"\x30\x0a" + _ECDSA_OID + bytes([last]) for last in (0x02, 0x03, 0x04)]
)
#: The contents of the ``[0]`` version element of a v3 certificate (INTEGER 2).
_V3 = b"\x02\x01\x02"
_EMPTY_NAME = b"\x30\x00"
#: Extension OID contents (X.690 §8.19) the end-entity policy of step 3 names.
_AIA = bytes.fromhex("2b06010505070101")
_AKI = bytes.fromhex("551d23")
_SKI = bytes.fromhex("551d0e")
_SAN = bytes.fromhex("551d11")
_BC = bytes.fromhex("551d13")
_NC = bytes.fromhex("551d1e")
_EITHER, _CRITICAL_ONLY, _NON_CRITICAL_ONLY, _NEVER = (
    frozenset({True, False}), frozenset({True}), frozenset({False}), frozenset[bool](),
)
#: Per JPKI purpose (_AUTH_RULES, _SIGN_RULES): extension OID -> the criticalities pyca's end-entity policy
#: (webpki_defaults_ee with the overrides of :func:`_ee_policy`) admits (an empty set: must be absent), and the
#: extensions it requires (_AUTH_REQUIRED, _SIGN_REQUIRED). An extension not listed is admitted only non-critical
#: ("unaccounted-for critical extensions").
_COMMON_RULES: dict[bytes, frozenset[bool]] = {
    _AIA: _NON_CRITICAL_ONLY,  # webpki: maybe present, non-critical, well-formed (a proven value, below)
    _AKI: _NON_CRITICAL_ONLY,  # webpki: present, non-critical, no value check
    _SKI: _EITHER,  # webpki: maybe present, agnostic
    _BC: _EITHER,  # webpki: maybe present, agnostic, cA not asserted (a proven value, below)
    _NC: _NEVER,  # webpki: not present in an end entity
    _KEY_USAGE: _CRITICAL_ONLY,  # ours: present, critical (the value is step 3b's)
    _CERTIFICATE_POLICIES: _CRITICAL_ONLY,  # ours: present, critical (the value is step 3b's)
    _EXTENDED_KEY_USAGE: _NON_CRITICAL_ONLY,  # ours: maybe present, non-critical (the value is step 3b's)
}
_AUTH_RULES = {**_COMMON_RULES, _SAN: _NEVER}  # ours: not present
_SIGN_RULES = {**_COMMON_RULES, _SAN: _NON_CRITICAL_ONLY}  # ours: present, non-critical
_AUTH_REQUIRED = frozenset({_AKI, _KEY_USAGE, _CERTIFICATE_POLICIES})
_SIGN_REQUIRED = _AUTH_REQUIRED | {_SAN}
#: Extensions whose values pyca's end-entity policy checks (AIA well-formed, basicConstraints without cA): the direct
#: step admits only values pyca accepted on an earlier leaf (:func:`_remember_proven`), never decoding them itself.
_PROVEN_VALUES = (_AIA, _BC)
_PROVEN = "pyca-proven"
_ONE_SECOND = dt.timedelta(seconds=1)
_PROVEN_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _AnchorFacts:
    """What step 3 direct needs of an anchor, read once per store."""

    der: bytes
    subject_der: bytes
    key_id: bytes | None
    not_before: dt.datetime
    not_after: dt.datetime
    #: CA/B 6.1.5 as pyca applies it to the verifying key: RSA modulus of at least 2048 bits.
    key_ok: bool
    #: nameConstraints apply to the leaf's names (RFC 5280 §4.2.1.10): such an anchor is left to pyca.
    has_name_constraints: bool
    #: The entry of the proven set (:func:`_remember_proven`) that says pyca accepted a path through this anchor.
    proof: tuple[bytes, bytes]


def _anchor_facts(trust: TrustStore, anchor: TrustAnchor) -> _AnchorFacts:
    key = ("anchor-facts", anchor.fingerprint)
    facts = trust.memo.get(key)
    if isinstance(facts, _AnchorFacts):
        return facts
    cert = anchor.certificate
    raw = raw_certificate(cert.public_bytes(Encoding.DER))
    public_key = cert.public_key()
    facts = _AnchorFacts(
        der=raw.der,
        subject_der=raw.subject_der,
        key_id=anchor.key_id,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_ok=isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= 2048,
        has_name_constraints=_NC in raw.extensions,
        proof=_anchor_proof(anchor),
    )
    trust.memo[key] = facts
    return facts


def _anchor_proof(anchor: TrustAnchor) -> tuple[bytes, bytes]:
    return (b"anchor", anchor.fingerprint.encode())


def _issuers(
    trust: TrustStore, profile: Profile, anchors: tuple[TrustAnchor, ...], issuer_der: bytes, key_id: bytes | None
) -> tuple[tuple[TrustAnchor, _AnchorFacts], ...]:
    """The anchors whose subject is ``issuer_der``, in pyca's order for a leaf naming ``key_id`` (step 3.3);
    memoised per store."""
    key = ("direct-issuers", profile, issuer_der, key_id)
    found = trust.memo.get(key)
    if isinstance(found, tuple):
        return found
    candidates = [(a, f) for a in anchors if (f := _anchor_facts(trust, a)).subject_der == issuer_der]
    candidates.sort(key=lambda c: 1 if key_id is None or c[1].key_id is None else (0 if c[1].key_id == key_id else 2))
    ordered = tuple(candidates)
    if len(trust.memo) < _MEMO_LIMIT:
        trust.memo[key] = ordered
    return ordered


def _proven(trust: TrustStore) -> set[tuple[bytes, bytes]]:
    found = trust.memo.get(_PROVEN)
    if isinstance(found, set):
        return found
    created: set[tuple[bytes, bytes]] = set()
    trust.memo[_PROVEN] = created
    return created


def _remember_proven(trust: TrustStore, raw: RawCertificate, anchor: TrustAnchor, chain_length: int) -> None:
    """After pyca's verifier accepted ``[leaf, anchor]`` for a JPKI profile: the anchor passed pyca's CA rules (all
    but its validity at the time, which step 3 direct checks itself), and the leaf's AIA and basicConstraints values
    passed pyca's end-entity checks. Those verdicts depend on those octets alone, so step 3 direct reuses them."""
    if chain_length != 2:
        return
    proven = _proven(trust)
    if len(proven) >= _PROVEN_LIMIT:
        proven.clear()
    proven.add(_anchor_proof(anchor))
    for oid in _PROVEN_VALUES:
        found = raw.extensions.get(oid)
        if found is not None:
            proven.add((oid, found[1]))


def _direct_path(
    cert: x509.Certificate,
    raw: RawCertificate,
    profile: Profile,
    trust: TrustStore,
    anchors: tuple[TrustAnchor, ...],
    at: dt.datetime,
    authority_key_id: bytes | None,
) -> TrustAnchor | None:
    """Step 3 for the JPKI profiles (``[leaf, root]``): the rules pyca's verifier applies to a two-certificate path,
    checked on the leaf's octets, and the issuer's signature by pyca's own primitive. Returns the anchor, or ``None``
    where any rule is not met (or the case is one it leaves to pyca): the caller then runs pyca's verifier, whose
    verdict and message stand. It may only ever accept what pyca's verifier accepts
    (tests/keys/test_direct_path.py holds it to pyca's verdicts)."""
    proven = _proven(trust)
    # 3.1 (pyca permits_basic; RFC 5280 §4.1.1.2, §4.1.2.1-5): v3; signatureAlgorithm equal to the TBS signature
    # and one of webpki's; serial 1..21 octets and not negative; a non-empty issuer; validity dates both UTCTime
    # (GeneralizedTime, which pyca refuses for 1950-2049, is left to pyca) with notBefore <= at <= notAfter at
    # one-second resolution (§6.1.3(a)(2)).
    if (
        raw.version_der != _V3
        or raw.outer_algorithm_der != raw.signature_algorithm_der
        or raw.outer_algorithm_der not in _WEBPKI_SIGNATURE_ALGORITHMS
        or not 1 <= raw.serial_octets <= 21
        or raw.serial_number < 0
        or raw.issuer_der == _EMPTY_NAME
    ):
        return None
    validity = raw.validity_der
    if len(validity) != 30 or validity[0] != der.UTC_TIME or validity[1] != 13 or validity[15] != der.UTC_TIME:
        return None
    # pyca's time is the second of ``at`` (int(at.timestamp()), which truncates towards 1970 before it): with
    # notBefore and notAfter whole seconds, floor(at) >= notBefore iff at >= notBefore, and floor(at) <= notAfter
    # iff at - notAfter < 1 s.
    if at.year < 1970:
        return None
    not_after = cert.not_valid_after_utc
    if at < cert.not_valid_before_utc or (at > not_after and at - not_after >= _ONE_SECOND):
        return None
    # 3.2 (pyca ExtensionPolicy.permits, end entity; RFC 5280 §4.2): each extension's criticality per the rules,
    # no unknown critical extension, the required ones present, AIA and basicConstraints values proven; duplicates
    # were refused by raw_certificate (step 1).
    purpose = profile.purpose
    if purpose is Purpose.AUTH:
        rules, required = _AUTH_RULES, _AUTH_REQUIRED
    elif purpose is Purpose.SIGN:
        rules, required = _SIGN_RULES, _SIGN_REQUIRED
    else:
        return None
    extensions = raw.extensions
    for oid, (critical, value) in extensions.items():
        admitted = rules.get(oid)
        if admitted is None:
            if critical:
                return None
        elif critical not in admitted or (oid in _PROVEN_VALUES and (oid, value) not in proven):
            return None
    if not required <= extensions.keys():
        return None
    # 3.3 (pyca ChainBuilder, RFC 5280 §6.1.3(a)(4)): the issuers are the anchors of the profile's purpose whose
    # subject is the leaf's issuer octet for octet (pyca's Name equality on DER), those whose subjectKeyIdentifier is
    # the leaf's authorityKeyIdentifier first, the ones naming another key last (pyca's potential_issuers order); a
    # leaf that is itself one of them is left to pyca (which would end the path at it).
    for anchor, facts in _issuers(trust, profile, anchors, raw.issuer_der, authority_key_id):
        if facts.der == raw.der:
            return None
        # 3.4 (pyca valid_issuer / permits_ca): the anchor is valid at ``at``; its CA rules were proven by pyca on an
        # earlier path (_remember_proven); an RSA key of at least 2048 bits (CA/B 6.1.5); no nameConstraints (left
        # to pyca); then the leaf's signature under its key and the name chaining (§6.1.3(a)(1), (4)) by pyca's
        # primitive.
        if (
            at < facts.not_before
            or (at > facts.not_after and at - facts.not_after >= _ONE_SECOND)
            or facts.proof not in proven
            or not facts.key_ok
            or facts.has_name_constraints
        ):
            continue
        try:
            cert.verify_directly_issued_by(anchor.certificate)
        except (ValueError, TypeError, _CryptoInvalidSignature):
            continue
        return anchor
    return None


def _anchor_of(root: x509.Certificate, candidates: Sequence[TrustAnchor]) -> TrustAnchor:
    for anchor in candidates:
        if anchor.certificate is root or anchor.certificate == root:
            return anchor
    raise UntrustedCertificate(Reason.UNTRUSTED_ROOT, "path ends at a certificate outside the trust store")


def _clean(message: str) -> str:
    """pyca messages can embed whole certificate reprs; keep the first line, bounded."""
    return message.splitlines()[0][:300] if message else "path validation failed"
