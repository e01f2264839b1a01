"""Strict JSON for JOSE headers, JWT claims and JWKs.

RFC 7515 §5.2 step 4 and RFC 7519 §7.2 step 9 let a recipient reject duplicate member names, and must: two
parsers that keep different duplicates read two different tokens from one signature. We also follow I-JSON
(RFC 7493 §2): UTF-8 only, no unpaired surrogates, and only finite numbers (no ``NaN``/``Infinity``, no
``1e400``). Size and nesting depth are bounded (:mod:`keys.limits`) and the top level must be an object.

Failures are :class:`~keys.errors.MalformedInput` (``MALFORMED``, ``DUPLICATE_MEMBER``) or
:class:`~keys.errors.LimitExceeded` (``TOO_LARGE``, ``TOO_DEEP``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from keys.errors import LimitExceeded, MalformedInput, Reason
from keys.limits import DEFAULT_LIMITS, Limits, check_size


class _Duplicate(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Duplicate
    return result


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


#: A JSON escape that may decode to a surrogate (U+D800 to U+DFFF); the only way one enters decoded strings.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)


def loads_object(
    data: bytes | str, *, what: str, limits: Limits = DEFAULT_LIMITS, max_bytes: int | None = None
) -> dict[str, Any]:
    """Decode ``data`` (UTF-8 bytes or text) as one JSON object under the rules above.

    ``max_bytes`` defaults to ``limits.jws_bytes``; ``what`` names the input in error details.
    """
    value = loads_value(data, what=what, limits=limits, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise MalformedInput(Reason.MALFORMED, f"{what} is not a JSON object")
    return value


def loads_value(data: bytes | str, *, what: str, limits: Limits = DEFAULT_LIMITS, max_bytes: int | None = None
                ) -> Any:
    """:func:`loads_object` for any JSON value at the top level (documents that are arrays, such as a
    sector_identifier_uri's list)."""
    check_size(data, limits.jws_bytes if max_bytes is None else max_bytes, what)
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if not isinstance(data, bytes):
            _check_string(text, what)  # str input may carry surrogates of its own
        value = _DECODER.decode(text)
    except _Duplicate:
        raise MalformedInput(Reason.DUPLICATE_MEMBER, f"{what} has a duplicate member name") from None
    except RecursionError:
        raise LimitExceeded(Reason.TOO_DEEP, f"{what} nests deeper than {limits.json_depth}") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, constants, huge integers
        raise MalformedInput(Reason.MALFORMED, f"{what} is not valid JSON: {type(exc).__name__}") from None
    if isinstance(value, dict | list):
        _check_tree(value, what, limits.json_depth, strings=_SURROGATE_ESCAPE.search(text) is not None)
    elif isinstance(value, str) and _SURROGATE_ESCAPE.search(text):
        _check_string(value, what)
    return value


def _check_tree(root: dict[str, Any] | list[Any], what: str, max_depth: int, *, strings: bool) -> None:
    """Depth bound (the top-level object is depth 1) and, when ``strings``, I-JSON strings, without recursion.

    Decoded text holds no surrogate (it came from UTF-8, or :func:`loads_object` checked it), so a decoded string
    can hold one only through a ``\\uD800``-``\\uDFFF`` escape; when the text has none (``strings`` false) the
    walk skips strings and visits containers only."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise LimitExceeded(Reason.TOO_DEEP, f"{what} nests deeper than {max_depth}")
        if isinstance(value, dict):
            if strings:
                for key in value:
                    _check_string(key, what)
            children: Any = value.values()
        else:
            children = value
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif strings and isinstance(child, str):
                _check_string(child, what)


def _check_string(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedInput(Reason.MALFORMED, f"{what} has an unpaired surrogate") from None
