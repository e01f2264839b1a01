"""A named set of plug-ins (grant types, ``authorization_details`` types, authenticators): the composition layer
registers them at start-up, the protocol looks them up by name::

    grants: Registry[GrantType] = Registry("grant type")
    grants.register("authorization_code", GRANT)
    grants.get("authorization_code")  # GRANT
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")


class Registry(Generic[_T]):
    """Plug-ins by name, in registration order."""

    def __init__(self, what: str, *, same: Callable[[_T, _T], bool] | None = None) -> None:
        self._what = what
        self._same = same or (lambda known, new: known == new)
        self._items: dict[str, _T] = {}

    def register(self, name: str, item: _T) -> None:
        """Add ``item`` under ``name``; registering the same one again replaces it, another one is an error."""
        known = self._items.get(name)
        if known is not None and not self._same(known, item):
            raise ValueError(f"{self._what} {name} is registered already")
        self._items[name] = item

    def get(self, name: str) -> _T | None:
        """The plug-in registered under ``name``, or None."""
        return self._items.get(name)

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._items)

    def items(self) -> tuple[_T, ...]:
        """The registered plug-ins, in registration order."""
        return tuple(self._items.values())


__all__ = ["Registry"]
