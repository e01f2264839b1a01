"""OpenID for Verifiable Credential Issuance 1.0 (final), the issuer's protocol code — pure, provider-independent.

* :mod:`.configurations` — the credentials offered (``jp_age``, ``jp_basic4``), their datasets and drafts;
* :mod:`.metadata` — Credential Issuer Metadata, SD-JWT VC Type Metadata, JWT VC Issuer Metadata;
* :mod:`.offer` — Credential Offers by value and by reference, deep links, QR codes;
* :mod:`.authorization_details` — ``openid_credential`` authorization details (RFC 9396);
* :mod:`.request` — Credential, Deferred Credential and Notification requests;
* :mod:`.proof` — ``jwt`` key proofs and key attestations;
* :mod:`.issuance` — signing a batch and the response bodies;
* :mod:`.errors` — the §8.3.1.2 error codes, with machine-readable reasons.

The provider (``idp``) supplies storage, clocks, keys and HTTP; nothing here does I/O.
"""
