"""The PC/SC lab for tests: a private pcscd with the vpcd driver (:class:`cardreader.virtual.lab.PcscLab`), or a
skip with the reason when pcscd or vsmartcard-vpcd is not installed.

Usage (a session fixture)::

    @pytest.fixture(scope="session")
    def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscLab]:
        with pcsc_lab(tmp_path_factory.mktemp("lab")) as running:
            yield running
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cardreader.virtual.lab import VPCD_DRIVER, PcscLab


@contextmanager
def pcsc_lab(workdir: Path) -> Iterator[PcscLab]:
    """A running lab under ``workdir``, stopped (every process by PID) on the way out."""
    if shutil.which("pcscd") is None or not VPCD_DRIVER.exists():
        pytest.skip("needs pcscd and vsmartcard-vpcd (apt-get install pcscd vsmartcard-vpcd)")
    with PcscLab(workdir) as running:
        yield running


__all__ = ["pcsc_lab"]
