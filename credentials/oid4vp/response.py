"""The Authorization Response a Wallet posts to the ``response_uri`` (OpenID4VP 1.0 §8.1 to §8.3, §8.5).

:func:`parse_response` reads the ``application/x-www-form-urlencoded`` body for the request's Response Mode:

* ``direct_post`` (§8.2): ``vp_token`` (a JSON-encoded object) and ``state`` in the clear; an encrypted
  ``response`` is ``wrong_response_mode``;
* ``direct_post.jwt`` (§8.3): only ``response``, the encrypted JWT whose payload holds ``vp_token`` and
  ``state`` (:meth:`~credentials.oid4vp.encryption.ResponseKey.decrypt`). A ``vp_token`` in the clear is
  ``wrong_response_mode`` (a downgrade the Verifier never asked for); an unencrypted *error* response is accepted,
  as §8.3 allows a Wallet that cannot encrypt;
* an error response (§8.5: ``error``, optional ``error_description``) is ``wallet_error`` carrying the Wallet's
  error code (``access_denied``, ...), checked to be a short RFC 6749 error code.

The ``state`` must be the transaction's (§5.3, §14.3.2: ``state_mismatch``); the ``vp_token`` shape is checked
against the query by :func:`credentials.oid4vp.presentation.verify_vp_token`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from credentials.oid4vp.encryption import ENC_VALUES, MAX_RESPONSE_CHARS, ResponseKey
from credentials.oid4vp.errors import PresentationError, VerifierReason
from credentials.oid4vp.request import ResponseMode
from keys.errors import VerificationError
from keys.jose.json import loads_object

#: RFC 6749 §5.2 error codes: %x20-21 / %x23-5B / %x5D-7E; we accept the registered shape only.
_ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")


@dataclass(frozen=True, slots=True)
class AuthorizationResponse:
    """A successful Authorization Response: the (unverified) VP Token and the ``state``."""

    vp_token: Mapping[str, Any]
    state: str | None


def parse_response(
    form: Mapping[str, str], *, mode: ResponseMode, key: ResponseKey | None,
    enc_values: Collection[str] = ENC_VALUES,
) -> AuthorizationResponse:
    """The response parameters of ``form`` for a request made with ``mode`` (rules in the module docstring)."""
    _refuse_error(form)
    if mode is ResponseMode.DIRECT_POST:
        if "response" in form:
            raise PresentationError(VerifierReason.WRONG_RESPONSE_MODE, "encrypted response to a direct_post request")
        return AuthorizationResponse(_vp_token(form.get("vp_token")), form.get("state"))
    if "vp_token" in form:
        raise PresentationError(VerifierReason.WRONG_RESPONSE_MODE, "vp_token in the clear; direct_post.jwt was asked")
    if key is None:
        raise ValueError("direct_post.jwt needs the request's response key")
    payload = key.decrypt(form.get("response"), enc_values=enc_values)
    _refuse_error(payload)
    state = payload.get("state")
    if state is not None and not isinstance(state, str):
        raise PresentationError(VerifierReason.VP_TOKEN_MALFORMED, "state is not a string")
    return AuthorizationResponse(_vp_token(payload.get("vp_token")), state)


def _refuse_error(parameters: Mapping[str, Any]) -> None:
    """An error response (§8.5) becomes ``wallet_error`` with the Wallet's error code."""
    if "error" in parameters:
        code = parameters["error"]
        shown = code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else "unrecognised error code"
        raise PresentationError(VerifierReason.WALLET_ERROR, shown)


def check_state(received: str | None, expected: str) -> None:
    """The response's ``state`` is the transaction's (compared in constant time)."""
    if received is None or not hmac.compare_digest(received.encode(), expected.encode()):
        raise PresentationError(VerifierReason.STATE_MISMATCH, "state is not this transaction's")


def _vp_token(value: object) -> Mapping[str, Any]:
    """``vp_token``: a JSON object, or (form-encoded) the JSON text of one, strictly parsed."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str):
        raise PresentationError(VerifierReason.VP_TOKEN_MALFORMED, "no vp_token")
    try:
        return loads_object(value, what="vp_token", max_bytes=MAX_RESPONSE_CHARS)
    except VerificationError as exc:
        raise PresentationError(VerifierReason.VP_TOKEN_MALFORMED, f"vp_token is not a JSON object ({exc.reason.value})"
                                ) from None
