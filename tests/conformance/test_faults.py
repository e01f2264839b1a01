"""``python -m conformance faults`` (short form) as a separate process: two workers on PostgreSQL under load
through a 20-way code race, a refresh race, a 20-way credential request race, a PostgreSQL restart, a worker killed
with SIGKILL and the clock stepped forward and back; every scenario and every check of the clients' and the
database's ledger must pass."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.faults import SCENARIOS
from tests.support.postgres import install

ROOT = Path(__file__).resolve().parents[2]
#: The scenarios, then the ledger's checks: load, no-5xx, nothing-twice, nothing-lost, server-log.
EXPECTED = len(SCENARIOS) + 5


@pytest.mark.slow
def test_every_fault_is_survived() -> None:
    reason = install()
    if reason is not None:
        pytest.skip(reason)
    result = subprocess.run([sys.executable, "-m", "conformance", "faults"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    lines = result.stdout.splitlines()
    assert lines, result.stderr[-2000:]
    assert lines[-1] == f"faults: {EXPECTED} passed, 0 failed", "\n".join(
        line for line in lines if not line.startswith("PASS")) + result.stderr[-1500:]
    assert result.returncode == 0
    names = [re.match(r"PASS ([a-z0-9-]+):", line)[1] for line in lines[:-1]]  # type: ignore[index]
    assert names == [name for name, _, _ in SCENARIOS] + ["load", "no-5xx", "nothing-twice", "nothing-lost",
                                                          "server-log"]
