"""How the documents a card signs are shown to people: the same on the provider's consent page and on the card
agent's PIN pad, so a person can compare them.

* :func:`grouped_hex`: a digest as upper-case hex in groups of four (``9F86 D081 884C …``);
* :func:`displayable_label`: whether a document label may be shown: 1 to :data:`MAX_LABEL_CHARS` characters, none
  of them a control, format (bidi overrides), line or paragraph separator, surrogate, private-use or unassigned
  character, no leading or trailing space — nothing that could hide or reorder text on either screen.
"""

from __future__ import annotations

import unicodedata
from typing import Final

MAX_LABEL_CHARS: Final = 100
_GROUP: Final = 4
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def grouped_hex(digest: bytes) -> str:
    """``digest`` as upper-case hex in groups of four, separated by spaces."""
    text = digest.hex().upper()
    return " ".join(text[i:i + _GROUP] for i in range(0, len(text), _GROUP))


def displayable_label(label: object) -> bool:
    """Whether ``label`` is a string that may be shown as a document's name (see the module docstring)."""
    return (isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS and label == label.strip()
            and not any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in label))


__all__ = ["MAX_LABEL_CHARS", "displayable_label", "grouped_hex"]
