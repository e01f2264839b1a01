"""Which kind of token the card agent says it used: the plastic card or a smartphone (スマホ用電子証明書).

The agent reads EF 0006 (``cardreader.jpki.TokenType``) and reports its value as ``token_type`` with the signed
answer. It is what the reader saw, not something the provider can verify (the certificate does not say, as far as
public sources tell: jpki-card-and-certs.md §4), so it is used for display and audit only — never for a decision::

    token_kind("smartphone-android")   # "smartphone"
    token_kind("card")                 # "card"
    token_kind(None)                   # None (an older agent, or anything else)
"""

from __future__ import annotations

from typing import Final, Literal

_KINDS: Final[dict[str, Literal["card", "smartphone"]]] = {
    "card": "card", "smartphone-android": "smartphone", "smartphone-ios": "smartphone"}


def token_kind(value: object) -> Literal["card", "smartphone"] | None:
    """``card``, ``smartphone`` or ``None`` for the agent's ``token_type`` member."""
    return _KINDS.get(value) if isinstance(value, str) else None


__all__ = ["token_kind"]
