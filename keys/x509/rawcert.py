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

_EXPLICIT_0, _EXPLICIT_3 = 0xA0, 0xA3
#: DER of BOOLEAN TRUE; DER encodes a FALSE critical flag by omitting it (X.690 §11.5).
_CRITICAL = b"\x01\x01\xff"
_IMPLICIT_0, _UNIQUE_ID_1, _UNIQUE_ID_2, _CRL_ISSUER = 0x80, 0x81, 0x82, 0xA2


@dataclass(frozen=True, slots=True)
class RawCertificate:
    """Serial, issuer DER and raw extension values of one certificate."""

    #: The whole certificate as DER, as it was read.
    der: bytes
    serial_number: int
    issuer_der: bytes
    #: OID contents -> (critical, extnValue contents).
    extensions: dict[bytes, tuple[bool, bytes]]

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
        """The keyIdentifier of authorityKeyIdentifier (RFC 5280 §4.2.1.1), or ``None``."""
        first = self._first_element(AUTHORITY_KEY_IDENTIFIER, "authorityKeyIdentifier")
        return first[1] if first is not None and first[0] == _IMPLICIT_0 else None

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
    cert_start, cert_stop = der.expect(data, 0, end, der.SEQUENCE, "Certificate")
    if cert_stop != end:
        raise MalformedInput(Reason.MALFORMED, "trailing data after the certificate")
    tbs_start, tbs_stop = der.expect(data, cert_start, cert_stop, der.SEQUENCE, "TBSCertificate")
    tag, start, stop = der.read_tlv(data, tbs_start, tbs_stop)
    if tag == _EXPLICIT_0:  # version
        tag, start, stop = der.read_tlv(data, stop, tbs_stop)
    if tag != der.INTEGER or start == stop:
        raise MalformedInput(Reason.MALFORMED, "TBSCertificate: no serial number")
    serial = int.from_bytes(data[start:stop], "big", signed=True)
    _, _, position = der.read_tlv(data, stop, tbs_stop)  # signature AlgorithmIdentifier
    issuer_start = position
    _, issuer_stop = der.expect(data, position, tbs_stop, der.SEQUENCE, "issuer")
    position = issuer_stop
    for _ in range(3):  # validity, subject, subjectPublicKeyInfo
        _, _, position = der.read_tlv(data, position, tbs_stop)
    extensions: dict[bytes, tuple[bool, bytes]] = {}
    while position < tbs_stop:
        tag, start, stop = der.read_tlv(data, position, tbs_stop)
        if tag == _EXPLICIT_3:
            extensions = _extensions(data, start, stop)
        elif tag not in (_UNIQUE_ID_1, _UNIQUE_ID_2):
            raise MalformedInput(Reason.MALFORMED, f"TBSCertificate: unexpected tag 0x{tag:02x}")
        position = stop
    return RawCertificate(data, serial, data[issuer_start:issuer_stop], extensions)


def _extensions(data: bytes, start: int, stop: int) -> dict[bytes, tuple[bool, bytes]]:
    """The Extensions list (RFC 5280 §4.1.2.9). Each Extension is read with at most two bounded TLV reads, and
    none when its SEQUENCE and extnValue headers are in the short form (under 128 octets, the usual case): those
    headers, the extnID (an OID shorter than 128 octets, so its length is one octet) and the critical BOOLEAN
    are read in place, with the same bounds :func:`keys.der.read_tlv` checks."""
    list_start, list_stop = der.expect(data, start, stop, der.SEQUENCE, "Extensions")
    found: dict[bytes, tuple[bool, bytes]] = {}
    position = list_start
    while position < list_stop:
        if data[position] == der.SEQUENCE and position + 2 <= list_stop and data[position + 1] < 0x80:
            ext_start = position + 2
            ext_stop = ext_start + data[position + 1]
            if ext_stop > list_stop:
                raise MalformedInput(Reason.MALFORMED, "DER element overruns its container")
        else:
            ext_start, ext_stop = der.expect(data, position, list_stop, der.SEQUENCE, "Extension")
        oid_stop = ext_start + 2 + (data[ext_start + 1] if ext_start + 2 <= ext_stop else 0)
        if data[ext_start] != der.OBJECT_IDENTIFIER or data[ext_start + 1] & 0x80 or oid_stop >= ext_stop:
            raise MalformedInput(Reason.MALFORMED, "Extension: bad extnID")
        critical = data[oid_stop : oid_stop + 3] == _CRITICAL
        value_at = oid_stop + 3 if critical else oid_stop
        if value_at + 2 <= ext_stop and data[value_at + 1] < 0x80:
            tag, value_start = data[value_at], value_at + 2
            value_stop = value_start + data[value_at + 1]
        else:
            tag, value_start, value_stop = der.read_tlv(data, value_at, ext_stop)
        if tag != der.OCTET_STRING or value_stop != ext_stop:
            raise MalformedInput(Reason.MALFORMED, "Extension: bad critical flag or extnValue")
        oid = data[ext_start + 2 : oid_stop]
        if oid in found:
            raise MalformedInput(Reason.MALFORMED, "duplicate extension")
        found[oid] = (critical, data[value_start:value_stop])
        position = ext_stop
    return found
