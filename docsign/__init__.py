"""Signatures a business can keep and verify offline: PDF signing around the card (PAdES B-B/B-T through pyHanko's
interrupted signing), verification of signed PDFs and CMS files, and of the provider's verification records.
Imports only :mod:`keys` of ours."""
