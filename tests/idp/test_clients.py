"""Client registration checks (RFC 7591 error codes) and the client table on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from sqlalchemy import text, update

from idp.clients import AuthMethod, Client, InvalidClientMetadata, register_client
from idp.storage import ClientExists, ClientStore, Database
from idp.storage.tables import clients

RP_JWKS = {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                     "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "rp-1"}]}


def test_private_key_jwt_client() -> None:
    client, secret = register_client("rp-1", auth_method=AuthMethod.PRIVATE_KEY_JWT,
                                     redirect_uris=["https://rp.example.jp/cb", "https://rp.example.jp/cb2"],
                                     jwks=RP_JWKS)
    assert secret is None
    assert client.secret_sha256 is None
    assert not client.secret_matches("")
    assert client.describe()["token_endpoint_auth_method"] == "private_key_jwt"


def test_client_secret_is_returned_once_and_only_hashed() -> None:
    client, secret = register_client("rp-2", auth_method=AuthMethod.CLIENT_SECRET_BASIC,
                                     redirect_uris=["https://rp.example.jp/cb"])
    assert secret is not None
    assert len(secret) >= 43
    assert client.secret_sha256 is not None
    assert secret not in client.secret_sha256
    assert secret not in repr(client)
    assert "secret" not in " ".join(client.describe())
    assert client.secret_matches(secret)
    assert not client.secret_matches(secret[:-1])


def test_native_and_loopback_clients() -> None:
    register_client("app", auth_method=AuthMethod.NONE, redirect_uris=["jp.example.app:/cb"],
                    sector_identifier="app.example.jp")
    register_client("cli", auth_method=AuthMethod.NONE, redirect_uris=["http://127.0.0.1:8765/cb", "http://[::1]/cb"],
                    sector_identifier="cli.example.jp")


BASE: dict[str, Any] = {"auth_method": AuthMethod.PRIVATE_KEY_JWT, "redirect_uris": ["https://rp.example.jp/cb"],
                        "jwks": RP_JWKS}


@pytest.mark.parametrize(("client_id", "changes", "error"), [
    ("bad id", {}, "invalid_client_metadata"),
    ("x" * 256, {}, "invalid_client_metadata"),
    ("rp", {"redirect_uris": []}, "invalid_redirect_uri"),
    ("rp", {"redirect_uris": ["http://rp.example.jp/cb"]}, "invalid_redirect_uri"),
    ("rp", {"redirect_uris": ["http://localhost/cb"]}, "invalid_redirect_uri"),
    ("rp", {"redirect_uris": ["https://rp.example.jp/cb#frag"]}, "invalid_redirect_uri"),
    ("rp", {"redirect_uris": ["myapp:/cb"]}, "invalid_redirect_uri"),
    ("rp", {"redirect_uris": ["/relative"]}, "invalid_redirect_uri"),
    ("rp", {"jwks": None}, "invalid_client_metadata"),
    ("rp", {"jwks_uri": "https://rp.example.jp/jwks"}, "invalid_client_metadata"),
    ("rp", {"jwks": None, "jwks_uri": "http://rp.example.jp/jwks"}, "invalid_client_metadata"),
    ("rp", {"jwks": {"keys": [{**RP_JWKS["keys"][0], "d": "private"}]}}, "invalid_client_metadata"),
    ("rp", {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "invalid_client_metadata"),
    ("rp", {"jwks": {"keys": []}}, "invalid_client_metadata"),
    ("rp", {"id_token_signed_response_alg": "HS256"}, "invalid_client_metadata"),
    ("rp", {"redirect_uris": ["https://a.example.jp/cb", "https://b.example.jp/cb"]}, "invalid_client_metadata"),
    ("rp", {"sector_identifier": "https://rp.example.jp/"}, "invalid_client_metadata"),
])
def test_invalid_metadata_is_refused(client_id: str, changes: dict[str, Any], error: str) -> None:
    with pytest.raises(InvalidClientMetadata) as caught:
        register_client(client_id, **{**BASE, **changes})
    assert caught.value.error == error


def test_algorithms_follow_the_provider() -> None:
    with pytest.raises(InvalidClientMetadata):
        register_client("rp", **BASE, id_token_signed_response_alg="RS256", algorithms=("ES256", "PS256"))


@pytest.mark.anyio
async def test_client_store(db: Database) -> None:
    store = ClientStore(db)
    client, _ = register_client("rp-1", **BASE, sector_identifier="rp.example.jp", require_par=True,
                                id_token_signed_response_alg="PS256")
    basic, secret = register_client("rp-2", auth_method=AuthMethod.CLIENT_SECRET_BASIC,
                                    redirect_uris=["https://rp2.example.jp/cb"])
    await store.add(client)
    await store.add(basic)
    with pytest.raises(ClientExists):
        await store.add(client)
    assert await store.get("rp-1") == client
    stored_basic = await store.get("rp-2")
    assert stored_basic is not None
    assert secret is not None
    assert stored_basic.secret_matches(secret)
    assert [c.client_id for c in await store.all()] == ["rp-1", "rp-2"]
    assert await store.remove("rp-1")
    assert not await store.remove("rp-1")
    assert await store.get("rp-1") is None


async def _eventually(check: Any, seconds: float = 5.0) -> bool:
    """Whether ``check()`` (a coroutine function) becomes true within ``seconds`` (a notification's delivery)."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.anyio
async def test_cached_clients_follow_every_change(db: Database, db_url: str) -> None:
    """Two processes' stores (two databases on one URL): a worker's cached client is forgotten when another
    changes or deletes it, or when its notification connection is lost; a change made around the stores is
    missed only on PostgreSQL, where the cache is kept (at most ``cache_seconds``)."""
    other_db = Database.connect(db_url)
    try:
        mine, other = ClientStore(db, cache_seconds=3600), ClientStore(other_db, cache_seconds=3600)
        client, _ = register_client("rp-1", **BASE)
        await other.add(client)
        assert await mine.get("rp-1") == client
        assert await mine.get("rp-1") == client  # now cached on PostgreSQL

        async def around(uri: str) -> None:  # an edit by hand, announced to nobody
            async with db.connection() as conn:
                await conn.execute(update(clients).where(clients.c.client_id == "rp-1").values(redirect_uris=[uri]))

        await around("https://rp.example.jp/by-hand")
        seen = await mine.get("rp-1")
        assert seen is not None
        assert seen.redirect_uris == (("https://rp.example.jp/cb",) if db.dialect == "postgresql"
                                      else ("https://rp.example.jp/by-hand",))

        moved = dataclasses.replace(client, redirect_uris=("https://rp.example.jp/moved",))
        assert await other.replace(moved)

        async def sees(expected: Client | None) -> bool:
            return await mine.get("rp-1") == expected

        assert await _eventually(lambda: sees(moved))
        if db.dialect == "postgresql":  # the notification connection lost: read through, then cache again
            await around("https://rp.example.jp/by-hand-2")
            assert await mine.get("rp-1") == moved
            async with other_db.connection() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                        "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"))
            assert await _eventually(lambda: sees(dataclasses.replace(
                moved, redirect_uris=("https://rp.example.jp/by-hand-2",))))
        assert await other.remove("rp-1")
        assert await _eventually(lambda: sees(None))
    finally:
        await other_db.dispose()
