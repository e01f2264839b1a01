"""Card-login state in the objects table, on SQLite and PostgreSQL: tickets, one-time challenges, the result
collected once, the answer recorded by one process waking the page that waits in another."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

import pytest

from idp.login import progress
from idp.login.signals import Signals
from idp.login.store import CardLogins, interaction_binding
from idp.runtime import Services, utcnow
from idp.storage import Database, ObjectStore
from keys.jose.b64 import b64url_encode as b64
from keys.x509.profile import Purpose
from tests.idp.protocol.clientfixtures import workers  # noqa: F401  (the fixture)
from tests.support.processes import free_port

pytestmark = pytest.mark.anyio
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=10)
UID = "u" * 43


async def test_tickets_name_the_current_page_only(db: Database) -> None:
    logins = CardLogins(ObjectStore(db), db)
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
    logins = CardLogins(ObjectStore(db), db)
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
    logins = CardLogins(objects, db)
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


#: Another worker's process recording the card's answer (a failed one) for the login of interaction argv[2].
_SETTLE_ELSEWHERE = """
import asyncio, sys
from idp.login.store import CardLogins
from idp.runtime import utcnow
from idp.storage import Database, ObjectStore

async def main(url, uid):
    db = Database.connect(url)
    try:
        logins = CardLogins(ObjectStore(db), db)
        login = await logins.get(uid, utcnow())
        await logins.settle(login, "failed", error={"reason": "card_error"})
    finally:
        await db.dispose()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_an_answer_recorded_in_another_process_wakes_the_waiting_page(
        workers: tuple[Services, Services], db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """On PostgreSQL the recorder announces the answer (NOTIFY) and the waiting worker, listening, wakes at once:
    its own timed re-check is raised here to two minutes, so only the announcement can wake it within 30 s. On
    SQLite, where no announcement crosses processes, the short re-check finds the answer."""
    monkeypatch.setattr(progress, "LISTENING_RECHECK", 120.0)
    services, now = workers[0], utcnow()
    await CardLogins.of(services).open(UID, key=Purpose.AUTH, client_id="rp", client_name="rp",
                                       expires_at=now + dt.timedelta(minutes=10), now=now)
    seen = await progress.current_view(services, UID)
    assert seen is not None
    assert seen["state"] == "pending"
    waiting = asyncio.create_task(progress.next_view(services, UID, seen,
                                                     deadline=asyncio.get_running_loop().time() + 300))
    await asyncio.sleep(0.5)  # it listens (PostgreSQL) and has read the pending view
    assert not waiting.done()
    recorder = await asyncio.create_subprocess_exec(sys.executable, "-c", _SETTLE_ELSEWHERE, db_url, UID,
                                                    cwd=Path(__file__).resolve().parents[3])
    assert await recorder.wait() == 0
    view = await asyncio.wait_for(waiting, timeout=30)
    assert view is not None
    assert view["state"] == "failed"


async def test_a_notice_that_cannot_be_sent_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """The answer is written before it is announced: a database gone in between fails no card response (the other
    workers' pages find the answer at their next re-check)."""
    gone = Database.connect(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        await Signals().announce(gone, UID)
    finally:
        await gone.dispose()
    assert "card_login_notice_lost" in caplog.text


def test_the_message_binds_a_hash_of_the_interaction_not_the_uid() -> None:
    binding = interaction_binding(UID)
    assert UID not in binding
    assert binding != interaction_binding("v" * 43)
    assert len(binding) == 43
