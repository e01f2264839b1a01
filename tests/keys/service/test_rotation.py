"""The rotation schedule (pure): publish before use, one current key, retention after retirement."""

from __future__ import annotations

import datetime as dt

import pytest

from keys.service.rotation import (
    RotationPolicy,
    current_key,
    expired_keys,
    plan_successor,
    published_keys,
)
from keys.service.store import KeyState, StoredKey

T0 = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
POLICY = RotationPolicy(interval=30 * DAY, publish_lead=DAY, retention=dt.timedelta(hours=2))


def key(kid: str, generation: int, activate_at: dt.datetime, alg: str = "ES256", retire_at: dt.datetime | None = None,
        expires_at: dt.datetime | None = None) -> StoredKey:
    return StoredKey(kid=kid, alg=alg, generation=generation, backend="software", ref=None, wrapped=None,
                     public_jwk={"kid": kid}, created_at=activate_at - DAY, activate_at=activate_at,
                     retire_at=retire_at, expires_at=expires_at)


def test_first_start_activates_every_algorithm_at_once() -> None:
    plan = plan_successor([], "ES256", POLICY, T0)
    assert plan is not None
    assert (plan.generation, plan.activate_at, plan.retire) == (1, T0, None)


def test_an_algorithm_added_later_waits_for_the_lead() -> None:
    plan = plan_successor([key("a", 1, T0)], "PS256", POLICY, T0 + DAY)
    assert plan is not None
    assert plan.activate_at == T0 + 2 * DAY


def test_successor_is_due_one_lead_before_the_interval_ends() -> None:
    keys = [key("a", 1, T0)]
    assert plan_successor(keys, "ES256", POLICY, T0 + 29 * DAY - dt.timedelta(seconds=1)) is None
    plan = plan_successor(keys, "ES256", POLICY, T0 + 29 * DAY)
    assert plan is not None
    assert plan.generation == 2
    assert plan.activate_at == T0 + 30 * DAY
    assert plan.retire is not None
    assert (plan.retire.kid, plan.retire.retire_at, plan.retire.expires_at) == (
        "a", T0 + 30 * DAY, T0 + 30 * DAY + POLICY.retention)


def test_late_rotation_still_publishes_a_full_lead_ahead() -> None:
    plan = plan_successor([key("a", 1, T0)], "ES256", POLICY, T0 + 90 * DAY)
    assert plan is not None
    assert plan.activate_at == T0 + 91 * DAY


def test_forced_rotation_keeps_the_lead_and_never_stacks_successors() -> None:
    keys = [key("a", 1, T0)]
    plan = plan_successor(keys, "ES256", POLICY, T0 + DAY, force=True)
    assert plan is not None
    assert plan.activate_at == T0 + 2 * DAY
    waiting = [key("a", 1, T0, retire_at=plan.activate_at), key("b", 2, plan.activate_at)]
    assert plan_successor(waiting, "ES256", POLICY, T0 + DAY, force=True) is None


def test_states_and_publication_follow_time() -> None:
    a = key("a", 1, T0, retire_at=T0 + 30 * DAY, expires_at=T0 + 30 * DAY + POLICY.retention)
    b = key("b", 2, T0 + 30 * DAY)
    keys = [a, b]
    before, switch, gone = T0 + 29 * DAY, T0 + 30 * DAY, T0 + 30 * DAY + POLICY.retention
    assert (a.state(before), b.state(before)) == (KeyState.CURRENT, KeyState.NEXT)
    assert current_key(keys, "ES256", before) is a
    assert (a.state(switch), b.state(switch)) == (KeyState.RETIRED, KeyState.CURRENT)
    assert current_key(keys, "ES256", switch) is b
    assert [k.kid for k in published_keys(keys, before)] == ["a", "b"]
    assert [k.kid for k in published_keys(keys, switch)] == ["b", "a"]
    assert [k.kid for k in published_keys(keys, gone)] == ["b"]
    assert expired_keys(keys, gone) == [a]
    assert current_key(keys, "PS256", switch) is None


@pytest.mark.parametrize(("interval", "lead", "retention"), [(DAY, DAY, DAY), (DAY, 2 * DAY, DAY), (DAY, DAY * 0, DAY),
                                                             (2 * DAY, DAY, -DAY)])
def test_inconsistent_policies_are_refused(interval: dt.timedelta, lead: dt.timedelta, retention: dt.timedelta) -> None:
    with pytest.raises(ValueError, match="must be"):
        RotationPolicy(interval, lead, retention)
