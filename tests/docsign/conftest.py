"""The test PKI, the card's signing key as a software stand-in and a CRL (shared with tests/keys), and a PDF."""

from __future__ import annotations

from tests.keys.cms.conftest import empty_crl, signer
from tests.keys.conftest import card, holder_key, pki, test_store

__all__ = ["card", "empty_crl", "holder_key", "pki", "signer", "test_store"]
