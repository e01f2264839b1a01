"""Every fuzz target over its seeds and ``FUZZ_EXAMPLES`` (default 200) generated inputs: no crash, i.e. no
exception other than the parser's documented typed errors (see tests/fuzz/harness.py)."""

from __future__ import annotations

import pytest

from tests.fuzz.harness import SEEDS, TARGETS, examples_budget, load_all, run_target, target

pytestmark = pytest.mark.fuzz


@pytest.mark.parametrize("name", sorted(load_all()))
def test_target_does_not_crash(name: str) -> None:
    assert run_target(name, examples_budget()) > 0


def test_every_target_has_committed_seeds() -> None:
    on_disk = {p.name for p in SEEDS.iterdir() if p.is_dir()}
    assert on_disk == set(load_all()), "run python -m tests.fuzz.make_seeds"
    assert all(any((SEEDS / name).iterdir()) for name in on_disk)


def test_the_harness_reports_a_crash() -> None:
    """A parser that raises an untyped error on some inputs is caught (mutations of the seed reach it)."""

    @target("_harness_self_test", seeds=lambda: {"ok": b"{}"})
    def fragile(data: bytes) -> None:
        if data != b"{}":
            raise KeyError("untyped")

    try:
        with pytest.raises(KeyError):
            run_target("_harness_self_test", 50)
    finally:
        del TARGETS["_harness_self_test"]
