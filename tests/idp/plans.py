"""Generic plans on PostgreSQL, logged with their buffers: the harness of the plan tests
(tests/idp/test_object_plans.py, tests/idp/test_credential_plans.py).

asyncpg prepares every statement, and PostgreSQL may plan a prepared statement once for any values (a generic
plan), from the statistics of the moment: a fresh deployment plans while its tables are small. A plan that reads
rows by a non-selective column and filters the rest is as fast as a lookup then, and reads every row of the table
once it holds thousands. The :func:`planned` database makes that moment happen: its sessions force generic plans and
log every plan with its buffers (``auto_explain``), over one connection, so that a statement's run after the tables
filled meets the plan its run on empty tables made.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from idp.storage import Database
from idp.storage.migrate import migrate
from tests.support.postgres import Cluster

#: Rows added between the two runs; a statement that scans such a table reads hundreds of buffers.
CROWD = 3000
#: Buffers a lookup by key may touch: index descent, heap page, a second lookup, the index entries written.
MOST_BUFFERS = 40


@pytest.fixture
async def planned(postgres: Cluster) -> AsyncIterator[tuple[Database, Cluster]]:
    """A migrated PostgreSQL database whose sessions use generic plans and log each plan with its buffers; one
    connection."""
    url = postgres.create_database()
    name = url.rsplit("/", 1)[-1]
    for setting in ("session_preload_libraries = 'auto_explain'", "plan_cache_mode = force_generic_plan",
                    "auto_explain.log_min_duration = 0", "auto_explain.log_analyze = on",
                    "auto_explain.log_buffers = on", "auto_explain.log_format = json"):
        postgres.sql(url, f"ALTER DATABASE {name} SET {setting}")
    database = Database.connect(url, pool_size=1)
    await migrate(database)
    yield database, postgres
    await database.dispose()


def log_offset(cluster: Cluster) -> int:
    """Where the cluster's log ends now (what :func:`heavy_plans` reads from)."""
    return _log(cluster).stat().st_size


def heavy_plans(cluster: Cluster, offset: int, tables: tuple[str, ...]) -> tuple[int, dict[str, int]]:
    """Of the plans logged after ``offset`` whose statement names one of ``tables``: how many, and the first 120
    characters of each that read more than :data:`MOST_BUFFERS` buffers, with its buffers."""
    with _log(cluster).open("rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    plans: list[dict[str, Any]] = []
    for match in re.finditer(r"plan:\n((?:\t.*\n)+)", text):  # the JSON document, each line indented by a tab
        plans.append(json.loads(match.group(1).replace("\n\t", "\n")[1:]))
    ours = [plan for plan in plans if any(table in plan["Query Text"] for table in tables)]
    return len(ours), {plan["Query Text"][:120]: buffers for plan in ours
                       if (buffers := _buffers(plan)) > MOST_BUFFERS}


def _log(cluster: Cluster) -> Path:
    return cluster.base / "log"


def _buffers(plan: dict[str, Any]) -> int:
    node = plan["Plan"]
    return int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0))
