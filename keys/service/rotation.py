"""The rotation schedule (pure: time is an argument).

Invariants (the pain points of oidc-anchors.md §4, row 1):

- a key is in the JWKS at least ``publish_lead`` before it signs, and ``publish_lead`` is at least the
  JWKS cache max-age plus the workers' key-cache TTL, so no relying party and no worker can meet a
  ``kid`` it has not been able to load;
- a key stays in the JWKS ``retention`` after it stops signing, and ``retention`` is at least the
  longest lifetime of a token it signs plus the clock tolerance;
- at any instant exactly one key per algorithm is current (each successor's activation is its
  predecessor's retirement).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from keys.service.store import KeyState, Retirement, StoredKey

_ZERO = dt.timedelta(0)
_STATE_ORDER = {KeyState.CURRENT: 0, KeyState.NEXT: 1, KeyState.RETIRED: 2}


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """How long a key signs (``interval``), how early it is published, how long it stays published."""

    interval: dt.timedelta
    publish_lead: dt.timedelta
    retention: dt.timedelta

    def __post_init__(self) -> None:
        if min(self.interval, self.publish_lead, self.retention) <= _ZERO:
            raise ValueError("rotation interval, publish lead and retention must be positive")
        if self.interval <= self.publish_lead:
            raise ValueError("the rotation interval must be longer than the publish lead")


@dataclass(frozen=True, slots=True)
class Successor:
    """A key to create: its algorithm, generation, activation, and the retirement of its predecessor."""

    alg: str
    generation: int
    activate_at: dt.datetime
    retire: Retirement | None


def current_key(keys: Sequence[StoredKey], alg: str, now: dt.datetime) -> StoredKey | None:
    """The key that signs ``alg`` at ``now``, if any."""
    current = [k for k in keys if k.alg == alg and k.state(now) is KeyState.CURRENT]
    return max(current, key=lambda k: k.generation) if current else None


def plan_successor(
    keys: Sequence[StoredKey], alg: str, policy: RotationPolicy, now: dt.datetime, *, force: bool = False
) -> Successor | None:
    """The next key to create for ``alg`` at ``now``, or None when none is due.

    With no key at all (first start) the first key of every algorithm signs at once: no JWKS can have
    been cached yet. A first key for an algorithm added later waits ``publish_lead``. Otherwise a
    successor is due ``publish_lead`` before the current key's interval ends, or at once when
    ``force`` is set; it is never created while another successor is still waiting to activate.
    """
    own = sorted((k for k in keys if k.alg == alg), key=lambda k: k.generation)
    if not own:
        return Successor(alg, 1, now if not keys else now + policy.publish_lead, None)
    last = own[-1]
    if last.activate_at > now:
        return None
    if not force and now < last.activate_at + policy.interval - policy.publish_lead:
        return None
    activate_at = now + policy.publish_lead
    if not force:
        activate_at = max(activate_at, last.activate_at + policy.interval)
    return Successor(alg, last.generation + 1, activate_at,
                     Retirement(last.kid, activate_at, activate_at + policy.retention))


def published_keys(keys: Sequence[StoredKey], now: dt.datetime) -> list[StoredKey]:
    """The keys of the JWKS at ``now``: current first, then next, then retired."""
    return sorted((k for k in keys if k.published(now)),
                  key=lambda k: (_STATE_ORDER[k.state(now)], k.alg, -k.generation))


def expired_keys(keys: Sequence[StoredKey], now: dt.datetime) -> list[StoredKey]:
    """The keys whose retention has ended at ``now``: out of the JWKS, ready to delete."""
    return [k for k in keys if not k.published(now)]
