"""Start a program with a listening UNIX socket handed over by systemd-style socket activation.

``python -m cardreader.virtual.sockact SOCKET PROGRAM [ARGS...]`` binds ``SOCKET``, passes it as fd 3
with ``LISTEN_FDS=1`` and ``LISTEN_PID`` set to our PID, then execs ``PROGRAM`` (which keeps that PID).
pcscd honours socket activation and the PC/SC client library honours ``PCSCLITE_CSOCK_NAME``, so this runs a
private pcscd next to the system one (pcsc-virtual-card.md, "a private pcscd").
"""

from __future__ import annotations

import os
import socket
import sys


def main(argv: list[str]) -> int:
    """Bind, hand over and exec; returns only on a usage error."""
    if len(argv) < 2:
        print("usage: python -m cardreader.virtual.sockact SOCKET PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    path, program = argv[0], argv[1:]
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    os.dup2(listener.fileno(), 3)
    os.set_inheritable(3, True)
    os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    os.execvp(program[0], program)  # noqa: S606 - the point of this module: become the program


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
