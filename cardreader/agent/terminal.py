"""PIN entry in the agent's own terminal (the controlling terminal, ``/dev/tty``, without echo).

Nothing typed is echoed, logged or kept beyond the :class:`~cardreader.pin.Pin` the card consumes. A PIN in the
wrong format spent no try, so it is asked for again (up to three times); end of input or Ctrl-C cancels.
"""

from __future__ import annotations

import getpass
import io
import os
import sys
from typing import TextIO

from cardreader.errors import PinFormatError
from cardreader.jpki import Key
from cardreader.login import LoginError, PinRequest, cancelled
from cardreader.pin import Pin

_FORMAT_ATTEMPTS = 3


class TerminalPrompt:
    """A :class:`~cardreader.login.PinPrompt` on the controlling terminal."""

    def __init__(self) -> None:
        self._tty: TextIO | None = None

    def _terminal(self) -> TextIO:
        if self._tty is None:
            try:  # as getpass does: one unbuffered read-write handle (a tty cannot be opened "r+" buffered)
                fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
                self._tty = io.TextIOWrapper(io.FileIO(fd, "w+"), encoding="utf-8")
            except OSError:
                raise LoginError("no_terminal", "The card agent has no terminal to ask for the PIN.",
                                 "カードエージェントに暗証番号を入力する端末がありません。") from None
        return self._tty

    def _say(self, text: str) -> None:
        terminal = self._terminal()
        terminal.write(text + "\n")
        terminal.flush()

    def _headline(self, request: PinRequest) -> None:
        en, ja = request.describe()
        self._say(f"\n{en}\n{ja}\nProvider / 提供者: {request.issuer}")
        for number, document in enumerate((d.shown() for d in request.documents), 1):
            self._say(f"  {number}. {document['label']}\n     {document['algorithm']}: {document['digest']}")
        self._say(f"Tries left / 残り回数: {request.tries_left}")

    def confirm_last_try(self, request: PinRequest) -> bool:
        """Ask for ``yes`` before the last try."""
        self._headline(request)
        self._say("Only one try is left: a wrong PIN now blocks the card. / 残り1回です。間違えるとロックされます。")
        terminal = self._terminal()
        terminal.write("Type yes to continue / 続ける場合は yes と入力: ")
        terminal.flush()
        try:
            answer = terminal.readline()
        except KeyboardInterrupt:
            return False
        return answer.strip().lower() == "yes"

    def ask_pin(self, request: PinRequest) -> Pin:
        """Read the PIN without echo."""
        if not request.last_try:
            self._headline(request)
        label = "PIN (4 digits / 数字4桁)" if request.key is Key.AUTH else "Signing password / 署名用パスワード"
        for _ in range(_FORMAT_ATTEMPTS):
            self._terminal()
            try:
                secret = getpass.getpass(f"{label}: ")
            except (EOFError, KeyboardInterrupt):
                raise cancelled() from None
            if not secret:
                raise cancelled()
            try:
                return Pin(request.key, secret)
            except PinFormatError as exc:
                self._say(f"{exc.message} / {exc.message_ja} (no try was used / 回数は減っていません)")
        raise cancelled()

    def notice(self, en: str, ja: str) -> None:
        """Tell the person something (e.g. to take the card)."""
        try:
            self._say(f"{en}\n{ja}")
        except LoginError:
            print(f"{en}\n{ja}", file=sys.stderr)

    def close(self) -> None:
        """Release the terminal."""
        if self._tty is not None:
            self._tty.close()
            self._tty = None


__all__ = ["TerminalPrompt"]
