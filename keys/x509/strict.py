"""Structural checks that pyca/cryptography's verifier does not make, applied to every certificate of a
path whatever the profile (RFC 5280 §4.1.2.2 serial numbers, §4.2 extension rules).

Each check raises :class:`~keys.errors.UntrustedCertificate` or :class:`~keys.errors.MalformedInput` with
a reason; returning means the certificate passed.
"""

from __future__ import annotations

from cryptography import x509

from keys.errors import MalformedInput, Reason, UntrustedCertificate

#: RFC 5280 §4.1.2.2: conforming CAs use serials of at most 20 octets.
MAX_SERIAL_OCTETS = 20


def check_certificate(cert: x509.Certificate, *, is_leaf: bool) -> None:
    """Run every structural check on ``cert`` (a leaf when ``is_leaf``, else a CA or anchor)."""
    check_serial(cert)
    try:
        cert.extensions  # noqa: B018 -- parsing the extensions raises on duplicates and bad encodings
    except (ValueError, x509.DuplicateExtension) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad extensions: {exc}") from None


def check_serial(cert: x509.Certificate) -> None:
    """RFC 5280 §4.1.2.2: the serial number is a positive integer of at most 20 octets."""
    serial = cert.serial_number
    if serial <= 0:
        raise UntrustedCertificate(Reason.MALFORMED, "serial number is not positive")
    if (serial.bit_length() + 8) // 8 > MAX_SERIAL_OCTETS:
        raise UntrustedCertificate(Reason.MALFORMED, "serial number is longer than 20 octets")
