"""``python -m credentials wallet ...``: the test wallet (:mod:`credentials.wallet.cli`)."""

from __future__ import annotations

import sys

from credentials.wallet.cli import main

if __name__ == "__main__":
    if sys.argv[1:2] != ["wallet"]:
        print("usage: python -m credentials wallet --file W {accept,deferred,list,show,delete,present} ...",
              file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[2:]))
