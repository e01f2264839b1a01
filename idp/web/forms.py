"""Form bodies of the OAuth endpoints (token, revocation, introspection, UserInfo, PAR): RFC 6749 §3.2 says a
repeated parameter is an error and one without a value counts as absent (§3.1)::

    form = await read_form(request)  # {"grant_type": "authorization_code", ...}
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

from litestar import Request

from idp.errors import InvalidRequest

#: Largest form body accepted at the token, revocation, introspection and userinfo endpoints.
MAX_FORM_BODY: Final = 64 * 1024
_MAX_FIELDS: Final = 32
_FORM: Final = "application/x-www-form-urlencoded"

AnyRequest = Request[Any, Any, Any]


async def read_form(request: AnyRequest) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body as a mapping (RFC 6749 §3.2): a repeated parameter is
    an error, one without a value counts as absent (§3.1)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        raise InvalidRequest(f"the request body must be {_FORM}")
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the form body is malformed or has too many parameters") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequest(f"parameter {name} is repeated (RFC 6749 §3.2)")
        form[name] = value
    return {name: value for name, value in form.items() if value}


__all__ = ["MAX_FORM_BODY", "AnyRequest", "read_form"]
