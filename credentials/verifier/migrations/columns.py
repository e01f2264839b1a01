"""The columns of ``verifier_transactions`` as migration 0001 created them, shared by that migration and the
table definition in :mod:`credentials.verifier.store`.

Frozen: a later schema change is a new migration (and a change to the table definition), never an edit here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, LargeBinary, String, Text


def transaction_columns() -> list[Column[Any]]:
    """New column objects (a column belongs to one table) of schema revision 0001."""
    return [
        Column("request_id", String(64), primary_key=True),
        Column("transaction_hash", String(64), nullable=False, unique=True),
        Column("nonce", String(64), nullable=False),
        Column("client_id", Text, nullable=False),
        Column("response_mode", String(32), nullable=False),
        Column("dcql_query", Text, nullable=False),
        Column("return_uri", Text),
        Column("response_kid", String(32)),
        Column("response_key_kek", String(32)),
        Column("response_key", LargeBinary),
        Column("status", String(16), nullable=False),
        Column("created_at", Integer, nullable=False),
        Column("expires_at", Integer, nullable=False, index=True),
        Column("response_code_hash", String(64)),
        Column("result_kek", String(32)),
        Column("result", LargeBinary),
        Column("reason", String(64)),
        Column("detail", Text),
    ]
