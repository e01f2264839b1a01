"""Form bodies of the OAuth endpoints (token, revocation, introspection, UserInfo, PAR): RFC 6749 §3.2 says a
repeated parameter is an error and one without a value counts as absent (§3.1); the reading itself (media type,
size, field count, strict UTF-8) is :func:`servicekit.http.bodies.read_form`'s::

    form = await read_form(request)  # {"grant_type": "authorization_code", ...}
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request

from idp.errors import InvalidRequest
from servicekit.http import bodies

#: Largest form body accepted at the token, revocation, introspection and userinfo endpoints.
MAX_FORM_BODY: Final = 64 * 1024
_MAX_FIELDS: Final = 32

AnyRequest = Request[Any, Any, Any]


async def read_form(request: AnyRequest) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body as a mapping (RFC 6749 §3.2): a repeated parameter is
    an error, one without a value counts as absent (§3.1)."""
    try:
        form = await bodies.read_form(request, max_bytes=MAX_FORM_BODY, max_fields=_MAX_FIELDS)
    except bodies.BodyError as exc:
        raise InvalidRequest(exc.description) from None
    return {name: value for name, value in form.items() if value}


__all__ = ["MAX_FORM_BODY", "AnyRequest", "read_form"]
