"""PINs that never print: :class:`Pin` holds the reference data in a ``bytearray`` that is wiped as soon as
the VERIFY command has been sent (the session consumes it), and it refuses every way of being shown or
copied by accident (``repr``/``str``/``format`` give ``<pin>``; pickling and comparison are refused).

Local format checks (jpki-card-and-certs.md §1.4), made before anything is sent so a typo never spends a
try:

* authentication PIN (利用者証明用): exactly 4 ASCII digits;
* signing password (署名用): 6-16 ASCII letters and digits, upper-cased before sending (the card stores
  upper case; lower case would spend a try).
"""

from __future__ import annotations

from typing import NoReturn

from cardreader.errors import PinFormatError
from cardreader.jpki import Key

_DIGITS = frozenset(b"0123456789")
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class Pin:
    """The reference data of one key's PIN, valid for one VERIFY.

    ``secret`` may be a ``str`` (interactive input) or a ``bytearray`` (read from a file descriptor: the
    caller's buffer is wiped here after copying). A format error raises :class:`PinFormatError`, whose
    message never contains the input.
    """

    __slots__ = ("_buffer", "key")

    def __init__(self, key: Key, secret: str | bytearray) -> None:
        self.key = key
        if isinstance(secret, str):
            try:
                buffer = bytearray(secret, "ascii")
            except UnicodeEncodeError:
                raise PinFormatError(signing=key is Key.SIGN) from None
        else:
            buffer = bytearray(secret)
            secret[:] = bytes(len(secret))
        if not _valid(key, buffer):
            buffer[:] = bytes(len(buffer))
            raise PinFormatError(signing=key is Key.SIGN)
        if key is Key.SIGN:
            buffer[:] = buffer.upper()
        self._buffer = buffer

    @property
    def wiped(self) -> bool:
        """True once the PIN has been used (or wiped explicitly)."""
        return not self._buffer

    def reference_data(self) -> bytearray:
        """The bytes for the VERIFY data field (the live buffer, wiped by :meth:`wipe`)."""
        if self.wiped:
            raise ValueError("this PIN was already used; ask the holder again")
        return self._buffer

    def wipe(self) -> None:
        """Overwrite and drop the reference data."""
        self._buffer[:] = bytes(len(self._buffer))
        self._buffer.clear()

    def __repr__(self) -> str:
        return "<pin>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "<pin>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a PIN cannot be pickled")

    def __eq__(self, other: object) -> bool:
        raise TypeError("PINs are not comparable")

    __hash__ = None  # type: ignore[assignment]

    def __del__(self) -> None:
        if hasattr(self, "_buffer"):
            self.wipe()


def _valid(key: Key, data: bytearray) -> bool:
    if key is Key.AUTH:
        return len(data) == 4 and all(b in _DIGITS for b in data)
    return 6 <= len(data) <= 16 and all(b in _ALNUM for b in data)


__all__ = ["Pin"]
