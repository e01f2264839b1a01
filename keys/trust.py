"""Trust anchors: pinned J-LIS roots, chosen by authority key identifier and confirmed by signature.

Rules (DEVELOPERS.md, jpki-card-and-certs.md §2.1):

* A root is admitted only if the SHA-256 fingerprint of its DER is pinned (:data:`PINNED_JLIS_ROOTS`,
  or extra pins a deployment adds after checking J-LIS's published fingerprint PDF), never because a
  card or a peer presented it.
* Roots of a test hierarchy (``O=JPKI-TEST``-style subjects) are admitted only when the store is built
  with ``allow_test_roots=True`` (the service's explicit test/demo mode).
* Several generations of one root share one DN; candidates for a leaf are picked by the leaf's
  authority key identifier and confirmed by signature during path validation.

The store itself is pure (no I/O): :func:`keys.trust_files.load_trust_directory` reads a directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509.oid import NameOID

from keys.errors import MalformedInput, Reason, UntrustedCertificate, VerificationError
from keys.limits import DEFAULT_LIMITS, Limits, check_size
from keys.x509.profile import Purpose

_E = TypeVar("_E", bound=x509.ExtensionType)

#: SHA-256 (DER) fingerprints of the real J-LIS roots, with what each one is.
#: Source: ../shared/vectors/jpki-roots/README.md (sign gen 1 and gen 3 cross-checked against J-LIS's
#: official value by two independent projects). The 2019 authentication root (authca02) is not pinned:
#: its fingerprint was not available to check here; deployments add it with ``extra_pins``.
PINNED_JLIS_ROOTS: Mapping[str, str] = {
    "19645405a1fe14377434bd55957628ac4038557c542403a2243f21c706fc9355": "sign gen 1 (2015)",
    "79679c33e4cc9319440f1ad120a597ff1844e2ef217063adb176966fd5e6fbeb": "sign gen 2 (2019)",
    "d227f6cde11d35c5252178f106f843d24651944975413b539fa2fb68dbfa365f": "sign gen 3 (2023)",
    "4dcfc4ca0aaf9fb2a3081b3f0c991c320b3acc008667a341eeaec5af1d58ca7d": "auth gen 1 (2015)",
    "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5": "auth gen 3 (2023)",
}

_AUTH_OU = "JPKI for user authentication"
_SIGN_OU = "JPKI for digital signature"


def fingerprint(cert: x509.Certificate) -> str:
    """Lower-case hex SHA-256 over the certificate's DER encoding."""
    return cert.fingerprint(SHA256()).hex()


def is_test_hierarchy_name(name: x509.Name) -> bool:
    """True for names of a test hierarchy: an organisation attribute containing ``TEST`` (``JPKI-TEST``)."""
    return any("TEST" in str(a.value).upper() for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))


def jpki_purpose_of(name: x509.Name) -> Purpose | None:
    """The JPKI purpose named by a root DN's organisational units, if any."""
    units = {str(a.value) for a in name.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)}
    if _AUTH_OU in units:
        return Purpose.AUTH
    if _SIGN_OU in units:
        return Purpose.SIGN
    return None


def extensions_of(cert: x509.Certificate) -> x509.Extensions:
    """The parsed extensions, or :class:`MalformedInput` when they do not parse (duplicates, bad DER)."""
    try:
        return cert.extensions
    except (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad extensions: {exc}") from None


def extension_value(cert: x509.Certificate, cls: type[_E]) -> _E | None:
    """The value of the ``cls`` extension, ``None`` when absent (:class:`MalformedInput` as :func:`extensions_of`)."""
    try:
        return extensions_of(cert).get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def issuance_failure(cert: x509.Certificate, issuer: x509.Certificate) -> str | None:
    """Why ``cert`` is not directly issued by ``issuer`` (names and signature, RFC 5280 §6.1.3 (a)(1) and (a)(4)):
    the name of the failure; ``None`` when it is."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        return type(exc).__name__
    return None


def subject_key_id(cert: x509.Certificate) -> bytes | None:
    """The subjectKeyIdentifier value, or ``None`` when absent."""
    ski = extension_value(cert, x509.SubjectKeyIdentifier)
    return None if ski is None else ski.digest


def authority_key_id(cert: x509.Certificate) -> bytes | None:
    """The keyIdentifier of the authorityKeyIdentifier, or ``None`` when absent."""
    aki = extension_value(cert, x509.AuthorityKeyIdentifier)
    return None if aki is None else aki.key_identifier


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """One admitted root certificate."""

    certificate: x509.Certificate
    fingerprint: str
    label: str
    purpose: Purpose | None
    is_test: bool
    key_id: bytes | None


@dataclass(frozen=True, slots=True)
class RefusedRoot:
    """A candidate root that was not admitted, with the reason (reported, never trusted)."""

    source: str
    reason: Reason
    detail: str


@dataclass(frozen=True)
class TrustStore:
    """An immutable set of admitted trust anchors.

    Build it with :meth:`build` (pinned roots, plus test roots in test mode) or, for scoring outside
    suites only, :meth:`unsafe_unpinned`.
    """

    anchors: tuple[TrustAnchor, ...]
    allow_test_roots: bool = False
    refused: tuple[RefusedRoot, ...] = ()
    _by_key_id: dict[bytes, tuple[TrustAnchor, ...]] = field(default_factory=dict, repr=False, compare=False)
    _by_purpose: dict[Purpose | None, tuple[TrustAnchor, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    #: Per-store memo for the path validator (built verifiers, anchors already checked); never trust data.
    memo: dict[object, object] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key_id: dict[bytes, list[TrustAnchor]] = {}
        by_purpose: dict[Purpose | None, list[TrustAnchor]] = {}
        for anchor in self.anchors:
            if anchor.key_id is not None:
                by_key_id.setdefault(anchor.key_id, []).append(anchor)
            by_purpose.setdefault(anchor.purpose, []).append(anchor)
        self._by_key_id.update({k: tuple(v) for k, v in by_key_id.items()})
        self._by_purpose.update({k: tuple(v) for k, v in by_purpose.items()})

    def anchors_for(self, purpose: Purpose) -> tuple[TrustAnchor, ...]:
        """The anchors of one JPKI purpose (every generation); the path builder picks among them by key
        identifier and confirms by signature."""
        return self._by_purpose.get(purpose, ())

    @classmethod
    def build(
        cls,
        certificates: Iterable[tuple[str, bytes]],
        *,
        allow_test_roots: bool = False,
        extra_pins: Mapping[str, str] | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> TrustStore:
        """Admit pinned roots (and test roots when ``allow_test_roots``) from ``(source, DER or PEM)`` pairs.

        A candidate is refused (and listed in :attr:`refused`) when it does not parse, is not a
        self-signed CA certificate whose self-signature verifies, or is neither pinned nor an admitted
        test root.
        """
        pins = dict(PINNED_JLIS_ROOTS)
        pins.update({k.lower().replace(":", ""): v for k, v in (extra_pins or {}).items()})
        anchors: list[TrustAnchor] = []
        refused: list[RefusedRoot] = []
        seen: set[str] = set()
        for source, data in certificates:
            try:
                cert = parse_certificate(data, limits)
                _check_self_signed_ca(cert)
            except VerificationError as exc:
                refused.append(RefusedRoot(source, exc.reason, exc.detail))
                continue
            fp = fingerprint(cert)
            if fp in seen:
                continue
            is_test = is_test_hierarchy_name(cert.subject)
            if fp in pins and not is_test:
                label = pins[fp]
            elif is_test and allow_test_roots:
                label = f"test root {cert.subject.rfc4514_string()}"
            elif is_test:
                refused.append(RefusedRoot(source, Reason.TEST_ROOT_REFUSED, "test root outside test mode"))
                continue
            else:
                refused.append(RefusedRoot(source, Reason.UNTRUSTED_ROOT, f"fingerprint {fp} is not pinned"))
                continue
            seen.add(fp)
            anchors.append(_anchor(cert, fp, label, is_test))  # extensions already parsed by the CA check
        return cls(tuple(anchors), allow_test_roots, tuple(refused))

    @classmethod
    def unsafe_unpinned(cls, certificates: Iterable[x509.Certificate]) -> TrustStore:
        """UNSAFE: admit every given certificate without pinning. Only for scoring outside suites
        (x509-limbo brings its own roots); never use it for card certificates."""
        anchors = [_anchor(c, fingerprint(c), "unpinned", False) for c in certificates]
        return cls(tuple(anchors), allow_test_roots=False)

    def candidates_for(self, leaf: x509.Certificate) -> tuple[TrustAnchor, ...]:
        """Anchors that may have issued ``leaf``: matched by AKI key id when the leaf has one, else by DN.

        The match is a pre-selection only; the path validator confirms the issuer by signature.
        """
        key_id = authority_key_id(leaf)
        if key_id is not None:
            return self._by_key_id.get(key_id, ())
        return tuple(a for a in self.anchors if a.certificate.subject == leaf.issuer)


def _anchor(cert: x509.Certificate, fp: str, label: str, is_test: bool) -> TrustAnchor:
    return TrustAnchor(cert, fp, label, jpki_purpose_of(cert.subject), is_test, subject_key_id(cert))


def parse_certificate(data: bytes, limits: Limits = DEFAULT_LIMITS) -> x509.Certificate:
    """Parse one DER or PEM certificate within the size limit, or raise :class:`MalformedInput`."""
    is_pem = data.lstrip().startswith(b"-----BEGIN")
    # PEM is base64 (4/3 of the DER) plus armour: allow twice the DER limit.
    check_size(data, limits.certificate_bytes * (2 if is_pem else 1), "certificate")
    try:
        if is_pem:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
        raise MalformedInput(Reason.MALFORMED, f"not a certificate: {exc}") from None


def _check_self_signed_ca(cert: x509.Certificate) -> None:
    if cert.subject != cert.issuer:
        raise UntrustedCertificate(Reason.UNTRUSTED_ROOT, "not self-issued")
    bc = extension_value(cert, x509.BasicConstraints)
    if bc is None:
        raise UntrustedCertificate(Reason.UNTRUSTED_ROOT, "no basicConstraints")
    if not bc.ca:
        raise UntrustedCertificate(Reason.UNTRUSTED_ROOT, "basicConstraints cA is false")
    if (failure := issuance_failure(cert, cert)) is not None:
        raise UntrustedCertificate(Reason.BAD_SIGNATURE, f"self-signature does not verify: {failure}")
