"""The ASGI application: :func:`create_app` wires settings, lifespan, endpoints, errors and metrics.

The lifespan opens the database and the keyset onto ``app.state`` (and closes them in ``finally``),
creates the first signing keys (and credential signing keys) when there are none, registers the issuer's own
client, runs the periodic jobs, and logs (``card_login_not_ready``, naming the setting) what stops every login;
the provider then starts anyway and answers 503 on ``/readyz`` until that is fixed (:mod:`idp.endpoints.health`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import version

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from idp.endpoints import openapi_operations, route_handlers, test_login
from idp.endpoints.dependencies import provide_metrics, provide_services
from idp.endpoints.health import login_readiness
from idp.errors import exception_handlers
from idp.jobs import background_jobs, rotate_keys
from idp.login.authenticator import CardAuthenticator
from idp.metrics import Metrics, RequestObserver
from idp.oauth.authenticator import register_authenticator
from idp.runtime import Services, open_services
from idp.settings import Settings, load_settings, unsafe_warnings
from idp.sign.details import install as install_signing
from idp.vci.jobs import start_issuer
from idp.vci.service import open_vci
from idp.vci.setup import install as install_issuer
from servicekit.http.openapi import DescribedJsonRenderPlugin
from servicekit.http.options import options_answer

_log = logging.getLogger("idp.app")


def install_plugins() -> None:
    """Register this provider's plug-ins with the protocol layer (idempotent): the authenticators ``card`` and
    ``test`` (chosen by ``login.authenticator``), and the credential issuer's grant type and
    ``authorization_details`` type (:func:`idp.vci.setup.install`), and card signing's ``jpki_sign``
    (:func:`idp.sign.details.install`)."""
    register_authenticator(CardAuthenticator())
    register_authenticator(test_login.TestAuthenticator())
    install_issuer()
    install_signing()


install_plugins()


def provider_services(settings: Settings) -> AbstractAsyncContextManager[Services]:
    """:func:`idp.runtime.open_services` with this provider's features: the credential issuer (:mod:`idp.vci`),
    its plug-ins installed."""
    install_plugins()
    return open_services(settings, extensions=(open_vci,))


async def _log_readiness(services: Services) -> None:
    """Say at start what stops or limits every login (the same findings as ``/readyz``)."""
    readiness = await login_readiness(services)
    for problem in readiness.problems:
        _log.warning("card_login_not_ready", extra={"setting": problem.setting, "problem": problem.problem})
    for warning in readiness.warnings:
        _log.warning("card_login_limited", extra={"setting": warning.setting, "problem": warning.problem})


def create_app(settings: Settings) -> Litestar:
    """The provider for ``settings`` (validated already: see :func:`idp.settings.load_settings`)."""
    metrics = Metrics()
    install_plugins()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        for warning in unsafe_warnings(settings):
            _log.warning("UNSAFE: %s", warning, extra={"event": "unsafe_setting"})
        async with provider_services(settings) as services:
            await rotate_keys(services)  # the first keys (audited as key_created)
            await start_issuer(services)
            app.state.services = services
            await _log_readiness(services)
            async with background_jobs(services):
                _log.info("started", extra={"issuer": settings.issuer})
                yield

    app = Litestar(
        route_handlers=route_handlers(),
        lifespan=[lifespan],
        dependencies={"services": Provide(provide_services, sync_to_thread=False),
                      "metrics": Provide(provide_metrics, sync_to_thread=False)},
        exception_handlers=exception_handlers(metrics),
        openapi_config=OpenAPIConfig(title="mynacard-id OpenID Provider", version=version("mynacard-id"),
                                     path="/schema", render_plugins=[DescribedJsonRenderPlugin(openapi_operations())]),
        logging_config=None,
        before_request=options_answer,
        state=State({"metrics": metrics}),
    )
    app.asgi_handler = RequestObserver(app.asgi_handler, metrics, log_requests=settings.logging.requests)
    return app


def app_from_environment() -> Litestar:
    """Factory for uvicorn workers: settings from ``$MYNACARD_CONFIG`` and ``MYNACARD_*`` variables."""
    return create_app(load_settings())
