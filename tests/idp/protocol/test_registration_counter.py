"""CIBA and kiosk client metadata in dynamic registration (CIBA Core 1.0 §4; ``kiosk``, idp.oauth.kiosk): accepted,
kept in the same records the admin commands write (so the CIBA endpoint and the authorization endpoint obey them),
answered on read, reset by an update that leaves them out, removed with the client; bad values refused with
``invalid_client_metadata``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.endpoints.registration import InvalidClientMetadataError, registration_arguments
from idp.login.counter import CibaClient, recorded_ciba_client
from idp.oauth.kiosk import is_kiosk_client
from idp.runtime import utcnow
from tests.idp.conftest import settings_for
from tests.idp.protocol.test_registration import bearer, put, register, registered
from tests.idp.protocol.tokenkit import REDIRECT_URI, Provider, provider

PING = "https://rp.example.jp/ciba-ping"


@pytest.fixture
def dcr(tmp_path: Path) -> Iterator[Provider]:
    """A provider with open registration."""
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test", MYNACARD_REGISTRATION_MODE="open") as p:
        yield p


def _kept(op: Provider, client_id: str) -> tuple[CibaClient | None, bool]:
    async def read() -> tuple[CibaClient | None, bool]:
        now = utcnow()
        return await recorded_ciba_client(op.services, client_id, now), await is_kiosk_client(op.services, client_id,
                                                                                              now)
    return op.call(read)


def test_ping_delivery_and_the_kiosk_mark_are_registered_read_updated_and_removed(dcr: Provider) -> None:
    document = registered(dcr, backchannel_token_delivery_mode="ping", backchannel_client_notification_endpoint=PING,
                          backchannel_user_code_parameter=False, kiosk=True)
    assert (document["backchannel_token_delivery_mode"], document["backchannel_client_notification_endpoint"],
            document["kiosk"]) == ("ping", PING, True)
    client_id, token, uri = document["client_id"], document["registration_access_token"], \
        document["registration_client_uri"]
    assert _kept(dcr, client_id) == (CibaClient("ping", PING), True)
    read = dcr.http.get(uri, headers=bearer(token)).json()
    assert (read["backchannel_token_delivery_mode"], read["kiosk"]) == ("ping", True)
    # an update to poll; the kiosk mark left out is reset (RFC 7592 §2.2)
    updated = put(dcr, uri, token, {"client_id": client_id, "redirect_uris": [REDIRECT_URI],
                                    "backchannel_token_delivery_mode": "poll"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["backchannel_token_delivery_mode"] == "poll"
    assert "kiosk" not in updated.json()
    assert "backchannel_client_notification_endpoint" not in updated.json()
    assert _kept(dcr, client_id) == (CibaClient("poll", None), False)
    assert put(dcr, uri, token, {"client_id": client_id, "redirect_uris": [REDIRECT_URI], "kiosk": True}
               ).status_code == 200
    assert _kept(dcr, client_id) == (None, True)  # no delivery mode: it polls, as a client without a record does
    assert dcr.http.delete(uri, headers=bearer(token)).status_code == 204
    assert _kept(dcr, client_id) == (None, False)


def test_a_client_without_these_fields_has_neither(dcr: Provider) -> None:
    document = registered(dcr)
    assert not {"backchannel_token_delivery_mode", "kiosk"} & document.keys()
    assert _kept(dcr, document["client_id"]) == (None, False)


def test_discovery_names_what_registration_accepts(dcr: Provider) -> None:
    metadata = dcr.http.get("/.well-known/openid-configuration").json()
    assert metadata["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]
    assert metadata["backchannel_user_code_parameter_supported"] is False
    assert metadata["kiosk_supported"] is True


@pytest.mark.parametrize(("metadata", "words"), [
    ({"backchannel_token_delivery_mode": "push", "backchannel_client_notification_endpoint": PING}, "push"),
    ({"backchannel_token_delivery_mode": 1}, "backchannel_token_delivery_mode"),
    ({"backchannel_token_delivery_mode": "ping"}, "needs backchannel_client_notification_endpoint"),
    ({"backchannel_token_delivery_mode": "poll", "backchannel_client_notification_endpoint": PING}, "ping mode only"),
    ({"backchannel_client_notification_endpoint": PING}, "ping mode only"),
    ({"backchannel_token_delivery_mode": "ping", "backchannel_client_notification_endpoint": "https://10.1.2.3/p"},
     "non-public"),
    ({"backchannel_token_delivery_mode": "ping", "backchannel_client_notification_endpoint": "https://[::1/p"},
     "not a URL"),
    ({"backchannel_user_code_parameter": True}, "user codes are not supported"),
    ({"backchannel_user_code_parameter": "false"}, "true or false"),
    ({"kiosk": "yes"}, "kiosk must be true or false"),
], ids=["push", "mode-not-string", "ping-without-endpoint", "endpoint-with-poll", "endpoint-alone",
        "private-endpoint", "unparsable-endpoint", "user-code", "user-code-string", "kiosk-string"])
def test_bad_ciba_and_kiosk_metadata_is_refused(dcr: Provider, metadata: dict[str, Any], words: str) -> None:
    response = register(dcr, {"redirect_uris": [REDIRECT_URI], **metadata})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"
    assert words in response.json()["error_description"]


@pytest.mark.parametrize("endpoint", ["https://127.0.0.1:8443/ping", "http://rp.example.jp/ping"])
def test_loopback_or_http_notification_endpoints_only_in_test_mode(tmp_path: Path, endpoint: str) -> None:
    metadata = {"redirect_uris": [REDIRECT_URI], "backchannel_token_delivery_mode": "ping",
                "backchannel_client_notification_endpoint": endpoint}
    assert registration_arguments(metadata, settings_for(tmp_path, MYNACARD_TEST_MODE="1"))
    with pytest.raises(InvalidClientMetadataError):
        registration_arguments(metadata, settings_for(tmp_path))
