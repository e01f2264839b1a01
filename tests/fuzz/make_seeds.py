"""Regenerate ``tests/fuzz/seeds/<target>/``: every target's seeds (spec examples and inputs made with the test
PKI and test keys, regressions included) written as small files.

Run ``python -m tests.fuzz.make_seeds`` after adding a target or a seed; commit the result. Each target also
makes its seeds again at run time (with the keys it holds in that process), so signed seeds stay valid; the
files keep the corpus reviewable and are what an ``--atheris`` run starts from."""

from __future__ import annotations

import re
import shutil
import sys

from tests.fuzz.harness import SEEDS, load_all

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def write_seeds(names: list[str] | None = None) -> dict[str, int]:
    """Write the seeds of ``names`` (default: every target); return how many files each got."""
    targets = load_all()
    written: dict[str, int] = {}
    for name in names or sorted(targets):
        entry = targets[name]
        directory = SEEDS / name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        seeds = entry.live_seeds() if entry.live_seeds is not None else {}
        for seed_name, data in seeds.items():
            (directory / _UNSAFE.sub("_", seed_name)).write_bytes(data)
        written[name] = len(seeds)
    return written


def main(argv: list[str] | None = None) -> int:
    for name, count in write_seeds((argv if argv is not None else sys.argv[1:]) or None).items():
        print(f"{name}: {count} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
