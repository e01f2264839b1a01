"""``GET /metrics``: Prometheus text exposition (all workers when run with several)."""

from __future__ import annotations

from typing import Final

from litestar import Response, get
from litestar.di import NamedDependency
from prometheus_client import CONTENT_TYPE_LATEST

from idp.metrics import Metrics

PATH: Final = "/metrics"


@get(PATH, include_in_schema=False, sync_to_thread=False)
def prometheus_metrics(metrics: NamedDependency[Metrics]) -> Response[bytes]:
    """Request counts, latencies and OAuth error counts (no personal data in any label)."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


ROUTES: Final = (prometheus_metrics,)
