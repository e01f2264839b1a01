"""Long fuzz runs: ``python -m tests.fuzz [--examples N] [--atheris] [--list] [TARGET ...]``.

Without ``--atheris``, each TARGET (default: all) runs over its seeds and then N Hypothesis examples (default
:data:`tests.fuzz.harness.DEFAULT_EXAMPLES`). With ``--atheris`` (``pip install -e '.[fuzz]'``), exactly one
TARGET runs under libFuzzer's coverage-guided engine, starting from a copy of its seeds; N becomes ``-runs=N``
(0: until stopped) and further arguments after ``--`` go to libFuzzer (``-max_total_time=600``, ``-jobs=2``)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.fuzz.harness import examples_budget, load_all, run_target


def _atheris(name: str, examples: int, libfuzzer: list[str]) -> int:
    import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]  # optional: the "fuzz" extra

    # instrument the project's packages only (instrument_all would take minutes over every dependency)
    with atheris.instrument_imports(include=["keys", "credentials", "cardreader", "servicekit"]):
        targets = load_all()
    if name not in targets:
        raise SystemExit(f"unknown target {name}; --list shows them")
    entry = targets[name]
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for index, data in enumerate(entry.seeds().values()):
        (corpus / f"seed-{index}").write_bytes(data)
    print(f"{name}: corpus {corpus} (new inputs land there; crashes as crash-* in the working directory)")
    runs = [f"-runs={examples}"] if examples > 0 else []
    atheris.Setup([sys.argv[0], *runs, *libfuzzer, str(corpus)], entry.run)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(corpus, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET")
    parser.add_argument("--examples", type=int, default=examples_budget(), help="examples per target")
    parser.add_argument("--atheris", action="store_true", help="coverage-guided run of one target (libFuzzer)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args, libfuzzer = parser.parse_known_args(argv)
    if args.atheris:
        if len(args.targets) != 1:
            parser.error("--atheris runs exactly one TARGET")
        return _atheris(args.targets[0], args.examples, [a for a in libfuzzer if a != "--"])
    targets = load_all()
    if args.list:
        print("\n".join(sorted(targets)))
        return 0
    if unknown := [t for t in args.targets if t not in targets]:
        parser.error(f"unknown targets {unknown}; --list shows them")
    if libfuzzer:
        parser.error(f"unrecognized arguments: {libfuzzer}")
    failed = 0
    for name in args.targets or sorted(targets):
        started = time.monotonic()
        try:
            seeds = run_target(name, args.examples)
        except Exception as exc:  # report every target, then fail
            failed += 1
            print(f"{name}: CRASH {type(exc).__name__}: {exc}", flush=True)
            continue
        print(f"{name}: {seeds} seeds + {args.examples} examples, no crash ({time.monotonic() - started:.1f} s)",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
