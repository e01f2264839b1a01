"""Card-login state in the objects table, on SQLite and PostgreSQL: tickets, one-time challenges, the result
collected once."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.login.store import CardLogins, interaction_binding
from idp.storage import Database, ObjectStore
from keys.jose.b64 import b64url_encode as b64
from keys.x509.profile import Purpose

pytestmark = pytest.mark.anyio
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=10)
UID = "u" * 43


async def test_tickets_name_the_current_page_only(db: Database) -> None:
    logins = CardLogins(ObjectStore(db))
    first = await logins.open(UID, key=Purpose.AUTH, client_id="rp", client_name="rp", expires_at=LATER, now=NOW)
    assert (await logins.by_ticket("token", first.token, NOW)) is not None
    assert (await logins.by_ticket("code", first.code, NOW)) is not None
    assert await logins.by_ticket("token", "x" * 43, NOW) is None
    # a reload
    second = await logins.open(UID, key=Purpose.SIGN, client_id="rp", client_name="rp", expires_at=LATER, now=NOW)
    assert await logins.by_ticket("token", first.token, NOW) is None
    assert await logins.by_ticket("code", first.code, NOW) is None
    login = await logins.by_ticket("token", second.token, NOW)
    assert login is not None
    assert login.key is Purpose.SIGN
    assert await logins.by_ticket("token", second.token, LATER) is None  # expired with the login


async def test_challenges_are_single_use_and_bound_to_their_login(db: Database) -> None:
    logins = CardLogins(ObjectStore(db))
    opened = await logins.open(UID, key=Purpose.AUTH, client_id="rp", client_name="rp", expires_at=LATER, now=NOW)
    other = await logins.open("v" * 43, key=Purpose.AUTH, client_id="rp", client_name="rp", expires_at=LATER, now=NOW)
    login = await logins.by_ticket("token", opened.token, NOW)
    other_login = await logins.by_ticket("token", other.token, NOW)
    assert login is not None
    assert other_login is not None
    ttl = dt.timedelta(seconds=120)
    value, issued_at = await logins.challenge(login, ttl=ttl, now=NOW.replace(microsecond=123))
    assert issued_at == NOW
    assert await logins.take_challenge(other_login, b64(value), NOW) is None  # another login's: refused...
    value, _ = await logins.challenge(login, ttl=ttl, now=NOW)
    assert await logins.take_challenge(login, b64(value), NOW) == NOW
    assert await logins.take_challenge(login, b64(value), NOW) is None  # a replay
    value, _ = await logins.challenge(login, ttl=ttl, now=NOW)
    assert await logins.take_challenge(login, b64(value), NOW + ttl) is None  # expired


async def test_the_result_is_collected_once_and_then_gone(db: Database) -> None:
    objects = ObjectStore(db)
    logins = CardLogins(objects)
    opened = await logins.open(UID, key=Purpose.SIGN, client_id="rp", client_name="rp", expires_at=LATER, now=NOW)
    login = await logins.get(UID, NOW)
    assert login is not None
    assert await logins.collect(login, NOW) is None  # still pending: nothing to collect, nothing consumed
    await logins.settle(login, "verified", result={"account_id": "a", "claims": {"name": "試験"}})
    verified = await logins.get(UID, NOW)
    assert verified is not None
    assert verified.state == "verified"
    assert await logins.collect(verified, NOW) == {"account_id": "a", "claims": {"name": "試験"}}
    assert await logins.collect(verified, NOW) is None
    assert await logins.get(UID, NOW) is None
    assert await logins.by_ticket("code", opened.code, NOW) is None


def test_the_message_binds_a_hash_of_the_interaction_not_the_uid() -> None:
    binding = interaction_binding(UID)
    assert UID not in binding
    assert binding != interaction_binding("v" * 43)
    assert len(binding) == 43
