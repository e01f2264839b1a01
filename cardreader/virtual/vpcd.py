"""The virtual card's link to pcscd: a TCP client of vsmartcard's vpcd driver (pcsc-virtual-card.md,
"vpcd wire protocol").

vpcd is the server (one port per slot: 35963 for "Virtual PCD 00 00" by default); connecting inserts the
card, closing the socket removes it. Both directions send a 2-byte big-endian length, then the payload.
One-byte payloads from vpcd are control codes (0 power off, 1 power on, 2 reset, 4 get ATR, the last also
sent every ~0.4 s as a presence poll); anything longer is a command APDU answered with the response APDU.

Latency: vpcd 3.3 writes the length and the payload with two ``send()`` calls on a socket without
TCP_NODELAY, so the payload waits for our ACK of the first two bytes; a delayed ACK holds it ~40 ms.
TCP_QUICKACK (reset by Linux after each ACK) is therefore set before *every* ``recv``; TCP_NODELAY is set
and every reply is one ``sendall``. Measured: 0.13 ms per APDU instead of 44 ms.

The APDU log (``apdu_log``) and the ``cardreader.virtual`` logger never show VERIFY data
(:meth:`cardreader.apdu.Command.describe` masks it) nor response data (only lengths and status words).
"""

from __future__ import annotations

import logging
import socket
import time
from typing import TextIO

from cardreader.apdu import Command, Response
from cardreader.errors import MalformedResponse
from cardreader.virtual.card import Fault, VirtualCard

log = logging.getLogger("cardreader.virtual")

DEFAULT_PORT = 35963
_CONTROL = {0: "power off", 1: "power on", 2: "reset", 4: "ATR"}
_RECONNECT_INTERVAL = 0.1


class _Closed(Exception):
    """vpcd closed the connection (pcscd stopped)."""


class VpcdLink:
    """Serves ``card`` to vpcd at ``host:port``; with ``reconnect`` it re-inserts the card whenever pcscd
    comes back (for tests that restart pcscd)."""

    def __init__(
        self,
        card: VirtualCard,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        reconnect: bool = True,
        apdu_log: TextIO | None = None,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.reconnect = reconnect
        self._apdu_log = apdu_log

    def run(self) -> None:
        """Insert the card and serve it until pulled (``PULL_ON_SIGN``) or, without ``reconnect``, until
        pcscd goes away."""
        while True:
            sock = self._connect()
            try:
                pulled = self._serve(sock)
            except (_Closed, ConnectionError):
                pulled = False
            finally:
                sock.close()
            self.card.reset()
            self._note("CTRL removed")
            if pulled or not self.reconnect:
                return

    def _connect(self) -> socket.socket:
        while True:
            try:
                sock = socket.create_connection((self.host, self.port))
            except OSError:
                if not self.reconnect:
                    raise
                time.sleep(_RECONNECT_INTERVAL)
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            log.info("card inserted at %s:%d", self.host, self.port)
            return sock

    def _serve(self, sock: socket.socket) -> bool:
        """Serve until the connection closes (False) or the card is pulled (True)."""
        while True:
            frame = _receive(sock, int.from_bytes(_receive(sock, 2), "big"))
            if len(frame) == 1:
                self._control(sock, frame[0])
                continue
            if _is_signature(frame) and self.card.fault is Fault.PULL_ON_SIGN:
                self._note("C: COMPUTE DIGITAL SIGNATURE -> card pulled (fault)")
                return True
            if _is_signature(frame) and self.card.fault is Fault.MUTE:
                self._note("C: COMPUTE DIGITAL SIGNATURE -> no answer (fault)")
                while True:  # answer nothing until vpcd gives up or the process is stopped
                    _receive(sock, 1)
            response = self.card.transmit(frame)
            self._trace(frame, response)
            sock.sendall(len(response).to_bytes(2, "big") + response)

    def _control(self, sock: socket.socket, code: int) -> None:
        if code == 4:
            sock.sendall(len(self.card.atr).to_bytes(2, "big") + self.card.atr)
            return
        if code in (0, 1, 2):
            self.card.reset()
        self._note(f"CTRL {_CONTROL.get(code, hex(code))}")

    def _trace(self, frame: bytes, response: bytes) -> None:
        try:
            command = Command.decode(frame).describe()
        except ValueError:
            command = f"<{len(frame)} bytes, not an APDU>"
        try:
            answer = Response.parse(response).describe()
        except MalformedResponse:
            answer = f"<{len(response)} bytes, no status word>"
        self._note(f"C: {command}")
        self._note(f"R: {answer}")

    def _note(self, line: str) -> None:
        log.debug("%s", line)
        if self._apdu_log is not None:
            self._apdu_log.write(line + "\n")
            self._apdu_log.flush()


def _receive(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise _Closed
        data += chunk
    return bytes(data)


def _is_signature(frame: bytes) -> bool:
    return len(frame) >= 4 and frame[0] == 0x80 and frame[1] == 0x2A


__all__ = ["DEFAULT_PORT", "VpcdLink"]
