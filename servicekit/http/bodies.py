"""Request bodies, read once and bounded: form bodies and JSON objects (and fetched JSON documents).

Every form or JSON body either service reads goes through here, so each one is bounded in size, field count and
nesting depth, decoded as strict UTF-8, and refused with a typed :class:`BodyError` (never a 500)::

    form = await read_form(request, max_bytes=64 * 1024, max_fields=32)   # a repeated parameter is refused
    document = await read_json(request, max_bytes=256 * 1024)            # one JSON object, depth <= 32
    pairs = parse_form_pairs(body, max_bytes=4096, max_fields=16)         # repeated names kept, in order

JSON follows :func:`keys.jose.json.loads_object` (I-JSON, RFC 7493 §2: no duplicate member names, finite numbers,
no unpaired surrogates); its nesting depth is checked first by a scan of the brackets outside strings, so a body
of 10,000 nested arrays is refused before any parser recurses.
"""

from __future__ import annotations

import dataclasses
import re
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from keys.errors import Reason, VerificationError
from keys.jose.json import loads_value
from keys.limits import DEFAULT_LIMITS

if TYPE_CHECKING:
    from litestar import Request

FORM: Final = "application/x-www-form-urlencoded"
JSON: Final = "application/json"
#: Nesting depth allowed in request JSON when the endpoint names none (the top-level object is depth 1).
MAX_JSON_DEPTH: Final = DEFAULT_LIMITS.json_depth


class BodyReason(StrEnum):
    """Why a body was refused."""

    MEDIA_TYPE = "media_type"
    TOO_LARGE = "too_large"
    TOO_MANY_FIELDS = "too_many_fields"
    NOT_UTF8 = "not_utf8"
    REPEATED_PARAMETER = "repeated_parameter"
    MALFORMED = "malformed"
    DUPLICATE_MEMBER = "duplicate_member"
    TOO_DEEP = "too_deep"
    NOT_AN_OBJECT = "not_an_object"
    NOT_AN_ARRAY = "not_an_array"


class BodyError(Exception):
    """A request body that is refused; ``description`` is safe to show the client (no body content in it)."""

    def __init__(self, reason: BodyReason, description: str) -> None:
        super().__init__(f"{reason.value}: {description}")
        self.reason = reason
        self.description = description


def media_type(request: Request[Any, Any, Any]) -> str:
    """The request's ``Content-Type`` without parameters, lower case (``""`` when absent)."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _check_media_type(request: Request[Any, Any, Any], expected: str) -> None:
    if media_type(request) != expected:
        raise BodyError(BodyReason.MEDIA_TYPE, f"the request body must be {expected}")


def _check_size(body: bytes, max_bytes: int) -> None:
    if len(body) > max_bytes:
        raise BodyError(BodyReason.TOO_LARGE, f"the request body is larger than {max_bytes} octets")


def parse_form_pairs(body: bytes, *, max_bytes: int, max_fields: int) -> list[tuple[str, str]]:
    """The ``application/x-www-form-urlencoded`` pairs of ``body`` in order (WHATWG URL §5.1), repeated names and
    empty values kept; the octets and each percent-decoded value must be UTF-8."""
    _check_size(body, max_bytes)
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields, errors="strict")
    except UnicodeDecodeError:
        raise BodyError(BodyReason.NOT_UTF8, "the form body is not UTF-8") from None
    except ValueError:  # parse_qsl: more than max_num_fields
        raise BodyError(BodyReason.TOO_MANY_FIELDS, f"the form body has more than {max_fields} parameters") from None


def parse_form(body: bytes, *, max_bytes: int, max_fields: int) -> dict[str, str]:
    """The form's parameters as a mapping; a repeated parameter is refused (RFC 6749 §3.1: "Request and response
    parameters MUST NOT be included more than once"). Empty values are kept (§3.1 lets the caller drop them)."""
    form: dict[str, str] = {}
    for name, value in parse_form_pairs(body, max_bytes=max_bytes, max_fields=max_fields):
        if name in form:
            raise BodyError(BodyReason.REPEATED_PARAMETER, f"parameter {name} is repeated (RFC 6749 §3.1)")
        form[name] = value
    return form


async def read_form(request: Request[Any, Any, Any], *, max_bytes: int, max_fields: int) -> dict[str, str]:
    """:func:`parse_form` of the request's body, which must be ``application/x-www-form-urlencoded``."""
    _check_media_type(request, FORM)
    return parse_form(await request.body(), max_bytes=max_bytes, max_fields=max_fields)


async def read_form_pairs(request: Request[Any, Any, Any], *, max_bytes: int, max_fields: int
                          ) -> list[tuple[str, str]]:
    """:func:`parse_form_pairs` of the request's body, which must be ``application/x-www-form-urlencoded``."""
    _check_media_type(request, FORM)
    return parse_form_pairs(await request.body(), max_bytes=max_bytes, max_fields=max_fields)


#: A JSON string (RFC 8259 §7), matched without backtracking.
_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(rb"[^\[\]{}]++")
_OPENING: Final = frozenset(b"[{")


def check_json_depth(data: bytes, *, max_depth: int, what: str = "the request body") -> None:
    """Refuse JSON text nesting arrays and objects deeper than ``max_depth`` (the outermost one is depth 1),
    without parsing it: only brackets outside strings count. Malformed text is left for the parser."""
    depth = 0
    for byte in _NOT_BRACKET.sub(b"", _STRING.sub(b"", data)):
        if byte in _OPENING:
            depth += 1
            if depth > max_depth:
                raise BodyError(BodyReason.TOO_DEEP, f"{what} nests deeper than {max_depth}")
        else:
            depth -= 1


_REASONS: Final = {Reason.TOO_LARGE: BodyReason.TOO_LARGE, Reason.TOO_DEEP: BodyReason.TOO_DEEP,
                   Reason.DUPLICATE_MEMBER: BodyReason.DUPLICATE_MEMBER}
_NOT_A: Final = {"object": BodyReason.NOT_AN_OBJECT, "array": BodyReason.NOT_AN_ARRAY}


def _parse(data: bytes, *, max_bytes: int, max_depth: int, what: str, kind: str) -> Any:
    """The JSON value of ``data``, a ``kind`` (object or array), bounded in size and depth."""
    _check_size(data, max_bytes)
    check_json_depth(data, max_depth=max_depth, what=what)
    if not data.lstrip(b" \t\r\n").startswith(b"{" if kind == "object" else b"["):
        raise BodyError(_NOT_A[kind], f"{what} is not a JSON {kind}")
    limits = dataclasses.replace(DEFAULT_LIMITS, json_depth=max_depth)
    try:
        return loads_value(data, what=what, limits=limits, max_bytes=max_bytes)
    except VerificationError as exc:
        reason = _REASONS.get(exc.reason, BodyReason.MALFORMED)
        raise BodyError(reason, f"{what} is not one valid JSON {kind} ({reason.value})") from None


def parse_json(data: bytes, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH, what: str = "the request body"
               ) -> dict[str, Any]:
    """One JSON object (RFC 8259, I-JSON RFC 7493 §2) of at most ``max_bytes`` octets and ``max_depth`` levels;
    ``what`` names it in the error's description."""
    value: dict[str, Any] = _parse(data, max_bytes=max_bytes, max_depth=max_depth, what=what, kind="object")
    return value


def parse_json_array(data: bytes, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH, what: str = "the document"
                     ) -> list[Any]:
    """One JSON array under the rules of :func:`parse_json`: a fetched document that is a list, such as a
    sector_identifier_uri's (OIDC Dynamic Client Registration §5)."""
    value: list[Any] = _parse(data, max_bytes=max_bytes, max_depth=max_depth, what=what, kind="array")
    return value


async def read_json(request: Request[Any, Any, Any], *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH,
                    what: str = "the request body") -> dict[str, Any]:
    """:func:`parse_json` of the request's body, which must be ``application/json``."""
    _check_media_type(request, JSON)
    return parse_json(await request.body(), max_bytes=max_bytes, max_depth=max_depth, what=what)


__all__ = ["FORM", "JSON", "MAX_JSON_DEPTH", "BodyError", "BodyReason", "check_json_depth", "media_type",
           "parse_form", "parse_form_pairs", "parse_json", "parse_json_array", "read_form", "read_form_pairs",
           "read_json"]
