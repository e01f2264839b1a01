"""What handlers receive by injection: the process's :class:`~idp.runtime.Services` and metrics."""

from __future__ import annotations

from typing import cast

from litestar.datastructures import State

from idp.metrics import Metrics
from idp.runtime import Services


def provide_services(state: State) -> Services:
    """The services the lifespan opened."""
    return cast(Services, state.services)


def provide_metrics(state: State) -> Metrics:
    """The application's metrics."""
    return cast(Metrics, state.metrics)
