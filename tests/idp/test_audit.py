"""The provider's audit trail: events of a login (test authenticator), consent, token issuance, a registration and
a credential status change, with references only; concurrent appends from two workers (SQLite and PostgreSQL)
keep one chain; retention; ``idp audit export|verify`` catching each kind of tampering."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from idp.jobs import cleanup
from idp.runtime import open_services
from idp.storage import Database, migrate
from idp.storage.audit import FIELDS, account_ref, audit_trail, record
from idp.storage.tables import audit_log
from servicekit.audit import AuditFieldError
from tests.idp.conftest import settings_for
from tests.idp.protocol.conftest import Browser
from tests.idp.protocol.tokenkit import KEK, REDIRECT_URI, Provider, provider
from tests.idp.test_cli import Idp
from tests.support.postgres import Cluster

ADMIN_TOKEN = secrets.token_urlsafe(32)
NAME, BIRTHDATE = "山田太郎", "1990-01-01"


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test", MYNACARD_REGISTRATION_MODE="open",
                  MYNACARD_CREDENTIALS_ADMIN_TOKEN=ADMIN_TOKEN) as p:
        yield p


def entries(op: Provider) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        trail = audit_trail(op.services.settings, op.services.db)
        assert (await trail.verify()).ok
        return [json.loads(entry.to_json()) async for entry in trail.iter_entries()]
    return op.call(read)


def test_events_carry_references_and_no_personal_data(op: Provider) -> None:
    registered = op.http.post("/register", json={"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"})
    assert registered.status_code == 201, registered.text
    rp = op.register("rp-public")
    arrival = Browser(op, account="alice").authorize(
        rp, scope="openid profile", login_claims={"name": NAME, "birthdate": BIRTHDATE}, approve=["name"],
        claims=json.dumps({"id_token": {"name": None, "birthdate": None}}))
    tokens = op.http.post("/token", data={"grant_type": "authorization_code", "code": arrival.code,
                                          "redirect_uri": REDIRECT_URI, "code_verifier": arrival.verifier,
                                          "client_id": "rp-public"})
    assert tokens.status_code == 200, tokens.text
    replayed = op.http.post("/token", data={"grant_type": "authorization_code", "code": arrival.code,
                                            "redirect_uri": REDIRECT_URI, "code_verifier": arrival.verifier,
                                            "client_id": "rp-public"})
    assert replayed.status_code == 400
    changed = op.http.post("/admin/credentials/status", json={"status": "suspended", "credential_id": 7},
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert changed.status_code == 200, changed.text

    log = entries(op)
    by_type = {entry["type"]: entry["fields"] for entry in log}
    assert by_type["client_registered"] == {"client_id": registered.json()["client_id"], "actor": "registration"}
    alice = account_ref(op.services.settings, "alice")
    assert by_type["login"] == {"client_id": "rp-public", "account_ref": alice, "acr": by_type["login"]["acr"],
                                "amr": by_type["login"]["amr"]}
    assert by_type["consent"] == {"outcome": "given", "client_id": "rp-public", "account_ref": alice,
                                  "scope": ["openid", "profile"], "claims": ["name"]}
    assert by_type["token_issued"] == {"client_id": "rp-public", "grant_type": "authorization_code"}
    assert by_type["credential_status"] == {"status": "suspended", "count": 0, "actor": "admin_api",
                                            "credential_id": 7}
    assert by_type["grant_revoked"]["reason"] == "authorization_code_reused"
    assert re.fullmatch("[0-9a-f]{64}", by_type["grant_revoked"]["grant_ref"])
    assert {e["fields"]["alg"] for e in log if e["type"] == "key_created"} >= {"ES256", "PS256", "RS256"}
    text = json.dumps(log, ensure_ascii=False)
    id_token_sub = tokens.json()["id_token"]
    for fact in (NAME, BIRTHDATE, json.dumps(NAME)[1:-1], "alice", id_token_sub):
        assert fact not in text


def test_a_refused_consent_is_recorded(op: Provider) -> None:
    rp = op.register("rp-public")
    browser = Browser(op)
    response, verifier = browser.start(rp.client_id)
    arrival = browser.walk(response, verifier, consent=False)
    consent_page = arrival.response.url if arrival.pages else None
    assert arrival.pages, consent_page
    refused = browser.request("POST", arrival.pages[-1], data={"decision": "deny"})
    assert refused.status_code in (302, 303)
    consent = [e["fields"] for e in entries(op) if e["type"] == "consent"]
    assert consent == [{"outcome": "refused", "client_id": "rp-public",
                        "account_ref": account_ref(op.services.settings, "alice"), "scope": ["openid"]}]


@pytest.mark.parametrize("fields", [{"name": NAME}, {"birthdate": BIRTHDATE}, {"pin": "1234"},
                                    {"account_id": "alice"}, {"sub": "abc"}, {"client_id": NAME},
                                    {"claims": [BIRTHDATE, NAME]}])
def test_personal_data_cannot_be_recorded(fields: dict[str, object]) -> None:
    with pytest.raises(AuditFieldError):
        FIELDS.check("login", fields)


@pytest.mark.anyio
async def test_two_workers_appending_at_once_keep_one_chain(db_url: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, db_url)
    first, second = Database.connect(db_url), Database.connect(db_url)
    try:
        await migrate(first)

        async def burst(db: Database, worker: str) -> None:
            for i in range(40):
                await audit_trail(settings, db).append("token_issued", {"client_id": f"{worker}-{i}"},
                                                       at=dt.datetime.now(dt.UTC))

        await asyncio.gather(burst(first, "a"), burst(second, "b"), burst(first, "c"), burst(second, "d"))
        trail = audit_trail(settings, second)
        verdict = await trail.verify()
        assert verdict.ok, verdict.problem
        assert (verdict.checked, (await trail.head()).seq) == (160, 160)
    finally:
        await first.dispose()
        await second.dispose()


@pytest.mark.anyio
async def test_appends_queued_in_one_worker_go_together_and_a_cancelled_caller_stops_no_one(
        postgres: Cluster, tmp_path: Path) -> None:
    """PostgreSQL: the events that queue while an append statement is in flight are written by the next statement
    together (one transaction: one xmin), in chain order; a caller cancelled while waiting leaves the others' appends
    alone."""
    url = postgres.create_database()
    settings = settings_for(tmp_path, url)
    db = Database.connect(url)
    try:
        await migrate(db)
        trail = audit_trail(settings, db)
        now = dt.datetime.now(dt.UTC)
        appends = [asyncio.ensure_future(trail.append("token_issued", {"client_id": f"rp-{i}"}, at=now))
                   for i in range(60)]
        await asyncio.sleep(0)  # all queued; the first group is in flight
        appends[30].cancel()
        done = await asyncio.gather(*appends, return_exceptions=True)
        entries = [entry for entry in done if not isinstance(entry, BaseException)]
        assert len(entries) in (59, 60)  # the cancelled one is written whole or not at all
        assert [entry.seq for entry in entries] == list(range(1, len(entries) + 1))
        stored = [entry async for entry in trail.iter_entries()]
        assert stored == entries
        verdict = await trail.verify()
        assert verdict.ok, verdict.problem
        statements = int(postgres.sql(url, "SELECT count(DISTINCT xmin::text) FROM audit_log"))
        assert statements < len(entries) // 4, f"{statements} statements for {len(entries)} entries"
    finally:
        await db.dispose()


@pytest.mark.anyio
async def test_retention_keeps_the_rest_verifiable(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, MYNACARD_KEYS_KEKS=KEK, MYNACARD_AUDIT_RETENTION="1d")
    async with open_services(settings) as services:
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        for i in range(3):
            await record(services, "client_registered", long_ago + dt.timedelta(seconds=i), client_id=f"old-{i}",
                         actor="cli")
        await record(services, "client_registered", client_id="new", actor="cli")
        await cleanup(services)
        trail = audit_trail(settings, services.db)
        assert (await trail.verify()).ok
        kept = [entry async for entry in trail.iter_entries()]
        assert [(e.type, e.fields.get("client_id")) for e in kept] == [("client_registered", "new"),
                                                                       ("audit_pruned", None)]
        assert kept[1].fields == {"count": 3, "seq": 3}


# --- the commands ----------------------------------------------------------------------------------------------


def _tamper(lines: list[str], how: str) -> list[str]:
    changed = list(lines)
    if how == "change":
        entry = json.loads(changed[1])
        entry["fields"]["client_id"] = "mallory"
        changed[1] = json.dumps(entry)
    elif how == "remove":
        del changed[1]
    elif how == "insert":
        changed.insert(1, changed[2])
    else:
        changed[1], changed[2] = changed[2], changed[1]
    return changed


def test_export_and_verify_round_trip_and_catch_tampering(tmp_path: Path) -> None:
    idp = Idp(tmp_path)
    idp.env["MYNACARD_AUDIT_HMAC_KEYS"] = secrets.token_urlsafe(32)
    for client in ("rp-1", "rp-2", "rp-3"):
        idp("clients", "add", client, "--redirect-uri", "https://rp.example.jp/cb", "--auth-method", "none")
    idp("clients", "remove", "rp-3")
    export = tmp_path / "audit.jsonl"
    summary = idp("audit", "export", "--output", str(export))
    assert summary["exported"] == summary["head_seq"] == 4
    lines = export.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["client_registered"] * 3 + ["client_deleted"]
    assert idp("audit", "verify", "--file", str(export))["ok"] is True
    assert idp("audit", "verify")["checked"] == 4
    to_stdout = subprocess.run([sys.executable, "-m", "idp", "audit", "export", "--since", "2"], env=idp.env,
                               capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert to_stdout == lines[2:]

    for how, kind in (("change", "changed"), ("remove", "removed"), ("insert", "inserted"), ("swap", "reordered")):
        tampered = tmp_path / f"{how}.jsonl"
        tampered.write_text("\n".join(_tamper(lines, how)) + "\n", encoding="utf-8")
        out = json.loads(idp("audit", "verify", "--file", str(tampered), rc=1))
        assert (out["ok"], out["problem"]["kind"]) == (False, kind), out
        assert f"audit chain broken: {kind}" in idp.stderr
    out = json.loads(idp("audit", "verify", "--file", str(export), rc=1,
                         MYNACARD_AUDIT_HMAC_KEYS=secrets.token_urlsafe(32)))
    assert out["problem"]["kind"] == "changed"  # another key: nothing verifies

    async def change_in_the_table() -> None:
        db = Database.connect(f"sqlite:///{tmp_path / 'var' / 'idp.sqlite3'}")
        async with db.begin() as conn:
            await conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(type="client_deleted"))
        await db.dispose()

    asyncio.run(change_in_the_table())
    out = json.loads(idp("audit", "verify", rc=1))
    assert (out["problem"]["kind"], out["problem"]["seq"]) == ("changed", 2)
