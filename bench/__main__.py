"""``python -m bench NAME [options]``: run one benchmark; each prints one JSON line.

Benchmarks are modules of this package exposing ``main(argv: list[str]) -> int``; they are imported only
when chosen, so one benchmark's dependencies never slow down or break another.
"""

from __future__ import annotations

import sys

from servicekit.cli import dispatch

#: Benchmark name -> module.
BENCHMARKS: dict[str, str] = {
    "verify": "bench.verify",
    "card": "bench.card",
    "cardlogin": "bench.cardlogin",
    "sign": "bench.sign",
    "oidc": "bench.oidc",
    "vc": "bench.vc",
}


raise SystemExit(dispatch("python -m bench", BENCHMARKS, sys.argv[1:]))
