"""A private PC/SC lab: its own pcscd (own socket, own vpcd port, started in the foreground and stopped by
PID, no systemd) and virtual card processes, for tests, the OpenSC conformance runner and the benchmark.

It follows pcsc-virtual-card.md: pcscd gets a reader.conf.d with only the vpcd driver on a free port pair
(slot 0 on ``port``, slot 1 on ``port + 1``) and is socket-activated on ``workdir/pcscd.comm``
(:mod:`.sockact`), so it never touches a system pcscd. Clients find it through ``PCSCLITE_CSOCK_NAME``:
:meth:`PcscLab.start` sets it in this process's environment, which only works *before* the process makes
its first PC/SC call (pcsc-lite reads the variable once per process); child processes get
:attr:`PcscLab.env`, which also turns test mode on (``MYNACARD_TEST_MODE=1``: the lab's reader is a
"Virtual PCD"). In this process, pass ``test_mode=True`` to :func:`cardreader.pcsc.open_card`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from cardreader.errors import CardError
from cardreader.pcsc import TEST_MODE_ENV, list_readers, wait_for_card
from cardreader.virtual.card import Fault

SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
#: pcscd's name for slot 0 of the vpcd driver.
READER = "Virtual PCD 00 00"
_STOP_TIMEOUT = 5.0
#: vpcd's presence poll period (~0.4 s) plus a margin. pcscd must poll an empty slot once between two
#: cards: a card pulled in the middle of an APDU makes pcscd mark the slot absent without its event thread
#: noticing, and a new card that connects before that thread's next poll is never reported as inserted.
_POLL_PERIOD = 0.5


def free_port_pair() -> int:
    """A TCP port p such that p and p + 1 are free on all interfaces (vpcd binds INADDR_ANY)."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("0.0.0.0", 0))  # noqa: S104 - vpcd itself binds INADDR_ANY; test the same
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("0.0.0.0", port + 1))  # noqa: S104
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port pair for vpcd")


class PcscLab:
    """pcscd + virtual cards under ``workdir``. Use as a context manager; every process is stopped by PID."""

    def __init__(self, workdir: Path, *, port: int | None = None, pcscd_debug: bool = False) -> None:
        self.workdir = workdir
        self.port = port or free_port_pair()
        self.socket_path = workdir / "pcscd.comm"
        self.conf_dir = workdir / "reader.conf.d"
        self.pcscd_log = workdir / "pcscd.log"
        self.card_log = workdir / "card.log"
        self._debug = pcscd_debug
        self._pcscd: subprocess.Popen[bytes] | None = None
        self._card: subprocess.Popen[bytes] | None = None
        self._card_gone_at = 0.0

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes that must use this lab's pcscd (and accept its reader)."""
        return {**os.environ, SOCKET_ENV: str(self.socket_path), TEST_MODE_ENV: "1"}

    @property
    def card_pid(self) -> int | None:
        """PID of the running virtual card process, if any."""
        return self._card.pid if self._card is not None and self._card.poll() is None else None

    def start(self) -> PcscLab:
        """Write the reader configuration, point this process at the lab and start pcscd."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_dir.mkdir(exist_ok=True)
        (self.conf_dir / "vpcd").write_text(
            f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x{self.port:X}\n'
            f"LIBPATH      {VPCD_DRIVER}\nCHANNELID    0x{self.port:X}\n"
        )
        os.environ[SOCKET_ENV] = str(self.socket_path)
        self.start_pcscd()
        return self

    def start_pcscd(self, timeout: float = 10.0) -> None:
        """Start pcscd in the foreground and wait until it lists the vpcd readers."""
        if self._pcscd is not None and self._pcscd.poll() is None:
            return
        command = [sys.executable, "-m", "cardreader.virtual.sockact", str(self.socket_path),
                   "pcscd", "--foreground", "--config", str(self.conf_dir)]
        if self._debug:
            command += ["--debug", "--apdu"]
        with self.pcscd_log.open("ab") as log:
            # fixed argv (our interpreter, pcscd, our paths): no untrusted input
            self._pcscd = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)  # noqa: S603
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(CardError):
                if READER in list_readers():
                    return
            if self._pcscd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pcscd did not start (see {self.pcscd_log})")
            time.sleep(0.05)

    def stop_pcscd(self) -> None:
        """Stop pcscd (SIGTERM, then SIGKILL) by PID."""
        _stop(self._pcscd)
        self._pcscd = None

    def insert(
        self,
        profile: Path,
        *,
        fault: Fault | None = None,
        apdu_log: Path | None = None,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> None:
        """Start a virtual card process for ``profile`` (replacing any running one) and, with ``wait``,
        return once pcscd sees the card."""
        self.remove()
        time.sleep(max(0.0, self._card_gone_at + _POLL_PERIOD - time.monotonic()))
        command = [sys.executable, "-m", "cardreader", "virtual-card", "--port", str(self.port),
                   "--profile", str(profile)]
        if fault is not None:
            command += ["--fault", fault.value]
        if apdu_log is not None:
            command += ["--apdu-log", str(apdu_log)]
        with self.card_log.open("ab") as log:
            self._card = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)  # noqa: S603
        if wait:
            self.wait_for_card(timeout)

    def wait_for_card(self, timeout: float = 10.0) -> None:
        """Return once pcscd reports a card in slot 0 (raise if the card process died first)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                wait_for_card(READER, timeout=0.5, test_mode=True)
                return
            except CardError:
                if self._card is not None and self._card.poll() is not None:
                    raise RuntimeError(f"the virtual card exited (see {self.card_log})") from None
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.02)

    def remove(self, wait: bool = True) -> None:
        """Stop the virtual card process by PID and, with ``wait``, until pcscd sees the slot empty."""
        if self._card is None:
            return
        _stop(self._card)
        self._card = None
        self._card_gone_at = time.monotonic()
        if wait and self._pcscd is not None and self._pcscd.poll() is None:
            deadline = time.monotonic() + _STOP_TIMEOUT
            while time.monotonic() < deadline:
                try:
                    wait_for_card(READER, timeout=0, test_mode=True)
                except CardError:
                    return
                time.sleep(0.05)

    def close(self) -> None:
        """Stop everything this lab started."""
        self.remove(wait=False)
        self.stop_pcscd()

    def __enter__(self) -> PcscLab:
        try:
            return self.start()
        except BaseException:
            self.close()  # pcscd may be running although it never listed the reader
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(_STOP_TIMEOUT)


__all__ = ["READER", "PcscLab", "free_port_pair"]
