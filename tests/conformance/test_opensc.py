"""``python -m conformance opensc``: OpenSC's own JPKI driver accepts the virtual card and reads what the
smartphone tokens let it read (run as a separate
process: the runner starts its own private pcscd and points its PC/SC client at it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import opensc

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.pcsc


@pytest.mark.skipif(any(shutil.which(t) is None for t in opensc.TOOLS), reason="needs pcscd, vpcd and opensc")
def test_opensc_accepts_the_virtual_card() -> None:
    result = subprocess.run([sys.executable, "-m", "conformance", "opensc"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    lines = result.stdout.splitlines()
    assert lines[-1] == f"opensc: {len(lines) - 1} passed, 0 failed", result.stdout + result.stderr
    assert len(lines) - 1 == 11
    assert result.returncode == 0
    assert "PASS opensc-tool -n: card is jpki: jpki" in lines
    assert any(line.startswith("PASS android token: 4 certificates listed, 000a guarded") for line in lines)
