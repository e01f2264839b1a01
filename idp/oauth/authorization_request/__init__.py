"""Authorization requests (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1), one module per job:

* :mod:`~idp.oauth.authorization_request.errors` — the endpoint's errors and where they go (RFC 6749 §4.1.2.1);
* :mod:`~idp.oauth.authorization_request.parameters` — reading the query or form, with limits (RFC 6749 §3.1);
* :mod:`~idp.oauth.authorization_request.claims` — the ``claims`` parameter (OIDC Core §5.5);
* :mod:`~idp.oauth.authorization_request.details` — the registry of ``authorization_details`` types (RFC 9396);
* :mod:`~idp.oauth.authorization_request.request` — the validated request, as stored;
* :mod:`~idp.oauth.authorization_request.validation` — the two-phase validation (OIDC Core §3.1.2.1);
* :mod:`~idp.oauth.authorization_request.pushed` — pushed requests (RFC 9126);
* :mod:`~idp.oauth.authorization_request.resolution` — request objects and ``request_uri`` (RFC 9101 §5).

This package re-exports their public names::

    from idp.oauth.authorization_request import AuthorizationRequest, resolve_request
"""

from idp.oauth.authorization_request.claims import (
    CLAIM_TARGETS,
    MAX_CLAIMS_OCTETS,
    MAX_REQUESTED_CLAIMS,
    ClaimRequest,
    ClaimsRequest,
    parse_claims,
)
from idp.oauth.authorization_request.details import InvalidAuthorizationDetailsError
from idp.oauth.authorization_request.errors import (
    RESPONSE_MODES,
    AccessDenied,
    AuthorizationError,
    ConsentRequired,
    InvalidRequestUri,
    LoginRequired,
    ResponseMode,
    ResponseTarget,
    UnmetAuthenticationRequirements,
    UnsupportedResponseType,
)
from idp.oauth.authorization_request.parameters import (
    LIMITS,
    MAX_PARAMETERS,
    MAX_REQUEST_OCTETS,
    Parameters,
    parse_parameters,
    text,
)
from idp.oauth.authorization_request.pushed import PAR_KIND, REQUEST_URI_PREFIX, push_request, take_pushed_request
from idp.oauth.authorization_request.request import (
    CODE,
    CREDENTIAL_TARGET,
    OFFLINE_ACCESS,
    OPENID,
    PROMPTS,
    PROTOCOL_CLAIMS,
    SCOPE_CLAIMS,
    SCOPES,
    AuthorizationRequest,
)
from idp.oauth.authorization_request.resolution import resolve_request
from idp.oauth.authorization_request.validation import MAX_MAX_AGE, validate_request, verified_redirect_uri

__all__ = [
    "CLAIM_TARGETS", "CODE", "CREDENTIAL_TARGET", "LIMITS", "MAX_CLAIMS_OCTETS", "MAX_MAX_AGE", "MAX_PARAMETERS",
    "MAX_REQUESTED_CLAIMS", "MAX_REQUEST_OCTETS", "OFFLINE_ACCESS", "OPENID", "PAR_KIND", "PROMPTS", "PROTOCOL_CLAIMS",
    "REQUEST_URI_PREFIX", "RESPONSE_MODES", "SCOPES", "SCOPE_CLAIMS", "AccessDenied", "AuthorizationError",
    "AuthorizationRequest", "ClaimRequest", "ClaimsRequest", "ConsentRequired", "InvalidAuthorizationDetailsError",
    "InvalidRequestUri", "LoginRequired", "Parameters", "ResponseMode", "ResponseTarget",
    "UnmetAuthenticationRequirements", "UnsupportedResponseType", "parse_claims", "parse_parameters", "push_request",
    "resolve_request", "take_pushed_request", "text", "validate_request", "verified_redirect_uri",
]
