"""The card's signing key as a software stand-in, and a CRL of its root, for the CMS tests (the test PKI and the
card come from tests/keys/conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from keys.testpki import CardMaterial, issue_crl
from tests.keys.conftest import NOW
from tests.support.cms import SoftwareCard


@pytest.fixture(scope="session")
def signer(card: CardMaterial) -> SoftwareCard:
    assert card.sign_key is not None
    assert card.sign_certificate is not None
    return SoftwareCard(card.sign_key, card.sign_certificate)


@pytest.fixture(scope="session")
def empty_crl(card: CardMaterial) -> bytes:
    return issue_crl(card.sign_root, [], this_update=NOW - dt.timedelta(hours=1),
                     next_update=NOW + dt.timedelta(days=2), crl_number=1)
