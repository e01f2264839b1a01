from __future__ import annotations

import pytest

from tests.keys.service import softhsm


@pytest.fixture(scope="session")
def hsm_token() -> softhsm.HsmToken:
    reason = softhsm.unavailable()
    if reason:
        pytest.skip(reason)
    return softhsm.token()
