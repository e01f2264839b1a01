"""Reading authorization request parameters from a query string or form body (RFC 6749 §3.1, §4.1.1): each at
most once (empty ones count as absent), each within its size limit (:data:`LIMITS`), at most
:data:`MAX_PARAMETERS` of them in at most :data:`MAX_REQUEST_OCTETS`::

    params = parse_parameters(b"response_type=code&client_id=rp")
    text(params, "client_id")  # "rp"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from idp.errors import InvalidRequest
from servicekit.http.bodies import BodyError, parse_form_pairs

#: Most parameters one authorization request (query or form body) may have, and its largest size.
MAX_PARAMETERS: Final = 64
MAX_REQUEST_OCTETS: Final = 32 * 1024
#: Largest value of any parameter not in :data:`LIMITS`.
DEFAULT_LIMIT: Final = 2048
#: The authorization request's parameters, as the OpenAPI document lists them for /authorize and /par (RFC 6749
#: §4.1.1, OIDC Core §3.1.2.1, RFC 7636 §4.3, RFC 9101 §5, RFC 9126 §4, RFC 9396 §2, RFC 9449 §10, OpenID4VCI 1.0
#: §5.1.3).
REQUEST_PARAMETERS: Final = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                             "code_challenge_method", "response_mode", "prompt", "max_age", "ui_locales",
                             "login_hint", "acr_values", "claims", "request", "request_uri", "authorization_details",
                             "dpop_jkt", "issuer_state", "sign_transaction_id")
#: Largest value, in characters, of the parameters that have their own limit.
LIMITS: Final[Mapping[str, int]] = {"client_id": 255, "redirect_uri": 2000, "state": 2048, "nonce": 512,
                                    "scope": 1024, "response_type": 64, "response_mode": 64, "code_challenge": 128,
                                    "code_challenge_method": 16, "prompt": 128, "max_age": 10, "login_hint": 256,
                                    "ui_locales": 256, "acr_values": 1024, "claims": 4096, "dpop_jkt": 128,
                                    "request": 24 * 1024, "request_uri": 512, "authorization_details": 4096,
                                    "issuer_state": 512, "sign_transaction_id": 64}
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


#: Query or form parameters: a value per name, a tuple for a repeated name. Request objects give JSON values.
Parameters = Mapping[str, Any]


def parse_parameters(encoded: bytes) -> dict[str, Any]:
    """The parameters of a query string or form body (``application/x-www-form-urlencoded``), bounded; a
    repeated parameter maps to the tuple of its values (an error only if it is used); empty ones are dropped
    (RFC 6749 §3.1). Raises :class:`idp.errors.InvalidRequest` for oversize or undecodable input."""
    try:
        pairs = parse_form_pairs(encoded, max_bytes=MAX_REQUEST_OCTETS, max_fields=MAX_PARAMETERS)
    except BodyError as exc:
        raise InvalidRequest(exc.description) from None
    params: dict[str, Any] = {}
    for name, value in ((name, value) for name, value in pairs if value):
        previous = params.get(name)
        params[name] = value if previous is None else (*(previous if isinstance(previous, tuple) else (previous,)),
                                                       value)
    return params


def text(params: Parameters, name: str) -> str | None:
    """The single string value of ``name`` (None when absent), within its limit and without control characters."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, tuple):
        raise InvalidRequest(f"parameter {name} is repeated (RFC 6749 §3.1)")
    if not isinstance(value, str):
        raise InvalidRequest(f"parameter {name} must be a string")
    limit = LIMITS.get(name, DEFAULT_LIMIT)
    if len(value) > limit:
        raise InvalidRequest(f"parameter {name} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise InvalidRequest(f"parameter {name} contains control characters")
    return value


def words(params: Parameters, name: str) -> tuple[str, ...]:
    """The distinct space-separated words of ``name``, in order."""
    value = text(params, name)
    return () if value is None else tuple(dict.fromkeys(value.split()))



__all__ = ["DEFAULT_LIMIT", "LIMITS", "MAX_PARAMETERS", "MAX_REQUEST_OCTETS", "REQUEST_PARAMETERS", "Parameters",
           "parse_parameters", "text", "words"]
