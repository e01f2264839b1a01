"""What the business receives for a signing request (once, with the grant's access token): per document the raw
PKCS#1 v1.5 signature (as the Digital Agency returns it) and a detached CMS SignedData in CAdES-BES (or PAdES) form
built around the card's signature (:func:`keys.cms.signed_data.assemble_detached`), the signing certificate, and
the verification record (:mod:`idp.sign.record`)::

    {"signing_request": "…uuid…",
     "documents": [{"label", "hashAlgorithmOID", "hash", "signatureFormat", "signing_time",
                    "signature": base64 PKCS#1 v1.5, "cms": base64 DER ContentInfo}],
     "certificate": base64 DER, "verification_record": compact JWS}

Binary members are base64 with padding (RFC 4648 §4), as in RFC 9396 App. A.3.
"""

from __future__ import annotations

import base64
from typing import Any

from idp.sign.requests import GrantedResults
from idp.sign.verify import signed_attributes_for
from keys.cms.digest_info import hash_algorithm_by_name
from keys.cms.signed_data import assemble_detached


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def cms_of(granted: GrantedResults) -> tuple[bytes, ...]:
    """The detached CMS SignedData of each document (document order)."""
    certificate = granted.results.certificate
    return tuple(assemble_detached(hash_algorithm_by_name(d.hash_algorithm),
                                   signed_attributes_for(d, certificate, s.signing_time), s.signed_attributes,
                                   certificate)
                 for d, s in zip(granted.request.documents, granted.results.signatures, strict=True))


def results_document(granted: GrantedResults) -> dict[str, Any]:
    """The JSON answer of the results resource (see the module docstring)."""
    request, results = granted.request, granted.results
    documents = [{"label": d.label, "hashAlgorithmOID": hash_algorithm_by_name(d.hash_algorithm).oid,
                  "hash": _b64(d.digest), "signatureFormat": d.profile, "signing_time": int(s.signing_time.timestamp()),
                  "signature": _b64(s.raw), "cms": _b64(cms)}
                 for d, s, cms in zip(request.documents, results.signatures, cms_of(granted), strict=True)]
    return {"signing_request": request.id, "documents": documents, "certificate": _b64(results.certificate),
            "verification_record": results.record}


__all__ = ["cms_of", "results_document"]
