"""OpenID for Verifiable Presentations 1.0 (Final), Verifier side, with DCQL and the HAIP 1.0 profile.

One module per part of the specification:

* :mod:`.client_id` — Client Identifier Prefixes (§5.9): ``redirect_uri``, ``x509_san_dns``, ``x509_hash``;
* :mod:`.request` — the Authorization Request (§5): by value, signed Request Object (``oauth-authz-req+jwt``)
  by value or by ``request_uri`` (§5.10), ``client_metadata``;
* :mod:`.encryption` — ``direct_post.jwt`` response encryption (§8.3; HAIP: ECDH-ES P-256, A128GCM/A256GCM);
* :mod:`.response` — the Authorization Response at the ``response_uri`` (§8.2, §8.3, §8.5);
* :mod:`.presentation` — VP Token validation (§8.6) with :mod:`credentials.verify` and DCQL;
* :mod:`.errors` — reason codes.

The service around it (transactions, the relying-party API, the Wallet endpoints) is :mod:`credentials.verifier`.
"""

from credentials.oid4vp.client_id import ClientIdPrefix, VerifierIdentity, x509_hash
from credentials.oid4vp.encryption import ENC_VALUES, ResponseKey, encrypt_response
from credentials.oid4vp.errors import PresentationError, VerifierReason
from credentials.oid4vp.presentation import PresentedCredential, verify_vp_token
from credentials.oid4vp.request import (
    REQUEST_OBJECT_TYP,
    AuthorizationRequest,
    ResponseMode,
    client_metadata,
    random_value,
    wallet_url,
)
from credentials.oid4vp.response import AuthorizationResponse, check_state, parse_response

__all__ = [
    "ENC_VALUES",
    "REQUEST_OBJECT_TYP",
    "AuthorizationRequest",
    "AuthorizationResponse",
    "ClientIdPrefix",
    "PresentationError",
    "PresentedCredential",
    "ResponseKey",
    "ResponseMode",
    "VerifierIdentity",
    "VerifierReason",
    "check_state",
    "client_metadata",
    "encrypt_response",
    "parse_response",
    "random_value",
    "verify_vp_token",
    "wallet_url",
    "x509_hash",
]
