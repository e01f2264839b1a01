"""Certificate path validation to pinned roots: pyca/cryptography's RFC 5280 verifier plus the JPKI rules
it does not enforce (verification-hardening.md §2).

:func:`validate_path` follows these steps; each failure raises a
:class:`~keys.errors.VerificationError` subclass with a precise reason, and returning is the one success
path:

1. Size limits, then parse (``MALFORMED``/``TOO_LARGE``).
2. Refuse leaves of a test hierarchy outside test mode (``TEST_ROOT_REFUSED``).
3. Pick candidate anchors by the leaf's authority key identifier (``UNTRUSTED_ROOT`` when none).
4. Leaf validity at ``at`` (``NOT_YET_VALID``/``EXPIRED``; RFC 5280 §6.1.3(a)(2)).
5. Structural strictness beyond pyca (:mod:`keys.x509.strict`).
6. Profile checks on the leaf: critical certificatePolicies pinned to the profile OID, KeyUsage per
   profile, EKU, leaf key (RSA 2048–4096, e = 65537).
7. RFC 5280 path building and validation by pyca with explicit CA/EE extension policies; the issuer is
   confirmed by signature among the candidates (``NO_VALID_PATH``).
8. JPKI: the path is exactly ``[leaf, root]`` and the root's purpose matches the profile.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification as pv
from cryptography.x509.oid import ObjectIdentifier

from keys.errors import LimitExceeded, MalformedInput, Reason, UntrustedCertificate
from keys.limits import DEFAULT_LIMITS, Limits
from keys.signatures import is_roca_weak
from keys.trust import TrustAnchor, TrustStore, is_test_hierarchy_name, parse_certificate
from keys.x509 import strict
from keys.x509.profile import Profile, Purpose, key_usage_bits

_ANY_POLICY = ObjectIdentifier("2.5.29.32.0")
_ISO = "%Y-%m-%dT%H:%M:%SZ"
_E = TypeVar("_E", bound=x509.ExtensionType)


@dataclass(frozen=True, slots=True)
class ValidatedPath:
    """A successfully validated path, leaf first, ending at a pinned (or admitted test) anchor."""

    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    anchor: TrustAnchor
    profile: Profile
    policy_oid: ObjectIdentifier | None

    @property
    def issuer(self) -> x509.Certificate:
        """The certificate that issued the leaf (the root, for JPKI)."""
        return self.chain[1]


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
    # 1. limits and parsing
    if len(intermediates) + 1 > limits.chain_length:
        raise LimitExceeded(Reason.TOO_LARGE, f"chain of {len(intermediates) + 1}, limit {limits.chain_length}")
    cert = leaf if isinstance(leaf, x509.Certificate) else parse_certificate(leaf, limits)
    pool = [c if isinstance(c, x509.Certificate) else parse_certificate(c, limits) for c in intermediates]
    if profile.direct_issue_only and pool:
        raise UntrustedCertificate(Reason.NO_VALID_PATH, "JPKI certificates are issued directly by a root")

    # 2. test hierarchy outside test mode
    if profile.is_jpki and is_test_hierarchy_name(cert.issuer) and not trust.allow_test_roots:
        raise UntrustedCertificate(Reason.TEST_ROOT_REFUSED, "issued by a test hierarchy; test mode is off")

    # 3. candidate anchors
    candidates = trust.candidates_for(cert) if profile.direct_issue_only else trust.anchors
    if not candidates:
        raise UntrustedCertificate(Reason.UNTRUSTED_ROOT, "no pinned root matches the issuer key identifier")

    # 4. leaf validity window (checked here for a precise reason; pyca checks it again for the whole path)
    _check_validity(cert, at, "certificate")

    # 5. structural strictness beyond pyca (certificates of the built path are checked after step 7, so that
    #    an unused decoy intermediate cannot sink a valid chain)
    strict.check_certificate(cert, is_leaf=True)

    # 6. profile
    policy_oid = _check_profile(cert, profile, trust.allow_test_roots)

    # 7. RFC 5280 path validation
    verifier = _verifier(profile.purpose, tuple(candidates), int(at.timestamp()), server_name, limits.chain_depth)
    try:
        verified = verifier.verify(cert, pool)
    except pv.VerificationError as exc:
        raise UntrustedCertificate(Reason.NO_VALID_PATH, _clean(str(exc))) from None
    except ValueError as exc:  # malformed extensions met while building
        raise MalformedInput(Reason.MALFORMED, _clean(str(exc))) from None
    chain = tuple(verified.chain if isinstance(verified, pv.VerifiedClient) else verified)
    anchor = _anchor_of(chain[-1], candidates)
    for c in chain[1:]:
        strict.check_certificate(c, is_leaf=False, is_anchor=c is chain[-1])

    # 8. JPKI shape
    if profile.direct_issue_only:
        if len(chain) != 2:
            raise UntrustedCertificate(Reason.NO_VALID_PATH, "JPKI path must be leaf and root only")
        if anchor.purpose is not None and anchor.purpose is not profile.purpose:
            raise UntrustedCertificate(Reason.WRONG_POLICY, f"root is for {anchor.purpose}, not {profile.purpose}")
        if anchor.is_test and not trust.allow_test_roots:  # defence in depth: the store refuses them already
            raise UntrustedCertificate(Reason.TEST_ROOT_REFUSED, "test root outside test mode")
    return ValidatedPath(cert, chain, anchor, profile, policy_oid)


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
    except (ValueError, x509.DuplicateExtension) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad extensions: {exc}") from None


def _check_profile(cert: x509.Certificate, profile: Profile, test_mode: bool) -> ObjectIdentifier | None:
    """Step 6: the end-entity rules of ``profile``; returns the asserted policy OID (JPKI only)."""
    policy_oid = None
    if profile.policy_oids:
        ext = _extension(cert, x509.CertificatePolicies)
        if ext is None or not ext.critical:
            raise UntrustedCertificate(Reason.WRONG_POLICY, "certificatePolicies must be present and critical")
        allowed = profile.policy_oids | (profile.test_policy_oids if test_mode else frozenset())
        asserted = [p.policy_identifier for p in ext.value]
        matching = [oid for oid in asserted if oid in allowed]
        if len(matching) != 1 or len(asserted) != 1 or _ANY_POLICY in asserted:
            raise UntrustedCertificate(
                Reason.WRONG_POLICY,
                f"policy {', '.join(o.dotted_string for o in asserted)} is not the {profile.purpose} policy",
            )
        policy_oid = matching[0]
    if profile.required_key_usage or profile.forbidden_key_usage:
        ku = _extension(cert, x509.KeyUsage)
        if ku is None or not ku.critical:
            raise UntrustedCertificate(Reason.WRONG_KEY_USAGE, "keyUsage must be present and critical")
        bits = key_usage_bits(ku.value)
        if missing := profile.required_key_usage - bits:
            raise UntrustedCertificate(Reason.WRONG_KEY_USAGE, f"keyUsage lacks {', '.join(sorted(missing))}")
        if extra := profile.forbidden_key_usage & bits:
            raise UntrustedCertificate(Reason.WRONG_KEY_USAGE, f"keyUsage must not assert {', '.join(sorted(extra))}")
    if profile.required_eku is not None:
        eku = _extension(cert, x509.ExtendedKeyUsage)
        if eku is not None and profile.required_eku not in eku.value:
            raise UntrustedCertificate(Reason.WRONG_EXTENDED_KEY_USAGE, "extendedKeyUsage lacks the required use")
    if profile.purpose is Purpose.AUTH and _extension(cert, x509.SubjectAlternativeName) is not None:
        raise UntrustedCertificate(Reason.WRONG_POLICY, "authentication certificates carry no subjectAltName")
    check_leaf_key(cert, profile)
    return policy_oid


def check_leaf_key(cert: x509.Certificate, profile: Profile) -> None:
    """Leaf key strength: pyca checks only keys that verify signatures, never the leaf's own key. Card keys
    are generated on the card, so broken on-card generation (Bernstein et al. 2013; ROCA) is checked here."""
    try:
        key = cert.public_key()
    except (ValueError, TypeError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"unreadable public key: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        if not profile.min_rsa_bits <= key.key_size <= profile.max_rsa_bits:
            raise UntrustedCertificate(Reason.WEAK_KEY, f"RSA key of {key.key_size} bits")
        if profile.rsa_exponent is not None and numbers.e != profile.rsa_exponent:
            raise UntrustedCertificate(Reason.WEAK_KEY, f"RSA exponent {numbers.e} is not {profile.rsa_exponent}")
        if numbers.e < 3 or numbers.e % 2 == 0 or numbers.n % 2 == 0:
            raise UntrustedCertificate(Reason.WEAK_KEY, "RSA key with an even modulus or exponent")
        if is_roca_weak(numbers.n):  # CVE-2017-15361: keys from flawed smart-card key generation
            raise UntrustedCertificate(Reason.WEAK_KEY, "RSA key has the ROCA fingerprint")
        return
    if isinstance(key, ec.EllipticCurvePublicKey) and profile.allow_ec_leaf:
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise UntrustedCertificate(Reason.WEAK_KEY, f"curve {key.curve.name} is not allowed")
        return
    if profile.allow_ec_leaf and type(key).__name__ in ("Ed25519PublicKey",):
        return
    raise UntrustedCertificate(Reason.WEAK_KEY, f"{type(key).__name__} is not allowed for {profile.purpose}")


@lru_cache(maxsize=256)
def _verifier(
    purpose: Purpose,
    anchors: tuple[TrustAnchor, ...],
    at_second: int,
    server_name: str | None,
    max_depth: int,
) -> pv.ClientVerifier | pv.ServerVerifier:
    """Build (and cache per second of validation time) the pyca verifier for a profile and anchor set.

    X.509 times have one-second resolution, so a verifier built for a given second is exact for it.
    """
    builder = (
        pv.PolicyBuilder()
        .store(pv.Store([a.certificate for a in anchors]))
        .time(dt.datetime.fromtimestamp(at_second, dt.UTC))
        .max_chain_depth(max_depth)
        .extension_policies(ca_policy=pv.ExtensionPolicy.webpki_defaults_ca(), ee_policy=_ee_policy(purpose))
    )
    if server_name is None:
        return builder.build_client_verifier()
    try:
        subject: x509.DNSName | x509.IPAddress = x509.IPAddress(ipaddress.ip_address(server_name))
    except ValueError:
        subject = x509.DNSName(server_name)
    try:
        return builder.build_server_verifier(subject)
    except ValueError as exc:  # e.g. a DNS name with characters outside LDH
        raise MalformedInput(Reason.MALFORMED, f"invalid server name: {_clean(str(exc))}") from None


def _ee_policy(purpose: Purpose) -> pv.ExtensionPolicy:
    """Explicit end-entity extension policy: presence and criticality (values are checked in step 6)."""
    policy = pv.ExtensionPolicy.webpki_defaults_ee()
    if purpose is Purpose.GENERIC:
        return policy
    c = pv.Criticality
    policy = (
        policy.require_present(x509.CertificatePolicies, c.CRITICAL, None)
        .require_present(x509.KeyUsage, c.CRITICAL, None)
        .may_be_present(x509.ExtendedKeyUsage, c.NON_CRITICAL, None)
    )
    if purpose is Purpose.AUTH:
        return policy.require_not_present(x509.SubjectAlternativeName)
    return policy.require_present(x509.SubjectAlternativeName, c.NON_CRITICAL, None)


def _anchor_of(root: x509.Certificate, candidates: Sequence[TrustAnchor]) -> TrustAnchor:
    for anchor in candidates:
        if anchor.certificate == root:
            return anchor
    raise UntrustedCertificate(Reason.UNTRUSTED_ROOT, "path ends at a certificate outside the trust store")


def _clean(message: str) -> str:
    """pyca messages can embed whole certificate reprs; keep the first line, bounded."""
    return message.splitlines()[0][:300] if message else "path validation failed"
