"""Certificate revocation lists (RFC 5280 §5, checked as in §6.3.3): load and authenticate once with
:func:`load_crl`, then answer each certificate in O(log n) with :func:`check_crl`.

:func:`load_crl` authenticates the CRL and indexes its entries. Each step raises on failure:

1. Size limit, then DER (or PEM) parsing by pyca/cryptography (``TOO_LARGE``/``MALFORMED``).
2. The CRL issuer is the given issuer certificate's subject, and that certificate's keyUsage, if
   present, asserts cRLSign (§6.3.3 (f)).
3. Signature: algorithm and key allow-list (:mod:`keys.revocation.algorithms`), the outer and inner
   algorithm identifiers are equal (§5.1.1.2), and the signature verifies over the exact TBSCertList
   bytes with the issuer's key (§6.3.3 (g)).
4. Extensions (§5.2): cRLNumber present and non-critical (§5.2.3); delta CRLs (§5.2.4) refused;
   issuingDistributionPoint (§5.2.5) read, indirect, attribute-certificate and reason-partitioned CRLs
   refused; any other critical extension refused.
5. thisUpdate is not in the future beyond the clock skew.
6. Entries are indexed by serial number. Entry extensions naming another certificate issuer (indirect
   CRLs, §5.3.3) and unknown critical entry extensions are refused; duplicate serials are refused.

The entries are read by walking the DER with :mod:`keys.der` rather than through cryptography's per-entry
objects (iterating those and reading their extensions costs about twice as long, and cryptography's
``tbs_certlist_bytes`` re-encodes the whole list where the walk slices it). They go straight into a
serial index (:mod:`keys.revocation.serial_index`: 15 octets per serial, sorted, binary-searched), either in
memory or as a file every process of a host maps (``index_dir``), built once per CRL. No per-entry Python
object outlives the walk, so a CRL of 10,000,000 entries indexes within one bounded sort run of memory on top
of its DER.

:func:`check_crl` then checks scope (§6.3.3 (b)), freshness (§6.3.3 (a)) and membership (§6.3.3 (i)).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fcntl
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from keys import der
from keys.errors import MalformedInput, Reason, RevocationUnavailable
from keys.limits import DEFAULT_LIMITS, Limits, check_size
from keys.revocation.algorithms import verify_signature
from keys.revocation.serial_index import (
    DuplicateSerial,
    IndexFileError,
    SerialIndex,
    build_in_memory,
    open_index,
    write_index,
)
from keys.revocation.status import DEFAULT_SKEW, CertStatus, RevocationStatus, revoked_unless_later
from keys.trust import extension_value, subject_key_id
from keys.x509.rawcert import (
    AUTHORITY_KEY_IDENTIFIER,
    BASIC_CONSTRAINTS,
    CRL_DISTRIBUTION_POINTS,
    RawCertificate,
    raw_certificate,
)
from keys.x509.strict import LAZY_DECODING_ERRORS

_ISO = "%Y-%m-%dT%H:%M:%SZ"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_PEM = re.compile(rb"-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----")

# DER bodies of the entry-extension OIDs (RFC 5280 §5.3).
_REASON_CODE = bytes.fromhex("551d15")
_HOLD_INSTRUCTION = bytes.fromhex("551d17")
_INVALIDITY_DATE = bytes.fromhex("551d18")
_CERTIFICATE_ISSUER = bytes.fromhex("551d1d")
_ENTRY_EXTENSIONS_UNDERSTOOD = frozenset({_REASON_CODE, _HOLD_INSTRUCTION, _INVALIDITY_DATE})

#: CRLReason ENUMERATED values (RFC 5280 §5.3.1; 7 is unused).
_REASONS: Mapping[int, x509.ReasonFlags] = {
    0: x509.ReasonFlags.unspecified,
    1: x509.ReasonFlags.key_compromise,
    2: x509.ReasonFlags.ca_compromise,
    3: x509.ReasonFlags.affiliation_changed,
    4: x509.ReasonFlags.superseded,
    5: x509.ReasonFlags.cessation_of_operation,
    6: x509.ReasonFlags.certificate_hold,
    8: x509.ReasonFlags.remove_from_crl,
    9: x509.ReasonFlags.privilege_withdrawn,
    10: x509.ReasonFlags.aa_compromise,
}

#: CRL extensions this module processes; any other critical one makes the CRL unusable.
_CRL_EXTENSIONS_UNDERSTOOD = (
    x509.CRLNumber,
    x509.IssuingDistributionPoint,
    x509.AuthorityKeyIdentifier,
    x509.IssuerAlternativeName,
    x509.AuthorityInformationAccess,
)


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One revokedCertificates entry."""

    serial: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags | None


@dataclass(frozen=True)
class CrlIndex:
    """An authenticated CRL, indexed by serial number. Build it with :func:`load_crl`."""

    #: The certificate whose key signed the CRL.
    issuer: x509.Certificate
    this_update: dt.datetime
    next_update: dt.datetime | None
    crl_number: int
    #: The issuingDistributionPoint names (``None``: the CRL covers every certificate of the issuer).
    distribution_point: tuple[x509.GeneralName, ...] | None
    only_user_certs: bool
    only_ca_certs: bool
    #: The issuer's subject and subjectKeyIdentifier, read once for the per-certificate scope check.
    issuer_name: x509.Name = field(repr=False)
    issuer_key_id: bytes | None = field(repr=False)
    #: DER of the issuer's subject and of the issuingDistributionPoint ``distributionPoint [0]`` element:
    #: the per-login scope check compares bytes first and decodes names only when they differ.
    issuer_name_der: bytes = field(repr=False)
    distribution_point_der: bytes | None = field(repr=False)
    #: SHA-256 of the CRL's DER (the name of its index file).
    sha256: bytes = field(repr=False, compare=False)
    _serials: SerialIndex = field(repr=False, compare=False)
    #: The scope encodings already found in scope (:func:`_check_scope`): issuer DER and the raw
    #: authorityKeyIdentifier, basicConstraints and cRLDistributionPoints extensions.
    _in_scope: set[tuple[object, ...]] = field(default_factory=set, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self._serials)

    @property
    def index_bytes(self) -> int:
        """Octets of the serial index (:mod:`keys.revocation.serial_index`), mapped or in memory."""
        return self._serials.size

    def serials(self) -> Iterator[int]:
        """Every revoked serial number (for matching the list against stored references)."""
        return self._serials.serials()

    def lookup(self, serial: int) -> RevokedEntry | None:
        """The entry listing ``serial``, or ``None`` (binary search in the serial index, O(log n))."""
        found = self._serials.lookup(serial)
        if found is None:
            return None
        revoked_at, reason = found
        return RevokedEntry(
            serial, _EPOCH + dt.timedelta(seconds=revoked_at), None if reason is None else _REASONS[reason]
        )


def load_crl(
    data: bytes,
    *,
    issuer: x509.Certificate,
    at: dt.datetime,
    skew: dt.timedelta = DEFAULT_SKEW,
    limits: Limits = DEFAULT_LIMITS,
    index_dir: Path | None = None,
) -> CrlIndex:
    """Authenticate a DER (or PEM) CRL issued by ``issuer`` and index it; raise on any failure.

    ``issuer`` must be the certificate that issued the certificates to check, as found by path
    validation (for JPKI, the pinned root of the right generation).

    With ``index_dir`` the serial index is the file ``<index_dir>/<SHA-256 of the DER>.idx``, shared by every
    process that loads the same CRL: mapped when it is intact, else built (under a file lock, so one process
    builds and the others wait and map it) and renamed into place. Without it the index is kept in memory.
    ``index_dir`` must be writable by this service only: an index file is trusted once its digest checks.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    try:
        return _load_crl(data, issuer, at, skew, limits, index_dir)
    except LAZY_DECODING_ERRORS as exc:  # cryptography decodes names and extensions lazily
        raise MalformedInput(Reason.MALFORMED, f"bad CRL: {exc}") from None


def _load_crl(
    data: bytes, issuer: x509.Certificate, at: dt.datetime, skew: dt.timedelta, limits: Limits, index_dir: Path | None
) -> CrlIndex:
    # 1. limits and parsing
    is_pem = data.lstrip().startswith(b"-----BEGIN")
    check_size(data, limits.crl_bytes * (2 if is_pem else 1), "CRL")
    encoded = _pem_to_der(data) if is_pem else data
    try:
        crl = x509.load_der_x509_crl(encoded)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
        raise MalformedInput(Reason.MALFORMED, f"not a CRL: {exc}") from None

    # 2. issuer
    if crl.issuer != issuer.subject:
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "CRL issuer is not the certificate issuer")
    usage = extension_value(issuer, x509.KeyUsage)
    if usage is not None and not usage.crl_sign:
        raise RevocationUnavailable(Reason.WRONG_KEY_USAGE, "CRL issuer keyUsage does not assert cRLSign")

    # 3. signature over the exact TBSCertList
    layout = _layout(encoded)
    if encoded[layout.inner_algorithm[0] : layout.inner_algorithm[1]] != encoded[
        layout.outer_algorithm[0] : layout.outer_algorithm[1]
    ]:
        raise MalformedInput(Reason.MALFORMED, "CRL signature algorithms of TBSCertList and CertificateList differ")
    with memoryview(encoded) as view, view[layout.tbs[0] : layout.tbs[1]] as tbs:  # no copy of a large list
        verify_signature(issuer.public_key(), crl.signature_algorithm_oid, crl.signature, tbs, "CRL")

    # 4. extensions
    crl_number, distribution_point, only_user, only_ca = _read_extensions(crl, issuer)

    # 5. times
    this_update, next_update = crl.last_update_utc, crl.next_update_utc
    if this_update > at + skew:
        raise RevocationUnavailable(
            Reason.REVOCATION_NOT_YET_VALID, f"CRL thisUpdate {this_update:{_ISO}} is in the future"
        )
    if next_update is not None and next_update < this_update:
        raise MalformedInput(Reason.MALFORMED, "CRL nextUpdate is before its thisUpdate")

    # 6. entries
    digest = hashlib.sha256(encoded).digest()
    entries = _entries(encoded, layout.entries)
    try:
        serials = build_in_memory(digest, entries) if index_dir is None else _shared_index(index_dir, digest, entries)
    except DuplicateSerial:
        raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, "CRL lists a serial number more than once") from None
    return CrlIndex(
        issuer, this_update, next_update, crl_number, distribution_point, only_user, only_ca,
        issuer.subject, subject_key_id(issuer), issuer.subject.public_bytes(), _distribution_point_der(crl),
        digest, serials,
    )


def _shared_index(
    directory: Path, digest: bytes, entries: Iterator[tuple[int, int, int | None]]
) -> SerialIndex:
    """The index file of the CRL with SHA-256 ``digest`` in ``directory``: mapped if intact, else (re)built
    under an exclusive lock and mapped. A truncated or corrupted file is never used (fail closed)."""
    path = directory / f"{digest.hex()}.idx"
    try:
        return open_index(path, digest)
    except IndexFileError:
        pass
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (directory / f"{digest.hex()}.lock").open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return open_index(path, digest)  # another process built it while we waited
        except IndexFileError:
            write_index(path, digest, entries)
        return open_index(path, digest)


def check_crl(
    index: CrlIndex,
    cert: x509.Certificate | bytes | RawCertificate,
    *,
    at: dt.datetime,
    grace: dt.timedelta,
    skew: dt.timedelta = DEFAULT_SKEW,
) -> RevocationStatus:
    """The status of ``cert`` at ``at`` according to ``index``: scope, freshness, then membership.

    Raises :class:`~keys.errors.RevocationUnavailable` when the CRL does not cover ``cert``
    (``REVOCATION_SCOPE``) or is not fresh (``STALE_REVOCATION_DATA`` once ``at`` is past nextUpdate +
    ``grace``, ``REVOCATION_NOT_YET_VALID``), and :class:`~keys.revocation.status.Revoked` when
    ``cert`` is listed with a revocationDate at or before ``at``. removeFromCRL entries are not
    revocations.

    ``cert`` may be given as DER or as the raw view a :class:`~keys.x509.path.ValidatedPath` keeps
    (``path.raw``): the check then reads only the fields it needs from the bytes (:mod:`keys.x509.rawcert`).
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if isinstance(cert, RawCertificate):
        raw = cert
    else:
        raw = raw_certificate(cert if isinstance(cert, bytes) else cert.public_bytes(Encoding.DER))
    _check_scope(index, raw)
    if index.this_update > at + skew:
        raise RevocationUnavailable(
            Reason.REVOCATION_NOT_YET_VALID, f"CRL thisUpdate {index.this_update:{_ISO}} is in the future"
        )
    if index.next_update is None:
        raise RevocationUnavailable(Reason.STALE_REVOCATION_DATA, "CRL has no nextUpdate")
    if at > index.next_update + grace:
        raise RevocationUnavailable(
            Reason.STALE_REVOCATION_DATA, f"CRL nextUpdate {index.next_update:{_ISO}} has passed"
        )
    entry = index.lookup(raw.serial_number)
    if entry is None or entry.reason is x509.ReasonFlags.remove_from_crl:
        return RevocationStatus(CertStatus.GOOD, "crl", index.this_update, index.next_update)
    return revoked_unless_later(
        "crl", at=at, this_update=index.this_update, next_update=index.next_update,
        revoked_at=entry.revoked_at, reason_code=entry.reason,
    )


#: Distinct in-scope encodings remembered per CRL (about one per municipality and root generation for JPKI).
_SCOPE_MEMO_LIMIT = 8192


def _check_scope(index: CrlIndex, raw: RawCertificate) -> None:
    """RFC 5280 §6.3.3 (b): the CRL is the certificate issuer's, and its partition holds the certificate.

    Names are compared as DER first (equal DER is equal names); only when the bytes differ are they decoded
    and compared as names, so the usual JPKI case costs no object construction. The verdict depends on the
    issuer and those three extensions alone, and a card hierarchy issues a handful of encodings of them: an
    encoding found in scope by the byte comparisons is remembered per CRL (refusals and the decoding path are
    not).
    """
    extensions = raw.extensions
    encoding = (raw.issuer_der, extensions.get(AUTHORITY_KEY_IDENTIFIER), extensions.get(BASIC_CONSTRAINTS),
                extensions.get(CRL_DISTRIBUTION_POINTS))
    if encoding in index._in_scope:
        return
    if raw.issuer_der != index.issuer_name_der and _load(raw.der).issuer != index.issuer_name:
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "CRL is from another issuer")
    key_id = raw.authority_key_id()
    if key_id is not None and index.issuer_key_id is not None and key_id != index.issuer_key_id:
        raise RevocationUnavailable(
            Reason.REVOCATION_SCOPE, "CRL is from another key of the issuer name (another root generation)"
        )
    is_ca = raw.is_ca()
    if index.only_user_certs and is_ca:
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "CRL covers end-entity certificates only")
    if index.only_ca_certs and not is_ca:
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "CRL covers CA certificates only")
    if index.distribution_point is None or index.distribution_point_der in raw.distribution_point_names():
        if raw.issuer_der == index.issuer_name_der and len(index._in_scope) < _SCOPE_MEMO_LIMIT:
            index._in_scope.add(encoding)
        return
    cert = _load(raw.der)
    points = extension_value(cert, x509.CRLDistributionPoints)
    if points is None or not _names_point(points, cert.issuer, index.distribution_point):
        raise RevocationUnavailable(
            Reason.REVOCATION_SCOPE, "CRL distribution point is not one named by the certificate"
        )


def _load(data: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise MalformedInput(Reason.MALFORMED, f"not a certificate: {exc}") from None


def _distribution_point_der(crl: x509.CertificateRevocationList) -> bytes | None:
    """The DER of the issuingDistributionPoint's ``distributionPoint [0]`` element (RFC 5280 §5.2.5), which
    is encoded exactly like a certificate's cRLDistributionPoints ``distributionPoint [0]`` for the same name."""
    try:
        value = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None
    encoded = value.public_bytes()
    start, stop = der.expect(encoded, 0, len(encoded), der.SEQUENCE, "issuingDistributionPoint")
    if start == stop:
        return None
    tag, _, element_stop = der.read_tlv(encoded, start, stop)
    return encoded[start:element_stop] if tag == 0xA0 else None


def _names_point(points: x509.CRLDistributionPoints, issuer: x509.Name, wanted: tuple[x509.GeneralName, ...]) -> bool:
    """RFC 5280 §6.3.3 (b)(2)(i): one of the certificate's distribution points served by its issuer itself
    (no cRLIssuer) has a name in ``wanted``. Compared by equality: hashing names costs more than the one or
    two comparisons a JPKI certificate needs."""
    for point in points:
        if point.crl_issuer:
            continue
        names = point.full_name or ([_relative_to(issuer, point.relative_name)] if point.relative_name else [])
        if any(name == candidate for name in names for candidate in wanted):
            return True
    return False


def _relative_to(issuer: x509.Name, rdn: x509.RelativeDistinguishedName) -> x509.GeneralName:
    """RFC 5280 §4.2.1.13: a nameRelativeToCRLIssuer appended to the issuer's name."""
    return x509.DirectoryName(x509.Name([*issuer.rdns, rdn]))


def _read_extensions(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate
) -> tuple[int, tuple[x509.GeneralName, ...] | None, bool, bool]:
    try:
        extensions = list(crl.extensions)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad CRL extensions: {exc}") from None
    crl_number: int | None = None
    distribution_point: tuple[x509.GeneralName, ...] | None = None
    only_user = only_ca = False
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.DeltaCRLIndicator):
            raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, "delta CRLs are not supported")
        if isinstance(value, x509.CRLNumber):
            if ext.critical:
                raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, "cRLNumber must not be critical")
            crl_number = value.crl_number
        elif isinstance(value, x509.IssuingDistributionPoint):
            if value.indirect_crl or value.only_contains_attribute_certs or value.only_some_reasons:
                raise RevocationUnavailable(
                    Reason.BAD_REVOCATION_DATA, "indirect, attribute or reason-partitioned CRLs are not supported"
                )
            if value.full_name:
                distribution_point = tuple(value.full_name)
            elif value.relative_name is not None:
                distribution_point = (_relative_to(issuer.subject, value.relative_name),)
            only_user, only_ca = value.only_contains_user_certs, value.only_contains_ca_certs
        elif ext.critical and not isinstance(value, _CRL_EXTENSIONS_UNDERSTOOD):
            raise RevocationUnavailable(
                Reason.UNKNOWN_CRITICAL_EXTENSION, f"CRL has critical extension {ext.oid.dotted_string}"
            )
    if crl_number is None:
        raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, "CRL has no cRLNumber")
    return crl_number, distribution_point, only_user, only_ca


@dataclass(frozen=True, slots=True)
class _Layout:
    """Spans ``(start, stop)`` in the CRL DER: whole TBSCertList, both algorithm identifiers, and the
    content of revokedCertificates (``None`` when absent)."""

    tbs: tuple[int, int]
    inner_algorithm: tuple[int, int]
    outer_algorithm: tuple[int, int]
    entries: tuple[int, int] | None


def _layout(data: bytes) -> _Layout:
    """Find the parts of a CertificateList (RFC 5280 §5.1) that cryptography parsed but does not expose
    as exact bytes."""
    start, stop = der.expect(data, 0, len(data), der.SEQUENCE, "CertificateList")
    tbs_start, tbs_stop = der.expect(data, start, stop, der.SEQUENCE, "TBSCertList")
    _, _, outer_algorithm_stop = der.read_tlv(data, tbs_stop, stop)
    position = tbs_start
    tag, _, end = der.read_tlv(data, position, tbs_stop)
    if tag == der.INTEGER:  # version
        position = end
    algorithm_start = position
    _, _, position = der.read_tlv(data, position, tbs_stop)  # signature
    algorithm_stop = position
    _, _, position = der.read_tlv(data, position, tbs_stop)  # issuer
    _, _, position = der.read_tlv(data, position, tbs_stop)  # thisUpdate
    entries = None
    if position < tbs_stop:
        tag, _, end = der.read_tlv(data, position, tbs_stop)
        if tag in (der.UTC_TIME, der.GENERALIZED_TIME):  # nextUpdate
            position = end
    if position < tbs_stop:
        tag, content_start, end = der.read_tlv(data, position, tbs_stop)
        if tag == der.SEQUENCE:
            entries = (content_start, end)
    return _Layout(
        (start, tbs_stop), (algorithm_start, algorithm_stop), (tbs_stop, outer_algorithm_stop), entries
    )


def _entries(data: bytes, span: tuple[int, int] | None) -> Iterator[tuple[int, int, int | None]]:
    """``(serial, revocationDate as POSIX seconds, CRLReason code or None)`` of each entry, checking entry
    extensions on the way (consumed by the index builder, so no per-entry object outlives its record).

    This loop is the hot path of indexing a large CRL, so it reads the common short-form headers inline,
    decodes each distinct extensions encoding once (they repeat: usually just a reasonCode) and each distinct
    day of a revocationDate once.
    """
    if span is None:
        return
    from_bytes = int.from_bytes
    reasons: dict[bytes, int | None] = {}
    days: dict[bytes, int] = {}
    position, stop = span
    while position < stop:
        if data[position] != der.SEQUENCE:
            raise MalformedInput(Reason.MALFORMED, "CRL entry is not a SEQUENCE")
        length = data[position + 1]
        content = position + 2
        if length & 0x80:
            _, content, entry_stop = der.read_tlv(data, position, stop)
        else:
            entry_stop = content + length
        if data[content] != der.INTEGER or data[content + 1] & 0x80:
            raise MalformedInput(Reason.MALFORMED, "CRL entry serial is not a short INTEGER")
        serial_stop = content + 2 + data[content + 1]
        serial = from_bytes(data[content + 2 : serial_stop], "big", signed=True)
        time_stop = serial_stop + 2 + data[serial_stop + 1]
        if time_stop > entry_stop:
            raise MalformedInput(Reason.MALFORMED, "CRL entry overruns")
        revoked_at = _seconds(data[serial_stop], data[serial_stop + 2 : time_stop], days)
        reason = None
        if time_stop < entry_stop:
            extensions = data[time_stop:entry_stop]
            if extensions not in reasons:
                reasons[extensions] = _check_entry_extensions(extensions)
            reason = reasons[extensions]
        yield serial, revoked_at, reason
        position = entry_stop


def _seconds(tag: int, value: bytes, days: dict[bytes, int]) -> int:
    """A revocationDate (RFC 5280 §5.1.2.6, UTCTime or GeneralizedTime) as POSIX seconds: the date part is
    decoded by :func:`keys.der.decode_time` once per distinct day, the time of day read here with the same
    checks."""
    day_octets = 6 if tag == der.UTC_TIME else 8
    clock = value[day_octets:]
    if len(clock) != 7 or clock[6] != 0x5A or not clock[:6].isdigit():  # "HHMMSSZ"
        der.decode_time(tag, value)  # raises with the precise reason
        raise MalformedInput(Reason.MALFORMED, "CRL entry revocationDate is not in Zulu form")
    midnight = days.get(value[:day_octets])
    if midnight is None:
        midnight = days[value[:day_octets]] = int(der.decode_time(tag, value[:day_octets] + b"000000Z").timestamp())
    hhmmss = int(clock[:6])
    hours, minutes, seconds = hhmmss // 10000, hhmmss // 100 % 100, hhmmss % 100
    if hours > 23 or minutes > 59 or seconds > 59:
        der.decode_time(tag, value)  # raises: an impossible time of day
    return midnight + hours * 3600 + minutes * 60 + seconds


def _check_entry_extensions(extensions: bytes) -> int | None:
    """RFC 5280 §5.3: refuse certificateIssuer (indirect CRLs) and unknown critical entry extensions; the
    reasonCode must decode. Returns its CRLReason code."""
    code = None
    for oid, critical, value in _extensions(extensions, 0, len(extensions)):
        if oid == _CERTIFICATE_ISSUER:
            raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, "indirect CRL entries are not supported")
        if critical and oid not in _ENTRY_EXTENSIONS_UNDERSTOOD:
            raise RevocationUnavailable(
                Reason.UNKNOWN_CRITICAL_EXTENSION, "CRL entry has an unknown critical extension"
            )
        if oid == _REASON_CODE:
            _decode_reason(value)
            code = value[2]
    return code


def _extensions(data: bytes, start: int, stop: int) -> list[tuple[bytes, bool, bytes]]:
    """``(oid body, critical, extnValue)`` of each Extension in an Extensions SEQUENCE."""
    out = []
    position, end = der.expect(data, start, stop, der.SEQUENCE, "Extensions")
    if der.read_tlv(data, start, stop)[2] != stop:
        raise MalformedInput(Reason.MALFORMED, "bytes after the CRL entry extensions")
    while position < end:
        ext_start, ext_stop = der.expect(data, position, end, der.SEQUENCE, "Extension")
        oid_start, oid_stop = der.expect(data, ext_start, ext_stop, der.OBJECT_IDENTIFIER, "extnID")
        critical = False
        tag, value_start, value_stop = der.read_tlv(data, oid_stop, ext_stop)
        if tag == der.BOOLEAN:
            critical = data[value_start:value_stop] == b"\xff"
            value_start, value_stop = der.expect(data, value_stop, ext_stop, der.OCTET_STRING, "extnValue")
        elif tag != der.OCTET_STRING:
            raise MalformedInput(Reason.MALFORMED, "Extension has no extnValue")
        out.append((data[oid_start:oid_stop], critical, data[value_start:value_stop]))
        position = ext_stop
    return out


def _decode_reason(value: bytes) -> x509.ReasonFlags:
    start, stop = der.expect(value, 0, len(value), der.ENUMERATED, "reasonCode")
    reason = _REASONS.get(value[start]) if stop == len(value) == start + 1 else None
    if reason is None:
        raise MalformedInput(Reason.MALFORMED, "CRL entry reasonCode is not a CRLReason")
    return reason


def _pem_to_der(data: bytes) -> bytes:
    match = _PEM.fullmatch(data.strip())
    if match is None:
        raise MalformedInput(Reason.MALFORMED, "not a PEM CRL")
    try:
        return base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except binascii.Error:
        raise MalformedInput(Reason.MALFORMED, "PEM CRL is not valid base64") from None
