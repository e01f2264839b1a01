"""A raw view of the certificate fields the per-login revocation check needs, read from the DER.

Reading ``cert.extensions`` through pyca/cryptography builds a Python object for every extension; on a
JPKI card certificate (three extensions holding directory names) that costs 50–150 µs, more than the
signature check itself. The hot path therefore reads only what it needs straight from the bytes
(RFC 5280 §4.1): the serial number, the issuer Name (as DER, compared byte for byte), and the raw values
of the authorityKeyIdentifier, basicConstraints and cRLDistributionPoints extensions.

It is used on certificates that pyca/cryptography has already parsed (and, on the login path, validated);
every length is still bounds-checked by :mod:`keys.der`, and anything unexpected raises
:class:`~keys.errors.MalformedInput`.
"""

from __future__ import annotations

from dataclasses import dataclass

from keys import der
from keys.errors import MalformedInput, Reason

#: OID contents (X.690 §8.19) of the extensions read here.
AUTHORITY_KEY_IDENTIFIER = bytes.fromhex("551d23")  # 2.5.29.35
BASIC_CONSTRAINTS = bytes.fromhex("551d13")  # 2.5.29.19
CRL_DISTRIBUTION_POINTS = bytes.fromhex("551d1f")  # 2.5.29.31
SUBJECT_KEY_IDENTIFIER = bytes.fromhex("551d0e")  # 2.5.29.14

_EXPLICIT_0, _EXTENSIONS = 0xA0, 0xA3
#: DER of BOOLEAN TRUE; DER encodes a FALSE critical flag by omitting it (X.690 §11.5).
_CRITICAL = b"\x01\x01\xff"
_IMPLICIT_0, _UNIQUE_ID_1, _UNIQUE_ID_2, _CRL_ISSUER = 0x80, 0x81, 0x82, 0xA2


#: authorityKeyIdentifier extnValue -> its keyIdentifier (:meth:`RawCertificate.authority_key_id`); bounded.
_KEY_IDS: dict[bytes, bytes | None] = {}
_KEY_IDS_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class RawCertificate:
    """Serial, issuer DER and raw extension values of one certificate."""

    #: The whole certificate as DER, as it was read.
    der: bytes
    serial_number: int
    issuer_der: bytes
    #: OID contents -> (critical, extnValue contents).
    extensions: dict[bytes, tuple[bool, bytes]]
    #: The TBSCertificate fields path validation's direct step reads (:mod:`keys.x509.path`, step 3): the contents of
    #: the ``[0]`` version element (empty when absent: v1), the serial's contents length in octets, the TBS and the
    #: outer signature AlgorithmIdentifier (whole TLVs), the Validity's contents and the subject Name (whole TLV).
    version_der: bytes = b""
    serial_octets: int = 0
    signature_algorithm_der: bytes = b""
    outer_algorithm_der: bytes = b""
    validity_der: bytes = b""
    subject_der: bytes = b""

    def _first_element(self, oid: bytes, what: str) -> tuple[int, bytes] | None:
        """The tag and contents of the first element of the extension's SEQUENCE; ``None`` when the extension
        is absent or the SEQUENCE empty."""
        found = self.extensions.get(oid)
        if found is None:
            return None
        value = found[1]
        start, stop = der.expect(value, 0, len(value), der.SEQUENCE, what)
        if start == stop:
            return None
        tag, first_start, first_stop = der.read_tlv(value, start, stop)
        return tag, value[first_start:first_stop]

    def authority_key_id(self) -> bytes | None:
        """The keyIdentifier of authorityKeyIdentifier (RFC 5280 §4.2.1.1), or ``None``. Read once per distinct
        extension value: a hierarchy's certificates share a handful."""
        found = self.extensions.get(AUTHORITY_KEY_IDENTIFIER)
        if found is None:
            return None
        if found[1] in _KEY_IDS:
            return _KEY_IDS[found[1]]
        first = self._first_element(AUTHORITY_KEY_IDENTIFIER, "authorityKeyIdentifier")
        key_id = first[1] if first is not None and first[0] == _IMPLICIT_0 else None
        if len(_KEY_IDS) >= _KEY_IDS_LIMIT:
            _KEY_IDS.clear()
        _KEY_IDS[found[1]] = key_id
        return key_id

    def is_ca(self) -> bool:
        """basicConstraints cA (RFC 5280 §4.2.1.9); ``False`` when absent."""
        return self._first_element(BASIC_CONSTRAINTS, "basicConstraints") == (der.BOOLEAN, b"\xff")

    def distribution_point_names(self) -> list[bytes]:
        """The DER of each ``distributionPoint [0]`` name of a cRLDistributionPoints entry that has no
        cRLIssuer (RFC 5280 §4.2.1.13), i.e. the points served by the certificate's own issuer."""
        found = self.extensions.get(CRL_DISTRIBUTION_POINTS)
        if found is None:
            return []
        value = found[1]
        start, stop = der.expect(value, 0, len(value), der.SEQUENCE, "cRLDistributionPoints")
        names: list[bytes] = []
        while start < stop:
            point_start, point_stop = der.expect(value, start, stop, der.SEQUENCE, "DistributionPoint")
            name: bytes | None = None
            has_crl_issuer = False
            position = point_start
            while position < point_stop:
                tag, _, element_stop = der.read_tlv(value, position, point_stop)
                if tag == _EXPLICIT_0:
                    name = value[position:element_stop]
                elif tag == _CRL_ISSUER:
                    has_crl_issuer = True
                position = element_stop
            if name is not None and not has_crl_issuer:
                names.append(name)
            start = point_stop
        return names


def raw_certificate(data: bytes) -> RawCertificate:
    """Read the serial, issuer and extensions of a DER certificate (RFC 5280 §4.1)."""
    end = len(data)
    read = der.read_tlv
    tag, cert_start, cert_stop = read(data, 0, end)
    if tag != der.SEQUENCE or cert_stop != end:
        raise MalformedInput(Reason.MALFORMED, "not a DER Certificate, or trailing data after it")
    tag, tbs_start, tbs_stop = read(data, cert_start, cert_stop)
    if tag != der.SEQUENCE:
        raise MalformedInput(Reason.MALFORMED, "TBSCertificate: expected a SEQUENCE")
    tag, start, stop = read(data, tbs_start, tbs_stop)
    version_der = b""
    if tag == _EXPLICIT_0:  # version
        version_der = data[start:stop]
        tag, start, stop = read(data, stop, tbs_stop)
    if tag != der.INTEGER or start == stop:
        raise MalformedInput(Reason.MALFORMED, "TBSCertificate: no serial number")
    serial = int.from_bytes(data[start:stop], "big", signed=True)
    serial_octets = stop - start
    algorithm_start = stop
    _, _, issuer_start = read(data, algorithm_start, tbs_stop)  # signature AlgorithmIdentifier
    tag, _, position = read(data, issuer_start, tbs_stop)
    if tag != der.SEQUENCE:
        raise MalformedInput(Reason.MALFORMED, "issuer: expected a SEQUENCE")
    issuer_stop = position
    _, validity_start, validity_stop = read(data, position, tbs_stop)
    _, _, subject_stop = read(data, validity_stop, tbs_stop)
    _, _, position = read(data, subject_stop, tbs_stop)  # subjectPublicKeyInfo
    extensions: dict[bytes, tuple[bool, bytes]] = {}
    while position < tbs_stop:
        tag, start, stop = read(data, position, tbs_stop)
        if tag == _EXTENSIONS:
            extensions = _SHAPES.read(data, start, stop)
        elif tag not in (_UNIQUE_ID_1, _UNIQUE_ID_2):
            raise MalformedInput(Reason.MALFORMED, f"TBSCertificate: unexpected tag 0x{tag:02x}")
        position = stop
    _, _, outer_stop = read(data, tbs_stop, cert_stop)  # signatureAlgorithm
    return RawCertificate(
        data, serial, data[issuer_start:issuer_stop], extensions, version_der, serial_octets,
        data[algorithm_start:issuer_start], data[tbs_stop:outer_stop], data[validity_start:validity_stop],
        data[validity_stop:subject_stop],
    )


class _ExtensionShapes:
    """Extensions lists already read, remembered by shape: the octets of the list with the subjectKeyIdentifier's
    key identifier cut out, and where that cut is.

    The certificates of one issuer (and card type, and municipality's distribution point) carry the same extensions
    but for the key identifier (RFC 5280 §4.2.1.2: derived from each certificate's own key). The reading of a list
    depends on its octets outside that identifier alone (the identifier is never decoded), so a list equal to a
    remembered one outside an identifier of the same position and length reads the same, but for that identifier:
    the reading is reused and only the identifier taken from the new octets. A list without a well-formed key
    identifier is remembered whole. The cuts are kept per length of the list, so a list of a length never seen
    costs one dictionary lookup before it is read in full; every table is bounded.
    """

    _MAX_SHAPES = 4096
    _MAX_CUTS_PER_LENGTH = 4

    def __init__(self) -> None:
        #: Length of the list's contents -> (offset of the identifier in them, its length); (length, 0): no cut.
        self._cuts: dict[int, tuple[tuple[int, int], ...]] = {}
        self._read: dict[tuple[int, int, bytes, bytes], dict[bytes, tuple[bool, bytes]]] = {}

    def read(self, data: bytes, start: int, stop: int) -> dict[bytes, tuple[bool, bytes]]:
        """The extensions in ``data[start:stop]`` (the contents of the TBSCertificate's ``[3]`` element)."""
        for at, octets in self._cuts.get(stop - start, ()):
            cut = start + at
            known = self._read.get((at, octets, data[start:cut], data[cut + octets : stop]))
            if known is not None:
                found = dict(known)
                if octets:
                    found[SUBJECT_KEY_IDENTIFIER] = (known[SUBJECT_KEY_IDENTIFIER][0], data[cut - 2 : cut + octets])
                return found
        found, identifier_at = _extensions(data, start, stop)
        self._remember(data, start, stop, found, identifier_at)
        return found

    def _remember(self, data: bytes, start: int, stop: int, found: dict[bytes, tuple[bool, bytes]],
                  identifier_at: int | None) -> None:
        value = found[SUBJECT_KEY_IDENTIFIER][1] if SUBJECT_KEY_IDENTIFIER in found else b""
        if identifier_at is not None and len(value) >= 2 and value[0] == der.OCTET_STRING and value[1] == len(
            value
        ) - 2 < 0x80:  # the extnValue is exactly OCTET STRING { keyIdentifier }, its header in the short form
            cut, octets = identifier_at + 2, len(value) - 2
        else:
            cut, octets = stop, 0
        if len(self._read) >= self._MAX_SHAPES:
            self._read.clear()
            self._cuts.clear()
        cuts = self._cuts.get(stop - start, ())
        if (cut - start, octets) not in cuts:
            if len(cuts) >= self._MAX_CUTS_PER_LENGTH:
                return
            self._cuts[stop - start] = (*cuts, (cut - start, octets))
        self._read[(cut - start, octets, data[start:cut], data[cut + octets : stop])] = found


_SHAPES = _ExtensionShapes()


def _extensions(data: bytes, start: int, stop: int) -> tuple[dict[bytes, tuple[bool, bytes]], int | None]:
    """The Extensions list (RFC 5280 §4.1.2.9). Each Extension's SEQUENCE and extnValue headers are read in place
    when in the short form or the one-octet long form (under 256 octets, the usual case; anything else through
    :func:`keys.der.read_tlv`), the extnID (an OID shorter than 128 octets, so its length is one octet) and the
    critical BOOLEAN too, with the same bounds :func:`keys.der.read_tlv` checks. Also returns where the
    subjectKeyIdentifier's extnValue contents start (``None`` without one), for :class:`_ExtensionShapes`."""
    list_start, list_stop = der.expect(data, start, stop, der.SEQUENCE, "Extensions")
    found: dict[bytes, tuple[bool, bytes]] = {}
    identifier_at: int | None = None
    position = list_start
    while position < list_stop:
        length = data[position + 1] if position + 3 <= list_stop else 0x80
        if data[position] != der.SEQUENCE:
            raise MalformedInput(Reason.MALFORMED, "Extension: expected a SEQUENCE")
        if length < 0x80:
            ext_start = position + 2
        elif length == 0x81:
            ext_start, length = position + 3, data[position + 2]
        else:
            ext_start, ext_stop = der.expect(data, position, list_stop, der.SEQUENCE, "Extension")
            length = ext_stop - ext_start
        ext_stop = ext_start + length
        if ext_stop > list_stop:
            raise MalformedInput(Reason.MALFORMED, "DER element overruns its container")
        if ext_start + 2 > ext_stop or data[ext_start] != der.OBJECT_IDENTIFIER or data[ext_start + 1] & 0x80:
            raise MalformedInput(Reason.MALFORMED, "Extension: bad extnID")
        oid_stop = ext_start + 2 + data[ext_start + 1]
        if oid_stop >= ext_stop:
            raise MalformedInput(Reason.MALFORMED, "Extension: bad extnID")
        critical = data[oid_stop] == der.BOOLEAN
        value_at = oid_stop + 3 if critical else oid_stop
        if critical and data[oid_stop:value_at] != _CRITICAL:
            raise MalformedInput(Reason.MALFORMED, "Extension: bad critical flag or extnValue")
        length = data[value_at + 1] if value_at + 3 <= ext_stop else 0x80
        if length < 0x80:
            value_start = value_at + 2
        elif length == 0x81:
            value_start, length = value_at + 3, data[value_at + 2]
        else:
            _, value_start, value_stop = der.read_tlv(data, value_at, ext_stop)
            length = value_stop - value_start
        if data[value_at] != der.OCTET_STRING or value_start + length != ext_stop:
            raise MalformedInput(Reason.MALFORMED, "Extension: bad critical flag or extnValue")
        oid = data[ext_start + 2 : oid_stop]
        if oid in found:
            raise MalformedInput(Reason.MALFORMED, "duplicate extension")
        found[oid] = (critical, data[value_start:ext_stop])
        if oid == SUBJECT_KEY_IDENTIFIER:
            identifier_at = value_start
        position = ext_stop
    return found, identifier_at
