"""The ``scope`` syntax (RFC 6749 §3.3), owned by :mod:`idp.oauth.scope` for every endpoint that reads one."""

from __future__ import annotations

import pytest

from idp.errors import InvalidScope
from idp.oauth.scope import format_scope, parse_scope


def test_distinct_values_in_order() -> None:
    assert parse_scope("openid profile openid !#[]~") == ("openid", "profile", "!#[]~")
    assert format_scope(parse_scope("openid profile")) == "openid profile"


@pytest.mark.parametrize("value", ["", " openid", "openid ", "openid  profile", 'a"b', "a\\b", "a\tb", "é", "a\x7f"])
def test_malformed_scope_is_invalid_scope(value: str) -> None:
    with pytest.raises(InvalidScope):
        parse_scope(value)
