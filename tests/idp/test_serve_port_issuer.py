"""``idp serve --port N`` without a configured issuer: the development issuer names port N (so that the discovery
document's URLs reach the provider); a configured issuer is kept whatever the port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from tests.support.processes import free_port, serving


def _issuer(tmp_path: Path, **env: str) -> tuple[int, str]:
    port = free_port()
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("MYNACARD_")},
                   "MYNACARD_DATA_DIR": str(tmp_path / "var"), **env}
    url = f"http://127.0.0.1:{port}"
    with serving([sys.executable, "-m", "idp", "serve", "--port", str(port)], env=environment,
                 log=tmp_path / "idp.log", url=url):
        document = httpx.get(f"{url}/.well-known/openid-configuration", timeout=10).json()
    return port, str(document["issuer"])


def test_the_development_issuer_uses_the_port_served(tmp_path: Path) -> None:
    port, issuer = _issuer(tmp_path)
    assert issuer == f"http://127.0.0.1:{port}"


def test_a_configured_issuer_is_kept(tmp_path: Path) -> None:
    _, issuer = _issuer(tmp_path, MYNACARD_ISSUER="http://127.0.0.1:8000")
    assert issuer == "http://127.0.0.1:8000"
