"""A private SoftHSM2 token for the whole test process (test-environment.md §3).

SoftHSM reads ``SOFTHSM2_CONF`` once, when the library is first initialised in a process, so the
token is created once per process (a fresh token directory each run: stored keys would otherwise
persist) and shared by every test that needs it.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
LABEL = "mynacard-test"
PIN = "1234"


@dataclass(frozen=True)
class HsmToken:
    module: str
    label: str
    pin: str


def unavailable() -> str | None:
    """Why SoftHSM2 cannot be used here, or None."""
    if not Path(MODULE).exists() or shutil.which("softhsm2-util") is None:
        return "SoftHSM2 is not installed (Debian package softhsm2)"
    return None


@functools.cache
def token() -> HsmToken:
    """Initialise the process's token (once) and point SOFTHSM2_CONF at it."""
    base = Path(tempfile.mkdtemp(prefix="idp-softhsm-"))
    atexit.register(shutil.rmtree, base, True)
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", "5678"],
                   check=True, capture_output=True)
    return HsmToken(MODULE, LABEL, PIN)
