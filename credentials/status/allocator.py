"""Random Status List index allocation without reuse (HAIP 1.0: every credential gets a unique random index;
draft-ietf-oauth-status-list §12.5 unlinkability, §13.2 double allocation).

An index is drawn uniformly at random from the free indices' bitmap: a few random probes first (cheap while the
list is sparse), then a scan from a random start. Indices are never handed out twice; a full list raises
``status_list_full`` and the issuer starts a new list. The list size is bounded by :data:`MAX_ENTRIES`.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable

from credentials.errors import CredentialReason, StatusListFull

#: Largest list an allocator manages: 2^26 entries (8 MiB of 1-bit statuses, 1 MiB of allocation bitmap).
MAX_ENTRIES = 1 << 26
_PROBES = 32


class IndexAllocator:
    """Hands out each index of a ``size``-entry list at most once, in random order.

    ``allocated`` restores the state from storage (the indices already in use); ``rng`` defaults to the OS CSPRNG
    (an index must not be predictable from earlier ones).
    """

    __slots__ = ("_rng", "_used", "allocated_count", "size")

    def __init__(self, size: int, *, allocated: Iterable[int] = (), rng: random.Random | None = None) -> None:
        if not 0 < size <= MAX_ENTRIES:
            raise ValueError(f"a Status List has 1 to {MAX_ENTRIES} entries")
        self.size = size
        self._rng = rng if rng is not None else secrets.SystemRandom()
        self._used = bytearray((size + 7) // 8)
        self.allocated_count = 0
        for index in allocated:
            if self.is_allocated(index):
                raise ValueError(f"index {index} is listed twice")
            self._mark(index)

    def is_allocated(self, index: int) -> bool:
        """True when ``index`` has been handed out."""
        if not 0 <= index < self.size:
            raise IndexError("status index out of range")
        return bool(self._used[index >> 3] & (1 << (index & 7)))

    @property
    def free(self) -> int:
        """How many indices are left."""
        return self.size - self.allocated_count

    def allocate(self) -> int:
        """A fresh random index, never returned before by this allocator (or listed as allocated)."""
        if self.free == 0:
            raise StatusListFull(CredentialReason.STATUS_LIST_FULL, f"all {self.size} indices are allocated")
        for _ in range(_PROBES):
            index = self._rng.randrange(self.size)
            if not self.is_allocated(index):
                return self._mark(index)
        start = self._rng.randrange(self.size)
        for offset in range(self.size):
            index = (start + offset) % self.size
            if self._used[index >> 3] == 0xFF:
                continue
            if not self.is_allocated(index):
                return self._mark(index)
        raise AssertionError("free count and bitmap disagree")  # pragma: no cover

    def _mark(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError("status index out of range")
        self._used[index >> 3] |= 1 << (index & 7)
        self.allocated_count += 1
        return index
