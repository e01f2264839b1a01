"""Signing requests in the objects table (SQLite and PostgreSQL): single-use binding to one client's interaction,
the states in order, results bound to a grant and fetched once."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from idp.sign.requests import Document, DocumentSignature, SigningRequests, SigningResults
from idp.storage import Database, ObjectStore
from tests.idp.conftest import NOW

pytestmark = pytest.mark.anyio
LATER = NOW + dt.timedelta(minutes=5)
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def _document(label: str) -> Document:
    digest = hashlib.sha256(label.encode()).digest()
    return Document(label, "sha256", digest, _SHA256_PREFIX + digest)


def _results(count: int) -> SigningResults:
    signatures = tuple(DocumentSignature(b"r%d" % i, b"s%d" % i, NOW) for i in range(count))
    return SigningResults(signatures, b"certificate", "record.jws.value", NOW)


async def test_life_of_a_request(db: Database) -> None:
    requests = SigningRequests(ObjectStore(db))
    created = await requests.create("client-a", [_document("契約書"), _document("申込書")], expires_at=LATER)
    assert (created.state, created.interaction) == ("pending", None)
    assert await requests.bind(created.id, client_id="client-b", interaction="uid-1", now=NOW) is None
    bound = await requests.bind(created.id, client_id="client-a", interaction="uid-1", now=NOW)
    assert bound is not None
    assert bound.state == "bound"
    assert await requests.bind(created.id, client_id="client-a", interaction="uid-2", now=NOW) is None  # replay
    found = await requests.for_interaction("uid-1", NOW)
    assert found is not None
    assert found.documents == created.documents
    with pytest.raises(ValueError, match="cannot take results"):
        await requests.record_results(found, _results(2), now=NOW)
    approved = await requests.approve(found, now=NOW)
    with pytest.raises(ValueError, match="one signature per document"):
        await requests.record_results(approved, _results(1), now=NOW)
    await requests.record_results(approved, _results(2), now=NOW)
    assert await requests.grant("unknown", expires_at=LATER, now=NOW) is None
    assert await requests.grant(created.id, expires_at=LATER, now=NOW) is not None
    assert await requests.for_interaction("uid-1", NOW) is None
    assert await requests.grant(created.id, expires_at=LATER, now=NOW) is None  # once
    taken = await requests.take_results(created.id, now=NOW)
    assert taken is not None
    assert taken.request.documents == created.documents
    assert taken.results == _results(2)
    assert await requests.take_results(created.id, now=NOW) is None  # fetched once


async def test_expired_requests_cannot_be_bound(db: Database) -> None:
    requests = SigningRequests(ObjectStore(db))
    created = await requests.create("client-a", [_document("x")], expires_at=LATER)
    assert await requests.bind(created.id, client_id="client-a", interaction="uid", now=LATER) is None
    assert await requests.bind("not-a-request", client_id="client-a", interaction="uid", now=NOW) is None
