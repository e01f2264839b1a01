"""The ``scope`` parameter (RFC 6749 §3.3): its syntax has one owner, here.

    scope       = scope-token *( SP scope-token )
    scope-token = 1*( %x21 / %x23-5B / %x5D-7E )

The authorization request, the token endpoint's refresh and client-credentials grants, and the tokens that
carry a scope all parse and write it with these two functions.

Usage::

    parse_scope("openid profile openid")    # ("openid", "profile"); InvalidScope when the syntax is wrong
    format_scope(("openid", "profile"))     # "openid profile"
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from idp.errors import InvalidScope

_SCOPE_TOKEN: Final = r"[\x21\x23-\x5b\x5d-\x7e]+"
_SCOPE: Final = re.compile(rf"{_SCOPE_TOKEN}(?: {_SCOPE_TOKEN})*")


def parse_scope(value: str) -> tuple[str, ...]:
    """The distinct scope values of a ``scope`` parameter, in order; :class:`InvalidScope` unless it matches
    RFC 6749 §3.3 (single spaces between non-empty tokens, no ``"`` or ``\\``, printable ASCII only)."""
    if not _SCOPE.fullmatch(value):
        raise InvalidScope("scope is a space-separated list of scope values (RFC 6749 §3.3)")
    return tuple(dict.fromkeys(value.split(" ")))


def format_scope(values: Iterable[str]) -> str:
    """The ``scope`` parameter for ``values`` (RFC 6749 §3.3: space-delimited)."""
    return " ".join(values)


__all__ = ["format_scope", "parse_scope"]
