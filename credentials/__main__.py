"""``python -m credentials COMMAND [options]``: the runnable parts of the credentials package.

Commands are modules exposing ``main(argv: list[str]) -> int``, imported only when chosen.
"""

from __future__ import annotations

import sys

from servicekit.cli import dispatch

#: Command -> module.
COMMANDS: dict[str, str] = {
    "verifier": "credentials.verifier.cli",
    "wallet": "credentials.wallet.cli",
}


raise SystemExit(dispatch("python -m credentials", COMMANDS, sys.argv[1:]))
