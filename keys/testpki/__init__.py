"""JPKI-profile test PKI: test roots (``O=JPKI-TEST``), card certificates, CRLs and OCSP responses.

For tests and the demo only. Its roots are refused by the trust store outside test mode.
"""

from keys.testpki.hierarchy import HolderFacts, Root, issue_card_certificate, make_root, new_rsa_key
from keys.testpki.revocation import (
    issue_crl,
    issue_large_crl,
    issue_ocsp_responder,
    issue_ocsp_response,
    unsuccessful_ocsp_response,
)
from keys.testpki.store import CardMaterial, TestPki

__all__ = [
    "CardMaterial",
    "HolderFacts",
    "Root",
    "TestPki",
    "issue_card_certificate",
    "issue_crl",
    "issue_large_crl",
    "issue_ocsp_responder",
    "issue_ocsp_response",
    "make_root",
    "new_rsa_key",
    "unsuccessful_ocsp_response",
]
