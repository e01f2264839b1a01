"""Presentation metadata at registration (OIDC Dynamic Client Registration §2: ``client_name``, ``logo_uri``,
``policy_uri``, ``tos_uri`` with language tags; our ``purpose_of_use``): checked, length-limited, https only outside
test mode, refused with ``invalid_client_metadata``; the logo fetched once from a real loopback server, checked,
re-encoded and served by the provider from its own origin."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from idp.client_presentation import MAX_NAME, MAX_PURPOSE, MAX_URI
from idp.endpoints.registration import InvalidClientMetadataError, registration_arguments
from idp.web.logos import LOGO_UNUSABLE, MAX_LOGO_OCTETS, MAX_SIDE, SHOWN_SIDE
from tests.idp.conftest import settings_for
from tests.idp.protocol import clientfixtures
from tests.idp.protocol.clientfixtures import LoopbackServer
from tests.idp.protocol.tokenkit import REDIRECT_URI, Provider, provider

rp_server = clientfixtures.rp_server  # the fixture
POLICY = "https://rp.example.jp/privacy"


@pytest.fixture
def dcr(tmp_path: Path) -> Iterator[Provider]:
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test", MYNACARD_REGISTRATION_MODE="open",
                  MYNACARD_REGISTRATION_FETCH_TIMEOUT="1") as p:
        yield p


def image(kind: str, size: tuple[int, int] = (320, 160), **options: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 23, 193)).save(out, format=kind, **options)
    return out.getvalue()


def register(op: Provider, **metadata: Any) -> Any:
    return op.http.post("/register", content=json.dumps({"redirect_uris": [REDIRECT_URI], **metadata}),
                        headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_the_logo_is_fetched_once_reencoded_and_served_by_the_provider(dcr: Provider, rp_server: LoopbackServer,
                                                                       kind: str) -> None:
    logo = rp_server.route("/logo", body=image(kind))
    response = register(dcr, client_name="Shop", **{"client_name#ja": "ショップ"}, logo_uri=logo,
                        policy_uri=POLICY, **{"tos_uri#en": "https://rp.example.jp/terms"},
                        purpose_of_use={"name birthdate": "会員登録のため", "name birthdate#en": "To sign you up"})
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["client_name#ja"] == "ショップ"
    assert document["purpose_of_use"]["birthdate name#en"] == "To sign you up"
    assert [r.path for r in rp_server.received] == ["/logo"]
    served = dcr.http.get(f"/clients/{document['client_id']}/logo")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(served.content)) as shown:
        assert shown.format == "PNG"
        assert max(shown.size) == SHOWN_SIDE
        assert shown.size == (SHOWN_SIDE, SHOWN_SIDE // 2)
    assert len(rp_server.received) == 1  # served from the provider: the client never sees who looks
    assert dcr.http.get("/clients/nobody/logo").status_code == 404


@pytest.mark.parametrize("case", ["gif", "svg", "text", "too many pixels", "too many octets", "404"])
def test_an_unusable_logo_is_refused(dcr: Provider, rp_server: LoopbackServer, case: str) -> None:
    body = {"gif": image("GIF"), "svg": b'<svg xmlns="http://www.w3.org/2000/svg"/>', "text": b"hello",
            "too many pixels": image("PNG", (MAX_SIDE + 1, 8)),
            "too many octets": image("BMP", (300, 300)).ljust(MAX_LOGO_OCTETS + 1, b"\0"), "404": b""}[case]
    logo = rp_server.route("/logo", 404 if case == "404" else 200, body)
    response = register(dcr, logo_uri=logo)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client_metadata", "error_description": LOGO_UNUSABLE}


@pytest.mark.parametrize(("metadata", "says"), [
    ({"client_name": "x" * (MAX_NAME + 1)}, "client_name"),
    ({"client_name": ""}, "client_name"),
    ({"client_name": "a\u202eb"}, "client_name"),
    ({"client_name#not a tag": "x"}, "language tag"),
    ({"policy_uri": "https://rp.example.jp/" + "p" * MAX_URI}, "policy_uri"),
    ({"tos_uri": "javascript:alert(1)"}, "tos_uri"),
    ({"logo_uri": "data:image/png;base64,AAAA"}, "logo_uri"),
    ({"purpose_of_use": {"name": "p" * (MAX_PURPOSE + 1)}}, "purpose_of_use"),
    ({"purpose_of_use": {"": "why"}}, "purpose_of_use"),
    ({"purpose_of_use": ["name"]}, "purpose_of_use"),
    ({"purpose_of_use": {f"claim{i}": "why" for i in range(17)}}, "purpose_of_use"),
    ({"client_name": "x", **{f"client_name#x{i}": "x" for i in range(9)}}, "client_name"),
])
def test_bad_presentation_metadata_is_refused(dcr: Provider, metadata: dict[str, Any], says: str) -> None:
    response = register(dcr, **metadata)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"
    assert says in response.json()["error_description"]


@pytest.mark.parametrize("name", ["logo_uri", "policy_uri", "tos_uri", "policy_uri#ja"])
def test_outside_test_mode_presentation_urls_are_https(tmp_path: Path, name: str) -> None:
    metadata = {"redirect_uris": [REDIRECT_URI], name: "http://rp.example.jp/x"}
    assert registration_arguments(metadata, settings_for(tmp_path, MYNACARD_TEST_MODE="1"))
    with pytest.raises(InvalidClientMetadataError, match=name.partition("#")[0]):
        registration_arguments(metadata, settings_for(tmp_path))
    metadata[name] = "https://rp.example.jp/x"
    assert registration_arguments(metadata, settings_for(tmp_path))["presentation"].metadata()[name]


def test_outside_test_mode_a_logo_on_a_loopback_literal_is_refused(tmp_path: Path) -> None:
    metadata = {"redirect_uris": [REDIRECT_URI], "logo_uri": "https://127.0.0.1/logo.png"}
    with pytest.raises(InvalidClientMetadataError, match="logo_uri"):
        registration_arguments(metadata, settings_for(tmp_path))
