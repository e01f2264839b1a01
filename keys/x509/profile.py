"""Certificate profiles: the JPKI authentication and signing profiles, and a generic RFC 5280 profile.

Facts (jpki-card-and-certs.md §2.2, checked on real certificates):

* 利用者証明用 (authentication): KeyUsage critical digitalSignature; EKU id-kp-clientAuth;
  certificatePolicies **critical** ``1.2.392.200149.8.5.1.3.30``; no subjectAltName.
* 署名用 (signing): KeyUsage critical digitalSignature + nonRepudiation; no EKU; certificatePolicies
  critical ``1.2.392.200149.8.5.1.1.20``; six subjectAltName otherNames carrying the 4 basic facts.
* Both are issued directly by a self-signed root (two-tier hierarchy): the path is ``[leaf, root]``.
* Test cards (``O=JPKI-TEST`` hierarchy) use the signing policy ``1.2.392.200149.8.5.1.0.20``; that OID
  is accepted only when the trust store admits test roots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

#: The JPKI certificate-policy arc (J-LIS).
JPKI_POLICY_ARC = "1.2.392.200149.8.5.1"
#: 利用者証明用 certificate policy ("jpki-cp-auth-class30").
AUTH_POLICY_OID = ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
#: 署名用 certificate policy ("jpki-cp-sign-class20").
SIGN_POLICY_OID = ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
#: Signing policy of the JPKI-TEST hierarchy (test cards); accepted only in test mode.
TEST_SIGN_POLICY_OID = ObjectIdentifier("1.2.392.200149.8.5.1.0.20")


class Purpose(StrEnum):
    """What a certificate is validated for."""

    AUTH = "auth"
    SIGN = "sign"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class Profile:
    """The end-entity rules of one certificate type, applied on top of RFC 5280 path validation."""

    purpose: Purpose
    #: Policy OIDs of which the leaf must assert exactly one, in a critical certificatePolicies.
    policy_oids: frozenset[ObjectIdentifier]
    #: Additional policy OIDs accepted only when test roots are admitted.
    test_policy_oids: frozenset[ObjectIdentifier]
    #: KeyUsage bits the leaf must assert (attribute names of :class:`cryptography.x509.KeyUsage`).
    required_key_usage: frozenset[str]
    #: KeyUsage bits the leaf must not assert.
    forbidden_key_usage: frozenset[str]
    #: If the leaf has an EKU, it must contain this usage (``None``: no EKU requirement).
    required_eku: ObjectIdentifier | None
    #: The leaf must be issued directly by the trust anchor (JPKI is two-tier).
    direct_issue_only: bool
    #: Minimum RSA modulus size of the leaf key.
    min_rsa_bits: int = 2048
    #: Maximum RSA modulus size (bounds verification cost).
    max_rsa_bits: int = 4096
    #: Required RSA public exponent of the leaf key (``None``: any odd exponent >= 65537).
    rsa_exponent: int | None = 65537
    #: Whether the leaf key may be an EC key (never for JPKI: card keys are RSA-2048).
    allow_ec_leaf: bool = False
    #: The hash of the fields, computed once: profiles key the path validator's per-store memo on every login.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = (self.purpose, self.policy_oids, self.test_policy_oids, self.required_key_usage,
                  self.forbidden_key_usage, self.required_eku, self.direct_issue_only, self.min_rsa_bits,
                  self.max_rsa_bits, self.rsa_exponent, self.allow_ec_leaf)
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash

    @property
    def is_jpki(self) -> bool:
        """True for the two JPKI card-certificate profiles."""
        return self.purpose in (Purpose.AUTH, Purpose.SIGN)


_NON_SIGNING_BITS = frozenset(
    {"key_cert_sign", "crl_sign", "key_encipherment", "data_encipherment", "key_agreement"}
)

#: 利用者証明用電子証明書 (authentication certificate).
JPKI_AUTH = Profile(
    purpose=Purpose.AUTH,
    policy_oids=frozenset({AUTH_POLICY_OID}),
    test_policy_oids=frozenset(),
    required_key_usage=frozenset({"digital_signature"}),
    forbidden_key_usage=_NON_SIGNING_BITS | {"content_commitment"},
    required_eku=ExtendedKeyUsageOID.CLIENT_AUTH,
    direct_issue_only=True,
)

#: 署名用電子証明書 (signing certificate).
JPKI_SIGN = Profile(
    purpose=Purpose.SIGN,
    policy_oids=frozenset({SIGN_POLICY_OID}),
    test_policy_oids=frozenset({TEST_SIGN_POLICY_OID}),
    required_key_usage=frozenset({"digital_signature", "content_commitment"}),
    forbidden_key_usage=_NON_SIGNING_BITS,
    required_eku=None,
    direct_issue_only=True,
)

#: Generic RFC 5280 / Web PKI profile: no JPKI end-entity rules (used to score x509-limbo).
GENERIC = Profile(
    purpose=Purpose.GENERIC,
    policy_oids=frozenset(),
    test_policy_oids=frozenset(),
    required_key_usage=frozenset(),
    forbidden_key_usage=frozenset(),
    required_eku=None,
    direct_issue_only=False,
    rsa_exponent=None,
    allow_ec_leaf=True,
    max_rsa_bits=8192,
)

PROFILES: dict[Purpose, Profile] = {p.purpose: p for p in (JPKI_AUTH, JPKI_SIGN, GENERIC)}


def key_usage_bits(ku: x509.KeyUsage) -> frozenset[str]:
    """The asserted KeyUsage bits of ``ku`` as attribute names."""
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
    ]
    return frozenset(n for n in names if getattr(ku, n))
