"""The provider's plug-ins: grant types, ``authorization_details`` types and authenticators are registered by the
composition layer (idp.app) and read by the token endpoint, the code issuance and discovery."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import idp.app  # noqa: F401 (installs the plug-ins)
from idp.endpoints import ENDPOINTS, endpoint_modules, issuer_endpoints
from idp.endpoints.discovery import provider_metadata
from idp.oauth.authenticator import authenticator_for
from idp.oauth.authorization_request.details import (
    InvalidAuthorizationDetailsError,
    authorization_details_types,
    parse_details,
)
from idp.oauth.grants import find_grant, grant_types, register_grant
from idp.oauth.plugins import Registry
from idp.vci.pre_authorized_code import PRE_AUTHORIZED_CODE
from tests.idp.conftest import settings_for


def test_the_grant_registry_holds_the_protocol_grants_then_the_issuers() -> None:
    assert grant_types() == ("authorization_code", "refresh_token", "client_credentials", PRE_AUTHORIZED_CODE)
    pre_authorized = find_grant(PRE_AUTHORIZED_CODE)
    assert pre_authorized is not None
    assert pre_authorized.anonymous_client is not None
    client_credentials = find_grant("client_credentials")
    assert client_credentials is not None
    assert client_credentials.client_auth is not None


def test_a_grant_type_cannot_be_taken_over() -> None:
    code = find_grant("authorization_code")
    assert code is not None
    register_grant(code)  # the same one again: nothing happens
    with pytest.raises(ValueError, match="authorization_code is registered already"):
        register_grant(dataclasses.replace(code, required=()))


def test_registry_keeps_order_and_refuses_another_under_a_taken_name() -> None:
    registry: Registry[int] = Registry("number")
    registry.register("one", 1)
    registry.register("two", 2)
    registry.register("one", 1)
    assert registry.names() == ("one", "two")
    assert registry.items() == (1, 2)
    assert registry.get("three") is None
    with pytest.raises(ValueError, match="number one is registered already"):
        registry.register("one", 11)


def test_discovery_reads_the_registries(tmp_path: Path) -> None:
    metadata = provider_metadata(settings_for(tmp_path))
    assert metadata["grant_types_supported"] == list(grant_types())
    assert metadata["authorization_details_types_supported"] == list(authorization_details_types()) == [
        "openid_credential", "jpki_sign"]


def test_unregistered_authorization_details_types_are_refused() -> None:
    assert parse_details('[{"type": "openid_credential", "credential_configuration_id": "jp_age"}]') == (
        {"type": "openid_credential", "credential_configuration_id": "jp_age"},)
    with pytest.raises(InvalidAuthorizationDetailsError, match="supported: openid_credential, jpki_sign"):
        parse_details([{"type": "payment_initiation"}])


def test_authenticators_are_chosen_by_settings(tmp_path: Path) -> None:
    assert authenticator_for(settings_for(tmp_path)).name == "card"
    assert authenticator_for(settings_for(tmp_path, MYNACARD_TEST_MODE="1",
                                          MYNACARD_LOGIN_AUTHENTICATOR="test")).name == "test"


def test_every_endpoint_module_declares_its_routes_once() -> None:
    modules = endpoint_modules()
    assert [m.__name__.rpartition(".")[2] for m in modules] == list(ENDPOINTS)
    handlers = [handler for module in modules for handler in module.ROUTES]
    assert len(handlers) == len(set(map(id, handlers)))
    assert set(issuer_endpoints()) == {"credential_endpoint", "nonce_endpoint", "deferred_credential_endpoint",
                                       "notification_endpoint"}
