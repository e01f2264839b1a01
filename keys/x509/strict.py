"""Structural checks that pyca/cryptography's verifier does not make, applied to every certificate of a
path whatever the profile (RFC 5280 §4.1.2.2 serial numbers, §4.2 extension rules, and the CA/Browser
Forum Baseline Requirements rules that do not contradict RFC 5280 or the JPKI profile).

Each check raises :class:`~keys.errors.UntrustedCertificate` or :class:`~keys.errors.MalformedInput` with
a reason; returning means the certificate passed. The checks are written so that a real JPKI chain
passes: the root has a subjectKeyIdentifier and no authorityKeyIdentifier, the card certificate an
authorityKeyIdentifier (keyIdentifier, authorityCertIssuer and authorityCertSerialNumber) and no
DNS/IP subjectAltName.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from keys.errors import MalformedInput, Reason, UntrustedCertificate
from keys.trust import extension_value

#: RFC 5280 §4.1.2.2: conforming CAs use serials of at most 20 octets.
MAX_SERIAL_OCTETS = 20

#: RFC 5280 extensions that conforming CAs MUST mark critical and that pyca does not check for that.
_MUST_BE_CRITICAL: dict[type[x509.ExtensionType], str] = {
    x509.PolicyConstraints: "RFC 5280 §4.2.1.11",
    x509.InhibitAnyPolicy: "RFC 5280 §4.2.1.14",
}



#: What cryptography raises when it meets a malformed name, key or extension that it decodes lazily (on first
#: access, long after loading). TypeError: a name attribute of a string type its OID does not allow.
LAZY_DECODING_ERRORS = (
    ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.UnsupportedGeneralNameType
)


def check_certificate(cert: x509.Certificate, *, is_leaf: bool, is_anchor: bool = False) -> None:
    """Run every structural check on ``cert``: a leaf when ``is_leaf``, the path's trust anchor when
    ``is_anchor``, else an intermediate CA."""
    check_extensions(cert)
    if not is_anchor:
        check_serial(cert)
    check_required_criticality(cert)
    check_key_identifiers(cert, is_leaf=is_leaf)
    check_rsa_modulus(cert)
    if is_leaf:
        check_common_name(cert)


def check_extensions(cert: x509.Certificate) -> None:
    """RFC 5280 §4.2: the extensions parse, each at most once, each well-formed (X.509 §9.2.2.1 also
    requires authorityCertIssuer and authorityCertSerialNumber to appear together)."""
    try:
        cert.extensions  # noqa: B018 -- parsing the extensions raises on duplicates and bad encodings
    except (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad extensions: {exc}") from None


def check_serial(cert: x509.Certificate) -> None:
    """RFC 5280 §4.1.2.2: the serial number is a positive integer of at most 20 octets.

    Not applied to the trust anchor: RFC 5280 §6.1.1(d) takes only the anchor's name and key as input,
    and widely trusted roots carry serial 0 (Starfield Root Certificate Authority - G2).
    """
    check_serial_number(cert.serial_number)


def check_serial_number(serial: int) -> None:
    """:func:`check_serial` on the serial number itself."""
    if serial <= 0:
        raise UntrustedCertificate(Reason.MALFORMED, "serial number is not positive")
    if (serial.bit_length() + 8) // 8 > MAX_SERIAL_OCTETS:
        raise UntrustedCertificate(Reason.MALFORMED, "serial number is longer than 20 octets")


def check_required_criticality(cert: x509.Certificate) -> None:
    """RFC 5280 §4.2.1.11 and §4.2.1.14: policyConstraints and inhibitAnyPolicy MUST be critical.

    pyca refuses them when critical (it does no policy processing), so a CA certificate carrying either
    never validates: a non-critical one would otherwise be ignored silently.
    """
    for ext in cert.extensions:
        section = _MUST_BE_CRITICAL.get(type(ext.value))
        if section is not None and not ext.critical:
            raise UntrustedCertificate(Reason.MALFORMED, f"{ext.oid.dotted_string} must be critical ({section})")


def check_key_identifiers(cert: x509.Certificate, *, is_leaf: bool) -> None:
    """Key identifiers, which path construction relies on.

    * RFC 5280 §4.2.1.2: subjectKeyIdentifier MUST appear in every CA certificate (basicConstraints cA).
    * RFC 5280 §4.2.1.1: authorityKeyIdentifier with keyIdentifier MUST appear in every certificate
      except a self-signed one. (A leaf without the extension is left to pyca's end-entity policy, which
      refuses it; pyca does not check CA certificates for it, nor the keyIdentifier field.)
    * CA/B Forum BR §7.1.2.1.3 (and RFC 5280 §4.2.1.1, the authority key of a self-signed certificate is
      its own key): a self-signed certificate's AKI, if present, has a keyIdentifier equal to its
      subjectKeyIdentifier and no authorityCertIssuer/authorityCertSerialNumber.
    """
    bc = extension_value(cert, x509.BasicConstraints)
    ski = extension_value(cert, x509.SubjectKeyIdentifier)
    if bc is not None and bc.ca and ski is None:
        raise UntrustedCertificate(Reason.MALFORMED, "CA certificate without subjectKeyIdentifier")
    aki = extension_value(cert, x509.AuthorityKeyIdentifier)
    if not is_self_signed(cert):
        if (aki is None and not is_leaf) or (aki is not None and aki.key_identifier is None):
            raise UntrustedCertificate(Reason.MALFORMED, "authorityKeyIdentifier keyIdentifier is missing")
        return
    if aki is None:
        return
    if aki.authority_cert_issuer is not None or aki.authority_cert_serial_number is not None:
        raise UntrustedCertificate(Reason.MALFORMED, "self-signed certificate names an authority certificate")
    if aki.key_identifier is None or ski is None or aki.key_identifier != ski.digest:
        raise UntrustedCertificate(Reason.MALFORMED, "self-signed certificate's AKI differs from its SKI")


def check_rsa_modulus(cert: x509.Certificate) -> None:
    """CA/B Forum BR §6.1.5: an RSA modulus size in bits is divisible by 8."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return  # not an RSA key we could read; the key-type allow-lists reject what they do not know
    if isinstance(key, rsa.RSAPublicKey) and key.key_size % 8:
        raise UntrustedCertificate(Reason.WEAK_KEY, f"RSA modulus of {key.key_size} bits is not a whole octet count")


def check_common_name(cert: x509.Certificate) -> None:
    """CA/B Forum BR §7.1.4.3 (RFC 6125 §6.4.4): when the subjectAltName names hosts (dNSName or
    iPAddress), a subject commonName must be one of them, character for character (DNS names as in the
    SAN, IPv4 dotted-decimal per RFC 3986 §3.2.2, IPv6 per RFC 5952 §4). A client that falls back to the
    CN would otherwise see a name the CA never validated.

    Certificates without host names in the SAN (JPKI card certificates) are not concerned.
    """
    san = extension_value(cert, x509.SubjectAlternativeName)
    if san is None:
        return
    hosts = set(san.get_values_for_type(x509.DNSName))
    hosts.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    if not hosts:
        return
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        cn = attribute.value if isinstance(attribute.value, str) else attribute.value.decode("latin-1")
        if cn not in hosts:
            raise UntrustedCertificate(Reason.NAME_MISMATCH, "subject commonName is not one of the SAN host names")


def is_self_signed(cert: x509.Certificate) -> bool:
    """True when the signature of ``cert`` verifies with the public key ``cert`` itself certifies.

    RFC 5280 §3.3 also asks a self-signed certificate to be self-issued (issuer name = subject name);
    the key identifier rules (§4.2.1.1) are about keys, so the key decides here.
    """
    try:
        key = cert.public_key()
        params = cert.signature_algorithm_parameters
        signature, tbs = cert.signature, cert.tbs_certificate_bytes
        if isinstance(key, rsa.RSAPublicKey) and isinstance(params, padding.PKCS1v15 | padding.PSS):
            digest = cert.signature_hash_algorithm
            if digest is None:
                return False
            key.verify(signature, tbs, params, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(params, ec.ECDSA):
            key.verify(signature, tbs, params)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) and params is None:
            key.verify(signature, tbs)
        else:
            return False
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


