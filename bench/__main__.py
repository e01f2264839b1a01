"""``python -m bench NAME [options]``: run one benchmark; each prints one JSON line.

Benchmarks are modules of this package exposing ``main(argv: list[str]) -> int``; they are imported only
when chosen, so one benchmark's dependencies never slow down or break another.
"""

from __future__ import annotations

import importlib
import sys

#: Benchmark name -> module.
BENCHMARKS: dict[str, str] = {
    "verify": "bench.verify",
    "card": "bench.card",
    "cardlogin": "bench.cardlogin",
    "oidc": "bench.oidc",
    "vc": "bench.vc",
}


def main(argv: list[str]) -> int:
    """Dispatch ``argv[0]`` to its benchmark module with the remaining arguments."""
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m bench {{{'|'.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[argv[0]])
    result: int = module.main(argv[1:])
    return result


raise SystemExit(main(sys.argv[1:]))
