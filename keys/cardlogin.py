"""Card login: the message a My Number card signs to log in to the provider, and its verification (pure).

The message (:class:`LoginMessage`) binds five fields: the provider's issuer, the interaction id, a one-time
challenge of 32 random octets, the challenge's issue time and the key used (``auth`` for the 利用者証明用 key,
``sign`` for the 署名用 key). It is encoded without ambiguity (:func:`encode_login_message`)::

    lp(CONTEXT) || lp(issuer) || lp(interaction) || lp(challenge) || lp(uint64be(issued_at seconds)) || lp(key)

where ``lp(x) = uint32be(len(x)) || x`` and ``CONTEXT = "mynacard-id card login v1"``. The card signs
``DigestInfo(SHA-256(encoded))`` with RSASSA-PKCS1-v1_5 (jpki-card-and-certs.md §1.5, §5 step 4).

Domain separation. The encoding starts with the octets ``00 00 00 19``: no DER structure (a CMS
``signedAttrs`` SET starts with ``31``, a certificate or TBS with ``30``), no XML, PDF or JSON document
starts that way, and the context string names this use and its version. A signature made for a login
therefore never verifies as a signature over a document, and a signature over anything else (for instance
the bare SHA-256 of data a relying party chose) never verifies as a login, because the verifier rebuilds the
message from the fields *it* expects and accepts nothing else. The card agent builds the message itself from
these fields and never signs a digest handed to it.

Account identifier (:func:`account_id_for`). JPKI certificates carry no stable identity that a relying party
may use: the 個人番号 is never read (番号法 §15, §19, §20); the authentication certificate has an opaque
subject and no personal data; the signing certificate carries the 4 basic facts, which change (address,
name) and are personal data. The login proves possession of the card's private key, so the account is
derived from what is proven: ``base64url(SHA-256(lp("mynacard-id account v1") || lp(key) || lp(SPKI DER)))``.
Consequences, stated plainly:

* It is stable for the life of the card key: a certificate re-issued for the same key keeps the account.
* It changes when the certificate is renewed (the card generates a new key pair: about every five years,
  and for signing certificates also on any change of the 4 facts, which revokes them). Linking the old and
  the new certificate needs J-LIS's certificate-link data (証明書紐付け), available only through a platform
  operator (oidc-anchors.md §1), or a login with the old and the new card in one session.
* The authentication and signing keys differ, so auth-cert and sign-cert logins of one card give two
  keys (the signing certificate cannot be tied to the authentication key without a second signature).

Since the account model of :mod:`keys.cardlink`, this value is the **key id**: an account holds one or more
key ids and is named by the key id of its first key, so a key that was never linked is its own account and
keeps the ``sub`` it always had.
* It is not personal data and reveals nothing of the holder; relying parties never see it (they get a
  pairwise subject derived from it).

:func:`verify_card_login` returns normally only for a fresh login signed by a valid, unrevoked card key;
every other outcome raises a :class:`~keys.errors.VerificationError` with a reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys.errors import InvalidSignature, Reason
from keys.jose.b64 import b64url_encode
from keys.limits import DEFAULT_LIMITS, Limits
from keys.revocation.crl import CrlIndex
from keys.revocation.ocsp import CachedOcspStatus
from keys.revocation.platform import PlatformAnswer
from keys.revocation.policy import RevocationPolicy, Unchecked, check_revocation
from keys.revocation.status import RevocationStatus
from keys.signatures import digest_info_sha256
from keys.trust import TrustStore
from keys.x509.facts import BasicFacts, decode_basic_facts
from keys.x509.path import ValidatedPath, validate_path
from keys.x509.profile import JPKI_AUTH, JPKI_SIGN, Profile, Purpose

#: The context string that starts every login message (change the version with any change of the encoding).
CONTEXT = b"mynacard-id card login v1"
#: The context string of the account identifier derivation.
ACCOUNT_CONTEXT = b"mynacard-id account v1"
#: Octets of the one-time challenge.
CHALLENGE_OCTETS = 32
#: Longest issuer URL and interaction id accepted in a message.
MAX_ISSUER_CHARS = 2048
MAX_INTERACTION_CHARS = 255
#: The cross-device code: 8 characters of an alphabet without look-alikes (no 0/O, 1/I/L, U): about 39 bits, for a
#: login that stays open minutes. People see it as ``XXXX-XXXX`` and may type it in either case.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
#: How old a login may be when it is verified, by default (the challenge's own expiry is usually shorter).
DEFAULT_MAX_AGE = dt.timedelta(minutes=5)
#: Tolerance for a challenge time slightly ahead of the verifier's clock (several provider processes).
DEFAULT_SKEW = dt.timedelta(seconds=30)

_PROFILES: dict[Purpose, Profile] = {Purpose.AUTH: JPKI_AUTH, Purpose.SIGN: JPKI_SIGN}


def _lp(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


@dataclass(frozen=True, slots=True)
class LoginMessage:
    """The fields a card login binds. ``issued_at`` is whole seconds, aware; ``key`` is AUTH or SIGN."""

    issuer: str
    interaction: str
    challenge: bytes = field(repr=False)
    issued_at: dt.datetime
    key: Purpose

    def __post_init__(self) -> None:
        if self.key not in _PROFILES:
            raise ValueError("the login key is auth or sign")
        if not 0 < len(self.issuer) <= MAX_ISSUER_CHARS or not self.issuer.isascii():
            raise ValueError(f"issuer must be 1-{MAX_ISSUER_CHARS} ASCII characters")
        if not 0 < len(self.interaction) <= MAX_INTERACTION_CHARS or not self.interaction.isascii():
            raise ValueError(f"interaction must be 1-{MAX_INTERACTION_CHARS} ASCII characters")
        if len(self.challenge) != CHALLENGE_OCTETS:
            raise ValueError(f"the challenge is {CHALLENGE_OCTETS} octets")
        if self.issued_at.tzinfo is None or self.issued_at.microsecond:
            raise ValueError("issued_at must be aware and in whole seconds")
        if self.issued_at.timestamp() < 0:
            raise ValueError("issued_at must not be before 1970")

    @property
    def profile(self) -> Profile:
        """The certificate profile of the key the message names."""
        return _PROFILES[self.key]


def encode_login_message(message: LoginMessage) -> bytes:
    """The unambiguous encoding of ``message`` (see the module docstring); the card signs its SHA-256."""
    return b"".join(
        _lp(part)
        for part in (
            CONTEXT,
            message.issuer.encode("ascii"),
            message.interaction.encode("ascii"),
            message.challenge,
            int(message.issued_at.timestamp()).to_bytes(8, "big"),
            message.key.value.encode("ascii"),
        )
    )


def login_digest_info(message: LoginMessage) -> bytes:
    """The DER DigestInfo the card's COMPUTE DIGITAL SIGNATURE receives for ``message`` (§1.5)."""
    return digest_info_sha256(hashlib.sha256(encode_login_message(message)).digest())


def account_id_for(public_key: rsa.RSAPublicKey, key: Purpose) -> str:
    """The account identifier of a card key (see the module docstring for what it is and why)."""
    spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(_lp(ACCOUNT_CONTEXT) + _lp(key.value.encode("ascii")) + _lp(spki)).digest()
    return b64url_encode(digest)


@dataclass(frozen=True, slots=True)
class RevocationInputs:
    """What the revocation check of a login may use (see :func:`keys.revocation.check_revocation`)."""

    policy: RevocationPolicy = field(default_factory=RevocationPolicy)
    crls: Sequence[CrlIndex] = ()
    ocsp_responses: Sequence[bytes] = ()
    platform_answer: PlatformAnswer | None = None
    nonce: bytes | None = None
    #: OCSP verdicts kept from earlier logins (a shared cache), instead of asking the responder again.
    ocsp_cached: Sequence[CachedOcspStatus] = ()


@dataclass(frozen=True, slots=True)
class CardLogin:
    """A verified card login. ``facts`` is set for signing-key logins only (personal data: never log it)."""

    account_id: str
    key: Purpose
    #: Lower-case hex SHA-256 of the certificate DER (what may be kept instead of the certificate).
    certificate_sha256: str
    certificate_not_after: dt.datetime
    #: Label of the trust anchor the certificate chains to.
    anchor: str
    #: The revocation verdict (``Unchecked`` only under a policy that does not require one).
    revocation: RevocationStatus | Unchecked
    facts: BasicFacts | None = field(default=None, repr=False)
    #: The trust anchor's notBefore: roots of one J-LIS generation (auth and sign) share their validity
    #: period, so this names the generation the certificate chains to (:mod:`keys.cardlink`).
    anchor_since: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class CertificateStanding:
    """A card certificate that passed :func:`check_card_certificate`: valid path, not revoked (no signature yet)."""

    key: Purpose
    #: Lower-case hex SHA-256 of the certificate DER.
    certificate_sha256: str
    #: Label of the trust anchor the certificate chains to.
    anchor: str
    #: The revocation verdict (``Unchecked`` only under a policy that does not require one).
    revocation: RevocationStatus | Unchecked


def check_card_certificate(
    certificate: bytes,
    *,
    key: Purpose,
    trust: TrustStore,
    revocation: RevocationInputs,
    at: dt.datetime,
    limits: Limits = DEFAULT_LIMITS,
) -> CertificateStanding:
    """Steps 2 and 5 of :func:`verify_card_login` alone: would a login with ``certificate`` for ``key`` pass the
    path and revocation checks at ``at``? Asked before the card's PIN is (the certificate is read free), so that
    a person with an expired or revoked card is told before typing; it proves nothing about who holds the card,
    and :func:`verify_card_login` runs every check again on the signed login.

    >>> check_card_certificate(der, key=Purpose.AUTH, trust=store, revocation=RevocationInputs(crls=crls),
    ...                        at=now)  # doctest: +SKIP
    CertificateStanding(key=<Purpose.AUTH: 'auth'>, ...)
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    path = validate_path(certificate, profile=_PROFILES[key], trust=trust, at=at, limits=limits)
    status = _revocation(path, revocation, at)
    return CertificateStanding(key, hashlib.sha256(path.leaf_der).hexdigest(), path.anchor.label, status)


def verify_card_login(
    certificate: bytes,
    signature: bytes,
    *,
    expected: LoginMessage,
    trust: TrustStore,
    revocation: RevocationInputs,
    at: dt.datetime,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
    skew: dt.timedelta = DEFAULT_SKEW,
    limits: Limits = DEFAULT_LIMITS,
) -> CardLogin:
    """Verify a card login at ``at``: the certificate (DER, as read from the card) and the card's signature
    over the message the verifier ``expected``.

    Steps, each raising on failure:

    1. Freshness: ``expected.issued_at`` is at most ``skew`` ahead of ``at`` (``LOGIN_ISSUED_IN_FUTURE``) and at
       most ``max_age`` behind it (``LOGIN_EXPIRED``).
    2. Path validation for the profile of ``expected.key`` (:func:`keys.x509.path.validate_path`: pinned roots,
       JPKI profile, validity at ``at``).
    3. The signature: RSASSA-PKCS1-v1_5 over ``DigestInfo(SHA-256(encode_login_message(expected)))`` with the
       certificate's key (:meth:`keys.x509.path.ValidatedPath.verify_card_signature`: the rules of
       :func:`keys.signatures.verify_card_signature`, the key's held by step 2); anything else is ``BAD_SIGNATURE``.
    4. For signing-key logins, the 4 basic facts decode (``BAD_FACTS``).
    5. Revocation (:func:`keys.revocation.check_revocation`) under ``revocation.policy``: fails closed.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if expected.issued_at > at + skew:
        raise InvalidSignature(Reason.LOGIN_ISSUED_IN_FUTURE, "the login challenge was issued in the future")
    if at - expected.issued_at > max_age:
        raise InvalidSignature(Reason.LOGIN_EXPIRED, f"the login is older than {int(max_age.total_seconds())} s")
    path = validate_path(certificate, profile=expected.profile, trust=trust, at=at, limits=limits)
    public_key = path.leaf_key
    if not isinstance(public_key, rsa.RSAPublicKey):  # validate_path admits RSA card keys only
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, "the card key is an RSA key")
    path.verify_card_signature(signature, encode_login_message(expected))
    facts = decode_basic_facts(path.leaf) if expected.key is Purpose.SIGN else None
    status = _revocation(path, revocation, at)
    return CardLogin(
        account_id=account_id_for(public_key, expected.key),
        key=expected.key,
        certificate_sha256=hashlib.sha256(path.leaf_der).hexdigest(),
        certificate_not_after=path.leaf.not_valid_after_utc,
        anchor=path.anchor.label,
        revocation=status,
        facts=facts,
        anchor_since=path.anchor.certificate.not_valid_before_utc,
    )


def _revocation(path: ValidatedPath, inputs: RevocationInputs, at: dt.datetime) -> RevocationStatus | Unchecked:
    # CRLs authenticated for other roots are left out here rather than reported as scope failures by the policy.
    crls = [index for index in inputs.crls if index.issuer == path.issuer]
    return check_revocation(
        path.leaf, path.issuer, at=at, policy=inputs.policy, crls=crls, ocsp_responses=inputs.ocsp_responses,
        platform_answer=inputs.platform_answer, nonce=inputs.nonce, ocsp_cached=inputs.ocsp_cached, raw=path.raw,
    )


__all__ = [
    "ACCOUNT_CONTEXT",
    "CHALLENGE_OCTETS",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "CONTEXT",
    "CardLogin",
    "CertificateStanding",
    "LoginMessage",
    "RevocationInputs",
    "account_id_for",
    "check_card_certificate",
    "encode_login_message",
    "login_digest_info",
    "verify_card_login",
]
