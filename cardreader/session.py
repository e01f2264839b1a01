"""JPKI flows over a :class:`~cardreader.apdu.Transport` (jpki-card-and-certs.md §5 steps 1-4).

:class:`JpkiSession` runs the individual operations on one transport and remembers the current EF to
avoid redundant SELECTs. The module functions are the high-level flows; run each inside one exclusive
PC/SC session (:func:`cardreader.pcsc.open_card`) so that no other application can change the card's
current file or security state between their APDUs:

* :func:`read_info` — token type, certificates present, tries left of both PINs (no try spent);
* :func:`read_certificate` — one of the four certificates (the signing one needs the signing password);
* :func:`sign` — VERIFY then COMPUTE DIGITAL SIGNATURE over SHA-256, returning :class:`CardEvidence`;
* :func:`sign_many` — one VERIFY of the signing password, then several COMPUTE DIGITAL SIGNATUREs (documents).

PIN rules: the tries are read before the PIN is sent; a blocked PIN is never sent; with one try left the
PIN is sent only with ``confirm_last_try=True``; a VERIFY is never retried; the :class:`Pin` is wiped when
the call returns, whatever the outcome.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from cardreader import jpki
from cardreader.apdu import SW, Command, Response, Transport, transceive
from cardreader.errors import (
    CertificateAbsent,
    LastTryNeedsConfirmation,
    MalformedResponse,
    NotJpkiCard,
    PinBlocked,
    SecurityStatusNotSatisfied,
)
from cardreader.evidence import CardEvidence
from cardreader.jpki import EF, CertificateKind, CertificatesPresent, Key, PinStatus, TokenInfo, TokenType
from cardreader.pin import Pin
from keys.errors import VerificationError
from keys.limits import DEFAULT_LIMITS, Limits
from keys.signatures import digest_info_sha256
from keys.trust import parse_certificate


@dataclass(frozen=True, slots=True)
class CardInfo:
    """What :func:`read_info` reports. ``sign_pin`` is ``None`` when the card has no signing certificate."""

    token: TokenInfo
    certificates: CertificatesPresent
    auth_pin: PinStatus
    sign_pin: PinStatus | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "token_type": self.token.type.value,
            "token_label": self.token.label,
            "certificates": {"auth": self.certificates.auth, "sign": self.certificates.sign},
            "auth_pin": _status_dict(self.auth_pin),
            "sign_pin": None if self.sign_pin is None else _status_dict(self.sign_pin),
        }


def _status_dict(status: PinStatus) -> dict[str, object]:
    return {"tries_left": status.tries_left, "verified": status.verified, "blocked": status.blocked}


class JpkiSession:
    """The JPKI application on one transport. Selects the AP on first use and never any other AP."""

    def __init__(self, transport: Transport, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self._transport = transport
        self._limits = limits
        self._selected = False
        self._current: EF | None = None

    def _exchange(self, command: Command) -> Response:
        return transceive(self._transport, command)

    def select_application(self) -> None:
        """SELECT the JPKI AP (once per session); a card without it raises :class:`NotJpkiCard`."""
        if self._selected:
            return
        response = self._exchange(jpki.select_application())
        if response.sw == SW.FILE_NOT_FOUND:
            raise NotJpkiCard(sw=response.sw)
        jpki.check(response)
        self._selected, self._current = True, None

    def select_file(self, ef: EF) -> None:
        """SELECT ``ef`` unless it is already the current EF."""
        self.select_application()
        if self._current == ef:
            return
        self._current = None
        jpki.check(self._exchange(jpki.select_file(ef)))
        self._current = ef

    def read_token_info(self) -> TokenInfo:
        """Token type from the label at the start of EF 0006."""
        self.select_file(EF.TOKEN_INFO)
        return jpki.parse_token_info(self._read_exact(0, jpki.TOKEN_LABEL_LENGTH))

    def read_certificates_present(self) -> CertificatesPresent:
        """EF 0008: which end-entity certificates the card carries."""
        self.select_file(EF.CERTIFICATES_PRESENT)
        return jpki.parse_certificates_present(self._read_exact(0, jpki.CERTIFICATES_PRESENT_LENGTH))

    def read_certificate(self, kind: CertificateKind) -> bytes:
        """Read one certificate trimmed to its DER length and check that it parses (§1.3).

        The first READ BINARY asks for a full chunk (Le = 00) and its DER header gives the length; the
        following chunks stop exactly at that length. The signing certificate needs the signing password
        verified first (the card answers 6982 otherwise).
        """
        self.select_file(kind.ef)
        first = self._read(0, jpki.CHUNK)
        total = jpki.certificate_length(first, self._limits.certificate_bytes)
        data = bytearray(first[:total])
        while len(data) < total:
            data += self._read_exact(len(data), min(jpki.CHUNK, total - len(data)))
        der = bytes(data)
        try:
            parse_certificate(der, self._limits)
        except VerificationError as exc:
            raise MalformedResponse(f"{kind.value} certificate: {exc.detail}") from None
        return der

    def pin_status(self, key: Key) -> PinStatus:
        """Tries left for ``key``'s PIN through an empty VERIFY (no try is spent)."""
        self.select_file(key.pin_ef)
        return jpki.pin_status(self._exchange(jpki.verify()))

    def verify(self, pin: Pin, *, confirm_last_try: bool = False) -> None:
        """VERIFY ``pin`` once, after checking the tries left; the PIN is wiped on return (§1.4).

        Raises :class:`PinBlocked` without sending when no try is left, and
        :class:`LastTryNeedsConfirmation` without sending when one is left and ``confirm_last_try`` is
        false. A wrong PIN raises :class:`PinIncorrect` (or :class:`PinBlocked` on the blocking attempt).
        """
        try:
            status = self.pin_status(pin.key)
            if status.blocked:
                raise PinBlocked("no try left; the PIN was not sent")
            if status.tries_left == 1 and not confirm_last_try:
                raise LastTryNeedsConfirmation()
            response = self._exchange(jpki.verify(pin.reference_data()))
        finally:
            pin.wipe()
        jpki.check(response)

    def compute_signature(self, key: Key, digest_info: bytes) -> bytes:
        """COMPUTE DIGITAL SIGNATURE with ``key`` over ``digest_info`` (its PIN must be verified)."""
        self.select_file(key.key_ef)
        return jpki.check(self._exchange(jpki.compute_signature(digest_info)))

    def _read(self, offset: int, length: int) -> bytes:
        response = self._exchange(jpki.read_binary(offset, length))
        if response.sw in (SW.WRONG_P1P2, 0x6282):
            # 6B00: offset past the end; 6282: end of file before Le bytes (ISO 7816-4 §11.1.3).
            if response.sw == SW.WRONG_P1P2 or not response.data:
                raise MalformedResponse("the file ends before the expected length", sw=response.sw)
            return response.data
        return jpki.check(response)

    def _read_exact(self, offset: int, length: int) -> bytes:
        data = self._read(offset, length)
        if len(data) < length:
            raise MalformedResponse(f"short read: {len(data)} of {length} bytes at offset {offset}")
        return data[:length]


def read_info(transport: Transport, *, limits: Limits = DEFAULT_LIMITS) -> CardInfo:
    """Token type, certificates present and the tries left of both PINs (no try is spent)."""
    session = JpkiSession(transport, limits=limits)
    token = session.read_token_info()
    present = session.read_certificates_present()
    auth_pin = session.pin_status(Key.AUTH)
    sign_pin = session.pin_status(Key.SIGN) if present.sign else None
    return CardInfo(token, present, auth_pin, sign_pin)


def read_certificate(
    transport: Transport,
    kind: CertificateKind,
    *,
    pin: Pin | None = None,
    confirm_last_try: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """Read one certificate (DER). The token type is read first: a certificate its rules protect
    (:meth:`~cardreader.jpki.TokenType.certificate_pin`: the signing certificate; on Android also the
    authentication certificate) needs ``pin``, and its presence is checked in EF 0008 before the PIN is sent.
    On a token whose rules are assumed, a free read answered with 6982 is retried after VERIFY only when the
    caller gave the right PIN; otherwise :class:`SecurityStatusNotSatisfied` is raised and no try is spent."""
    session = JpkiSession(transport, limits=limits)
    try:
        token = session.read_token_info()
        required = token.type.certificate_pin(kind)
        if required is not None:
            if pin is None or pin.key is not required:
                raise ValueError(f"reading the {kind.value} certificate on this token needs the {required.value} PIN")
            _require_certificate(session, required)
            session.verify(pin, confirm_last_try=confirm_last_try)
            return session.read_certificate(kind)
        try:
            return session.read_certificate(kind)
        except SecurityStatusNotSatisfied:
            key = _key_of(kind)
            if token.type.rules_confirmed or key is None or pin is None or pin.key is not key:
                raise
        session.verify(pin, confirm_last_try=confirm_last_try)
        return session.read_certificate(kind)
    finally:
        if pin is not None:
            pin.wipe()


def pin_needed_to_read(transport: Transport, kind: CertificateKind) -> Key | None:
    """The PIN the token behind ``transport`` needs before ``kind`` can be read (reads EF 0006 only)."""
    return JpkiSession(transport).read_token_info().type.certificate_pin(kind)


def sign(
    transport: Transport,
    key: Key,
    message: bytes,
    pin: Pin,
    *,
    prehashed: bool = False,
    confirm_last_try: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> CardEvidence:
    """Sign ``message`` (or, with ``prehashed``, a 32-byte SHA-256 digest) with ``key`` and return it with
    the certificate read in the same session (§5 step 4).

    Order: SELECT AP; read the token type (EF 0006); when the token protects the key's certificate (the
    signing certificate; on Android also the authentication one) check EF 0008, VERIFY, then read it;
    otherwise read the certificate, then VERIFY; SELECT the key EF; ``80 2A``. The signature length is
    checked against the certificate's modulus.
    """
    if pin.key is not key:
        pin.wipe()
        raise ValueError(f"signing with the {key.value} key needs the {key.value} PIN")
    digest = message if prehashed else hashlib.sha256(message).digest()
    if len(digest) != 32:
        pin.wipe()
        raise ValueError("a prehashed message must be a 32-byte SHA-256 digest")
    session = JpkiSession(transport, limits=limits)
    try:
        token = session.read_token_info().type
        if token.certificate_pin(key.certificate) is key:
            _require_certificate(session, key)
            session.verify(pin, confirm_last_try=confirm_last_try)
            certificate = session.read_certificate(key.certificate)
        else:
            certificate = _read_then_verify(session, token, key, pin, confirm_last_try)
    finally:
        pin.wipe()
    signature = session.compute_signature(key, digest_info_sha256(digest))
    public_key = parse_certificate(certificate, limits).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey) or len(signature) != (public_key.key_size + 7) // 8:
        raise MalformedResponse(f"signature of {len(signature)} bytes does not fit the certificate's key")
    return CardEvidence(key, certificate, digest, signature, token)


def _read_then_verify(session: JpkiSession, token: TokenType, key: Key, pin: Pin, confirm_last_try: bool) -> bytes:
    """Read ``key``'s free certificate, then VERIFY. On a token whose rules are assumed (iPhone, unknown), a
    6982 on the read means the certificate is protected after all: VERIFY (the signature needs it anyway, so no
    try is spent that was not needed), then read again."""
    try:
        certificate = session.read_certificate(key.certificate)
    except SecurityStatusNotSatisfied:
        if token.rules_confirmed:
            raise
        session.verify(pin, confirm_last_try=confirm_last_try)
        return session.read_certificate(key.certificate)
    session.verify(pin, confirm_last_try=confirm_last_try)
    return certificate


def _key_of(kind: CertificateKind) -> Key | None:
    return {CertificateKind.AUTH: Key.AUTH, CertificateKind.SIGN: Key.SIGN}.get(kind)


def sign_many(
    transport: Transport,
    pin: Pin,
    build: Callable[[bytes], Sequence[bytes]],
    *,
    confirm_last_try: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[bytes, tuple[bytes, ...], TokenType]:
    """Sign several DigestInfos with the SIGNING key after ONE password entry, in one session: read the token
    type (EF 0006), check EF 0008, VERIFY (the PIN rules of :meth:`JpkiSession.verify`), read the signing
    certificate (protected on every token, so after the PIN), then ``80 2A`` over each DigestInfo
    ``build(certificate)`` returns (the caller builds them from the certificate: CMS signed attributes name it).
    Returns the certificate, the signatures in order (each checked against the key's length) and the token type.
    A card pulled midway raises from the transport: the caller gets nothing."""
    if pin.key is not Key.SIGN:
        pin.wipe()
        raise ValueError("signing documents needs the signing password")
    session = JpkiSession(transport, limits=limits)
    try:
        token = session.read_token_info().type
        _require_certificate(session, Key.SIGN)
        session.verify(pin, confirm_last_try=confirm_last_try)
    finally:
        pin.wipe()
    certificate = session.read_certificate(Key.SIGN.certificate)
    public_key = parse_certificate(certificate, limits).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise MalformedResponse("the signing certificate's key is not RSA")
    signatures = []
    for digest_info in build(certificate):
        signature = session.compute_signature(Key.SIGN, digest_info)
        if len(signature) != (public_key.key_size + 7) // 8:
            raise MalformedResponse(f"signature of {len(signature)} bytes does not fit the certificate's key")
        signatures.append(signature)
    return certificate, tuple(signatures), token


def _require_certificate(session: JpkiSession, key: Key) -> None:
    present = session.read_certificates_present()
    if not (present.sign if key is Key.SIGN else present.auth):
        raise CertificateAbsent(f"EF 0008 lists no {key.value} certificate")


__all__ = ["CardInfo", "JpkiSession", "pin_needed_to_read", "read_certificate", "read_info", "sign", "sign_many"]
