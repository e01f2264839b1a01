"""Reader choice (virtual readers only in test mode) and the PC/SC result-code table, without pcscd."""

from __future__ import annotations

import pytest

from cardreader.errors import (
    CardError,
    CardRemoved,
    CardReset,
    CardTimeout,
    NoCard,
    NoReader,
    PcscError,
    PcscUnavailable,
    ReaderBusy,
    ReaderRefused,
)
from cardreader.pcsc import TEST_MODE_ENV, choose_reader, error_for, in_test_mode

READERS = ["Virtual PCD 00 00", "Virtual PCD 00 01", "SONY FeliCa Port/PaSoRi 4.0 (0123) 00 00"]


def test_virtual_readers_are_skipped_outside_test_mode() -> None:
    assert choose_reader(READERS, test_mode=False).startswith("SONY")
    assert choose_reader(READERS, test_mode=True) == "Virtual PCD 00 00"


def test_choosing_a_virtual_reader_by_name_needs_test_mode() -> None:
    with pytest.raises(ReaderRefused, match=TEST_MODE_ENV):
        choose_reader(READERS, "Virtual PCD 00 01", test_mode=False)
    assert choose_reader(READERS, "Virtual PCD 00 01", test_mode=True) == "Virtual PCD 00 01"
    with pytest.raises(ReaderRefused):
        choose_reader(READERS[:2], test_mode=False)


def test_names_match_exactly_or_by_part() -> None:
    assert choose_reader(READERS, "pasori", test_mode=False) == READERS[2]
    with pytest.raises(NoReader, match="no reader matches"):
        choose_reader(READERS, "ACS ACR122", test_mode=True)
    with pytest.raises(NoReader):
        choose_reader([], test_mode=True)


def test_test_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_MODE_ENV, raising=False)
    assert not in_test_mode(None)
    monkeypatch.setenv(TEST_MODE_ENV, "1")
    assert in_test_mode(None)
    assert not in_test_mode(False)
    monkeypatch.setenv(TEST_MODE_ENV, "yes")
    assert not in_test_mode(None)


@pytest.mark.parametrize(("code", "error"), [
    (0x8010001D, PcscUnavailable),  # SCARD_E_NO_SERVICE: pcscd not running
    (0x8010001E, PcscUnavailable),  # SCARD_E_SERVICE_STOPPED
    (0x80100013, PcscUnavailable),  # SCARD_F_COMM_ERROR: pcscd died during the call
    (0x8010002E, NoReader),  # SCARD_E_NO_READERS_AVAILABLE
    (0x80100009, NoReader),  # SCARD_E_UNKNOWN_READER
    (0x80100017, NoReader),  # SCARD_E_READER_UNAVAILABLE
    (0x8010000C, NoCard),  # SCARD_E_NO_SMARTCARD
    (0x80100069, CardRemoved),  # SCARD_W_REMOVED_CARD
    (0x80100016, CardRemoved),  # SCARD_E_NOT_TRANSACTED: removed between APDUs
    (0x80100067, CardRemoved),  # SCARD_W_UNPOWERED_CARD
    (0x80100068, CardReset),  # SCARD_W_RESET_CARD: another application reset the card
    (0x8010000B, ReaderBusy),  # SCARD_E_SHARING_VIOLATION
    (0x80100066, CardTimeout),  # SCARD_W_UNRESPONSIVE_CARD
    (0x8010000A, CardTimeout),  # SCARD_E_TIMEOUT
    (0x80100003, PcscError),  # SCARD_E_INVALID_HANDLE: no better meaning
    (-2146435043, PcscUnavailable),  # the same code as a signed 32-bit value
])
def test_result_codes(code: int, error: type[CardError]) -> None:
    mapped = error_for(code, "SCardTransmit")
    assert type(mapped) is error
    assert mapped.detail == f"SCardTransmit: 0x{code & 0xFFFFFFFF:08X}"
    assert mapped.message
    assert mapped.message_ja
