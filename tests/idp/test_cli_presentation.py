"""``idp clients add --client-name --logo-uri --policy-uri --tos-uri --purpose``: the metadata is stored as
registration stores it (``LANG=TEXT`` values become ``member#LANG``), the logo is fetched once from a real loopback
server (test mode) and kept; bad values are refused with ``invalid_client_metadata``."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.idp.protocol.clientfixtures import LoopbackServer
from tests.idp.test_cli import Idp


def test_clients_add_with_presentation_metadata(tmp_path: Path) -> None:
    idp = Idp(tmp_path)
    server = LoopbackServer()
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 23, 193)).save(png, format="PNG")
    logo = server.route("/logo.png", body=png.getvalue())
    try:
        added = idp("clients", "add", "shop", "--redirect-uri", "https://shop.example/cb", "--auth-method", "none",
                    "--client-name", "Example Shop", "--client-name", "ja=サンプル商店", "--logo-uri", logo,
                    "--policy-uri", "https://shop.example/privacy", "--tos-uri", "en=https://shop.example/terms",
                    "--purpose", "name birthdate=会員登録のため", "--purpose", "name birthdate#en=To sign you up",
                    MYNACARD_TEST_MODE="1")
        assert [r.path for r in server.received] == ["/logo.png"]
    finally:
        server.close()
    client = added["client"]
    assert client["client_name"] == "Example Shop"
    assert client["client_name#ja"] == "サンプル商店"
    assert client["tos_uri#en"] == "https://shop.example/terms"
    assert client["purpose_of_use"] == {"birthdate name": "会員登録のため", "birthdate name#en": "To sign you up"}
    assert idp("clients", "list")[0]["logo_uri"] == logo
    idp("clients", "add", "bad", "--redirect-uri", "https://shop.example/cb", "--auth-method", "none",
        "--policy-uri", "http://shop.example/privacy", rc=1)
    assert "invalid_client_metadata: policy_uri must be an https URL" in idp.stderr
    idp("clients", "add", "bad", "--redirect-uri", "https://shop.example/cb", "--auth-method", "none",
        "--client-name", "x" * 101, rc=1)
    assert "client_name must be a non-empty text of at most 100" in idp.stderr
