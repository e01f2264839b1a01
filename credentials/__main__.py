"""``python -m credentials COMMAND [options]``: the runnable parts of the credentials package.

Commands are modules exposing ``main(argv: list[str]) -> int``, imported only when chosen.
"""

from __future__ import annotations

import importlib
import sys

#: Command -> module.
COMMANDS: dict[str, str] = {
    "verifier": "credentials.verifier.cli",
    "wallet": "credentials.wallet.cli",
}


def main(argv: list[str]) -> int:
    """Dispatch ``argv[0]`` to its command module with the remaining arguments."""
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m credentials {{{'|'.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]])
    result: int = module.main(argv[1:])
    return result


raise SystemExit(main(sys.argv[1:]))
