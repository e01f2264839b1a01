"""Signing with the card for a business (issue 12): signing requests and their results
(:mod:`idp.sign.requests`), the RFC 9396 ``jpki_sign`` authorization details type (:mod:`idp.sign.details`),
the provider's verification of the card's signatures before anything is released (:mod:`idp.sign.verify`) and
the verification record the business may keep (:mod:`idp.sign.record`)."""
