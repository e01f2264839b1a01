"""The real PC/SC stack (pcsc-lite / WinSCard through pyscard): reader choice, exclusive access with our own
time limits, and the mapping of every PC/SC result code to a typed :mod:`cardreader.errors` error.

This is the only module that imports pyscard. It uses the low-level ``smartcard.scard`` API so that the
result codes of pcsc-virtual-card.md ("pyscard behaviour in failure cases") are seen directly:

============================  ==========================  ==========================================
situation                     result code                 error
============================  ==========================  ==========================================
pcscd not running / gone      0x8010001D, 0x8010001E,     :class:`PcscUnavailable`
                              0x80100013
no reader / unknown reader    0x8010002E, 0x80100009,     :class:`NoReader`
                              0x80100017
no card                       0x8010000C                  :class:`NoCard`
card removed                  0x80100069, 0x80100016,     :class:`CardRemoved`
                              0x80100067, or an empty
                              response with 0x0 (pulled
                              in the middle of an APDU)
card reset by another app     0x80100068                  :class:`CardReset`
reader held by another app    0x8010000B                  :class:`ReaderBusy`
card mute / our time limit    0x80100066, 0x8010000A      :class:`CardTimeout`
============================  ==========================  ==========================================

Every multi-APDU flow runs inside one :func:`open_card` session: an EXCLUSIVE handle (a busy reader fails
at once, or after ``wait`` seconds of retrying), or a SHARED handle inside ``SCardBeginTransaction``, which
pcsc-lite lets wait forever, so we bound it with ``wait``. Every PC/SC call runs on a private daemon thread
so that a card or daemon that stops answering costs at most ``apdu_timeout`` seconds, never a hang. On
close the card is reset, so no verified PIN state outlives the session.

Readers whose name contains "Virtual PCD" (vsmartcard's vpcd driver: anyone who can reach its TCP port can
insert a card) are refused unless test mode is on (``test_mode=True`` or ``MYNACARD_TEST_MODE=1``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from smartcard import scard

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

log = logging.getLogger("cardreader.pcsc")

TEST_MODE_ENV = "MYNACARD_TEST_MODE"
VIRTUAL_READER_MARK = "Virtual PCD"
#: Default bound on one PC/SC call; a real card signs with RSA-2048 in well under a second.
DEFAULT_APDU_TIMEOUT = 5.0
_RETRY_INTERVAL = 0.05
#: Time allowed for pcscd itself (power-up, ATR) on top of ``wait`` when connecting: SCardConnect blocks,
#: without a limit of its own, while another application holds a transaction on the card.
_CONNECT_ALLOWANCE = 2.0
#: Time allowed for one round trip to pcscd on top of ``wait`` when beginning a transaction.
_IPC_ALLOWANCE = 0.25

_ERRORS: dict[int, type[CardError]] = {
    scard.SCARD_E_NO_SERVICE: PcscUnavailable,
    scard.SCARD_E_SERVICE_STOPPED: PcscUnavailable,
    scard.SCARD_F_COMM_ERROR: PcscUnavailable,
    scard.SCARD_E_NO_READERS_AVAILABLE: NoReader,
    scard.SCARD_E_UNKNOWN_READER: NoReader,
    scard.SCARD_E_READER_UNAVAILABLE: NoReader,
    scard.SCARD_E_NO_SMARTCARD: NoCard,
    scard.SCARD_W_REMOVED_CARD: CardRemoved,
    scard.SCARD_E_NOT_TRANSACTED: CardRemoved,
    scard.SCARD_W_UNPOWERED_CARD: CardRemoved,
    scard.SCARD_W_RESET_CARD: CardReset,
    scard.SCARD_E_SHARING_VIOLATION: ReaderBusy,
    scard.SCARD_W_UNRESPONSIVE_CARD: CardTimeout,
    scard.SCARD_E_TIMEOUT: CardTimeout,
}


class Access(StrEnum):
    """How a session keeps other applications away from the card."""

    EXCLUSIVE = "exclusive"
    TRANSACTION = "transaction"


def in_test_mode(test_mode: bool | None = None) -> bool:
    """``test_mode`` if given, else whether ``MYNACARD_TEST_MODE=1`` is set."""
    return test_mode if test_mode is not None else os.environ.get(TEST_MODE_ENV) == "1"


def is_virtual_reader(name: str) -> bool:
    """True for readers of the vsmartcard vpcd driver."""
    return VIRTUAL_READER_MARK.casefold() in name.casefold()


def error_for(hresult: int, what: str) -> CardError:
    """The typed error of a PC/SC result code (``what`` names the failed call, for ``detail``)."""
    code = hresult & 0xFFFFFFFF
    detail = f"{what}: 0x{code:08X}"
    for known, error in _ERRORS.items():
        if known & 0xFFFFFFFF == code:
            return error(detail)
    return PcscError(detail)


def choose_reader(readers: Sequence[str], name: str | None = None, *, test_mode: bool | None = None) -> str:
    """Pick a reader: the exact ``name``, else the first whose name contains ``name`` (case-insensitive),
    else the first reader. Virtual readers are refused outside test mode."""
    if name:
        candidates = [r for r in readers if r == name] or [r for r in readers if name.casefold() in r.casefold()]
        if not candidates:
            raise NoReader(f"no reader matches {name!r}")
    else:
        candidates = list(readers)
        if not candidates:
            raise NoReader("no reader connected")
    allowed = [r for r in candidates if in_test_mode(test_mode) or not is_virtual_reader(r)]
    if not allowed:
        raise ReaderRefused(f"virtual reader refused outside test mode ({TEST_MODE_ENV}=1)")
    return allowed[0]


class _Worker:
    """One daemon thread that makes the PC/SC calls of one session, so that the caller can stop waiting.

    A call that overruns its time limit is abandoned: the thread stays blocked in pcsc-lite until the card
    or the daemon answers (or the process exits), and the session is marked broken.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="pcsc-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, future = job
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((fn, args, future))
        return future

    def stop(self) -> None:
        self._jobs.put(None)


class PcscConnection:
    """An open card handle: the :class:`~cardreader.apdu.Transport` of the real stack.

    Counts APDUs and bytes (``apdu_count``, ``bytes_sent``, ``bytes_received``) for the benchmark.
    Create it with :func:`open_card`.
    """

    def __init__(self, reader: str, *, apdu_timeout: float = DEFAULT_APDU_TIMEOUT) -> None:
        self.reader = reader
        self.apdu_count = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self._timeout = apdu_timeout
        self._worker = _Worker()
        self._context: int | None = None
        self._card: int | None = None
        self._pci: Any = None
        self._transaction = False
        self._broken: CardError | None = None

    # -- opening ---------------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        if self._broken is not None:
            raise type(self._broken)(f"{what}: session abandoned after an earlier failure")
        limit = self._timeout if timeout is None else timeout
        blocked = self._worker.submit(fn, *args)
        try:
            return blocked.result(limit)
        except FutureTimeout:
            self._abandon(what, blocked)
            error = CardTimeout(f"{what}: no answer within {limit:g} s")
            self._broken = error
            raise error from None

    def _establish(self) -> None:
        hresult, context = self._call("SCardEstablishContext", scard.SCardEstablishContext, scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise error_for(hresult, "SCardEstablishContext")
        self._context = context

    def list_readers(self) -> list[str]:
        """The reader names pcscd knows (empty when none is connected)."""
        hresult, readers = self._call("SCardListReaders", scard.SCardListReaders, self._context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise error_for(hresult, "SCardListReaders")
        return list(readers)

    def _connect(self, access: Access, wait: float) -> None:
        share = scard.SCARD_SHARE_EXCLUSIVE if access is Access.EXCLUSIVE else scard.SCARD_SHARE_SHARED
        protocols = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        deadline = time.monotonic() + wait
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            try:
                hresult, card, protocol = self._call(
                    "SCardConnect", scard.SCardConnect, self._context, self.reader, share, protocols,
                    timeout=remaining + _CONNECT_ALLOWANCE,
                )
            except CardTimeout:
                raise ReaderBusy(f"SCardConnect did not return within {wait:g} s (another transaction?)") from None
            if hresult == scard.SCARD_S_SUCCESS:
                break
            if hresult != scard.SCARD_E_SHARING_VIOLATION or time.monotonic() >= deadline:
                raise error_for(hresult, "SCardConnect")
            time.sleep(_RETRY_INTERVAL)
        self._card = card
        self._pci = scard.SCARD_PCI_T0 if protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        if access is Access.TRANSACTION:
            remaining = max(deadline - time.monotonic(), 0.0)
            try:
                hresult = self._call(
                    "SCardBeginTransaction", scard.SCardBeginTransaction, card, timeout=remaining + _IPC_ALLOWANCE
                )
            except CardTimeout:
                raise ReaderBusy(f"no transaction granted within {wait:g} s") from None
            if hresult == scard.SCARD_W_RESET_CARD:
                # The previous holder reset the card on leaving (as we do): harmless before our first APDU.
                hresult, _ = self._call(
                    "SCardReconnect", scard.SCardReconnect, card, share, protocols, scard.SCARD_LEAVE_CARD
                )
                if hresult == scard.SCARD_S_SUCCESS:
                    hresult = self._call("SCardBeginTransaction", scard.SCardBeginTransaction, card)
            if hresult != scard.SCARD_S_SUCCESS:
                raise error_for(hresult, "SCardBeginTransaction")
            self._transaction = True

    # -- the transport ---------------------------------------------------------------------------------

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        """Send one APDU; PC/SC failures become typed errors. An empty answer (vpcd's "no valid response"
        when the card goes away in the middle of an APDU) is :class:`CardRemoved`."""
        hresult, response = self._call("SCardTransmit", scard.SCardTransmit, self._card, self._pci, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            raise error_for(hresult, "SCardTransmit")
        if not response:
            raise CardRemoved("SCardTransmit: the card returned no response")
        self.apdu_count += 1
        self.bytes_sent += len(apdu)
        self.bytes_received += len(response)
        return bytes(response)

    # -- closing ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """End the transaction, reset the card (so no verified PIN survives us) and release the context."""
        if self._broken is None:
            try:
                self._release()
            except CardTimeout:
                log.warning("PC/SC did not answer while closing the session")
        self._worker.stop()

    def _release(self) -> None:
        if self._card is not None:
            self._call("SCardDisconnect", _leave, self._card, self._transaction)
            self._card = None
        if self._context is not None:
            self._call("SCardReleaseContext", scard.SCardReleaseContext, self._context)
            self._context = None

    def _abandon(self, what: str, blocked: Future[Any]) -> None:
        # Queued behind the blocked call: runs once it returns, so the handle and context are released
        # (and a late transaction ended) even though nobody waits for them any more. A connect or context
        # that pcsc-lite grants late is released too, rather than left to the context's release.
        card, context, self._card, self._context = self._card, self._context, None, None
        transaction = self._transaction

        def release() -> None:
            answer: Any = None if blocked.exception() else blocked.result()
            hresult = answer[0] if isinstance(answer, (list, tuple)) else answer  # pyscard: [hresult, ...] or hresult
            granted = hresult == scard.SCARD_S_SUCCESS
            if granted and what == "SCardConnect":
                scard.SCardDisconnect(answer[1], scard.SCARD_RESET_CARD)
            if granted and what == "SCardEstablishContext":
                scard.SCardReleaseContext(answer[1])
            if card is not None:
                _leave(card, transaction or (granted and what == "SCardBeginTransaction"))
            if context is not None:
                scard.SCardReleaseContext(context)

        self._worker.submit(release)


def _leave(card: int, transaction: bool) -> None:
    """Disconnect ``card``, reset so that no verified PIN survives us. In a transaction the reset comes while
    the transaction still holds the card: at the disconnect it would come after the next holder (already
    waiting in SCardConnect) got the card, which would then find our verified PIN, or lose its protocol
    in the middle of its first APDU."""
    if transaction:
        scard.SCardEndTransaction(card, scard.SCARD_RESET_CARD)
    scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD if transaction else scard.SCARD_RESET_CARD)


def _open(reader: str | None, test_mode: bool | None, apdu_timeout: float) -> PcscConnection:
    connection = PcscConnection("", apdu_timeout=apdu_timeout)
    try:
        connection._establish()
        connection.reader = choose_reader(connection.list_readers(), reader, test_mode=test_mode)
    except BaseException:
        connection.close()
        raise
    return connection


@contextmanager
def open_card(
    reader: str | None = None,
    *,
    test_mode: bool | None = None,
    access: Access = Access.EXCLUSIVE,
    wait: float = 0.0,
    apdu_timeout: float = DEFAULT_APDU_TIMEOUT,
) -> Iterator[PcscConnection]:
    """A session on the card in ``reader`` (see :func:`choose_reader`), closed (card reset) on exit.

    ``wait`` bounds how long a busy reader is waited for (0: fail at once with :class:`ReaderBusy`).
    """
    connection = _open(reader, test_mode, apdu_timeout)
    try:
        connection._connect(access, wait)
        yield connection
    finally:
        connection.close()


def list_readers() -> list[str]:
    """The names of the connected readers (virtual ones included; :func:`choose_reader` filters)."""
    connection = PcscConnection("")
    try:
        connection._establish()
        return connection.list_readers()
    finally:
        connection.close()


def _await_state(reader: str | None, timeout: float, test_mode: bool | None, reached: Callable[[int], bool]
                 ) -> str | None:
    """Watch ``reader`` (chosen as in :func:`open_card`) with ``SCardGetStatusChange`` until its event state
    satisfies ``reached``; return the reader name, or ``None`` when ``timeout`` passes first. PC/SC failures raise
    their typed error."""
    connection = _open(reader, test_mode, DEFAULT_APDU_TIMEOUT)
    deadline = time.monotonic() + timeout
    try:
        state = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = int(max(deadline - time.monotonic(), 0) * 1000)
            hresult, states = connection._call(
                "SCardGetStatusChange",
                scard.SCardGetStatusChange,
                connection._context,
                remaining_ms,
                [(connection.reader, state)],
                timeout=remaining_ms / 1000 + DEFAULT_APDU_TIMEOUT,
            )
            if hresult == scard.SCARD_E_TIMEOUT:
                return None
            if hresult != scard.SCARD_S_SUCCESS:
                raise error_for(hresult, "SCardGetStatusChange")
            _, event, _ = states[0]
            if reached(event):
                return connection.reader
            state = event & ~scard.SCARD_STATE_CHANGED
    finally:
        connection.close()


def wait_for_card(
    reader: str | None = None, *, timeout: float = 5.0, test_mode: bool | None = None
) -> str:
    """Wait until a card is present in ``reader`` (chosen as in :func:`open_card`); return the reader name.

    Raises :class:`NoCard` when none appears within ``timeout``.
    """
    name = _await_state(reader, timeout, test_mode,
                        lambda event: bool(event & scard.SCARD_STATE_PRESENT and not event & scard.SCARD_STATE_MUTE))
    if name is None:
        raise NoCard(f"no card in {reader or 'the reader'} within {timeout:g} s")
    return name


def wait_for_empty(reader: str | None = None, *, timeout: float = 5.0, test_mode: bool | None = None) -> bool:
    """Wait until ``reader`` reports no card (``SCARD_STATE_EMPTY`` of ``SCardGetStatusChange``): ``True`` then,
    ``False`` when ``timeout`` passes first (0: the state now).

    Only an empty slot is an absent card: a card that is mute, being reset or powered up, or held by another
    application is present; a failure of pcscd or of the reader raises its typed error (it says nothing about
    the card)."""
    return _await_state(reader, timeout, test_mode, lambda event: bool(event & scard.SCARD_STATE_EMPTY)) is not None


__all__ = [
    "TEST_MODE_ENV",
    "Access",
    "PcscConnection",
    "choose_reader",
    "error_for",
    "in_test_mode",
    "is_virtual_reader",
    "list_readers",
    "open_card",
    "wait_for_card",
    "wait_for_empty",
]
