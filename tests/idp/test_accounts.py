"""The key → account table (SQLite and PostgreSQL): a key alone is its own account, a joining key takes the
first key's account, a key already in an account is refused with nothing changed, concurrent links of one key
record one, unlink gives the key back its own account, the first key cannot leave and a second unlink is refused,
and an account lists its keys (first key first)."""

from __future__ import annotations

import datetime as dt

import anyio
import pytest

from idp.login.accounts import Accounts, LinkRefused
from idp.storage import Database, ObjectStore
from tests.idp.conftest import NOW

pytestmark = pytest.mark.anyio


async def test_linking_keeps_the_first_keys_account(db: Database) -> None:
    accounts = Accounts(ObjectStore(db))
    alone = await accounts.of("auth-1", NOW)
    assert (alone.account_id, alone.linked) == ("auth-1", False)
    assert await accounts.link("auth-1", "sign-1", NOW, via="card", assurance={"issuer": "CN=x"}) == "auth-1"
    assert (await accounts.of("sign-1", NOW)).account_id == "auth-1"
    assert (await accounts.of("auth-1", NOW)).account_id == "auth-1"
    assert await accounts.account_assurance("auth-1", NOW) == {"issuer": "CN=x"}
    # the same card again: nothing changes
    assert await accounts.link("auth-1", "sign-1", NOW, via="card") == "auth-1"
    # a renewed key joins through any key of the account, and reaches the same account
    assert await accounts.link("sign-1", "auth-2", NOW, via="operator") == "auth-1"
    assert (await accounts.of("auth-2", NOW)).account_id == "auth-1"
    assert await accounts.account_assurance("auth-1", NOW) == {"issuer": "CN=x"}  # kept


async def test_a_key_in_an_account_is_never_moved(db: Database) -> None:
    accounts = Accounts(ObjectStore(db))
    await accounts.link("auth-a", "sign-a", NOW, via="card")
    for first, joining in (("auth-b", "sign-a"), ("auth-b", "auth-a")):  # a member, then a first key
        with pytest.raises(LinkRefused) as refused:
            await accounts.link(first, joining, NOW, via="card")
        assert refused.value.reason == "key_already_linked"
    assert (await accounts.of("sign-a", NOW)).account_id == "auth-a"
    assert (await accounts.of("auth-b", NOW)).linked is False  # nothing recorded for the refused link


async def test_concurrent_links_of_one_key_record_one(db: Database) -> None:
    accounts = Accounts(ObjectStore(db))
    outcomes: list[str] = []

    async def link(first: str) -> None:
        try:
            outcomes.append(await accounts.link(first, "sign-x", NOW, via="card"))
        except LinkRefused as exc:
            outcomes.append(exc.reason)

    async with anyio.create_task_group() as group:
        for first in ("auth-p", "auth-q", "auth-r"):
            group.start_soon(link, first)
    winners = [o for o in outcomes if o != "key_already_linked"]
    assert len(winners) == 1
    assert (await accounts.of("sign-x", NOW)).account_id == winners[0]


async def test_unlink(db: Database) -> None:
    accounts = Accounts(ObjectStore(db))
    await accounts.link("auth-u", "sign-u", NOW, via="card")
    with pytest.raises(LinkRefused) as refused:
        await accounts.unlink("auth-u", NOW)
    assert refused.value.reason == "first_key"
    assert await accounts.unlink("sign-u", NOW) == "auth-u"
    assert (await accounts.of("sign-u", NOW)).account_id == "sign-u"
    for key_id in ("sign-u", "never-linked"):
        with pytest.raises(LinkRefused) as refused:
            await accounts.unlink(key_id, NOW)
        assert refused.value.reason == "not_linked"
    assert (await accounts.of("auth-u", NOW)).account_id == "auth-u"
    await accounts.link("auth-v", "sign-u", NOW, via="card")  # free to join another account now
    assert (await accounts.of("sign-u", NOW)).account_id == "auth-v"


async def test_an_account_lists_its_keys(db: Database) -> None:
    accounts = Accounts(ObjectStore(db))
    await accounts.link("auth-k", "sign-k", NOW, via="card")
    await accounts.link("auth-k", "auth-k2", NOW + dt.timedelta(days=1), via="operator")
    await accounts.link("auth-other", "sign-other", NOW, via="card")
    listed = [(key.key_id, key.first, key.via, key.linked_at) for key in await accounts.keys_of("auth-k", NOW)]
    assert listed == [("auth-k", True, "card", NOW), ("sign-k", False, "card", NOW),
                      ("auth-k2", False, "operator", NOW + dt.timedelta(days=1))]
    assert await accounts.keys_of("alone", NOW) == []
