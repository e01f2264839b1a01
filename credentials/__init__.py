"""Verifiable credentials: OID4VCI issuer, SD-JWT VC, status lists and a verifier."""
