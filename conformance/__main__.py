"""``python -m conformance <suite> [options]``: dispatch to one runner per outside suite.

Each suite lives in its own module exposing ``main(argv: list[str]) -> int``; the module is imported only when
its suite is run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

#: Suite name -> module path of its runner.
SUITES: dict[str, str] = {
    "faults": "conformance.faults",
    "limbo": "conformance.limbo",
    "oidc": "conformance.oidc",
    "opensc": "conformance.opensc",
    "vc": "conformance.vc",
    "wycheproof": "conformance.wycheproof",
}


def main(argv: list[str]) -> int:
    """Parse the suite name and hand the remaining arguments to its runner."""
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="options of the suite's runner")
    args = parser.parse_args(argv)
    runner: Callable[[list[str]], int] = importlib.import_module(SUITES[args.suite]).main
    return runner(args.args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
