"""Both services' OpenAPI documents against the services themselves: schemathesis, with every check it has
(``--checks all``: no server error, only documented statuses, content types, headers and bodies, bodies and
parameters as documented, negative data refused, ...) and the settings of ``schemathesis.toml`` (bounded examples
per operation, a fixed seed), run against ``idp serve`` and the verifier service on loopback.

The harness itself is shown able to fail: a small server that answers a status and a content type its document
does not list is caught (:func:`test_an_undocumented_status_and_content_type_fail_the_run`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from keys.service import KeyEncryptionKeys
from keys.testpki.vc import VcTestPki
from tests.support.processes import free_port, logged_errors, serving

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMA_PATH = "/schema/openapi.json"


def run_schemathesis(base_url: str, log: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``schemathesis run`` of the document at ``base_url``, every check; its report is also written to ``log``."""
    command = [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
               "--config-file", str(CONFIG), "run",
               f"{base_url}{SCHEMA_PATH}", "--checks", "all", "--request-timeout", "20", *extra]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False,
                            cwd=log.parent)  # its cache directory (.schemathesis) goes there
    log.write_text(result.stdout + result.stderr, encoding="utf-8")
    return result


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-12000:]


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``idp serve`` in test mode with open registration and the test authenticator, so every route is live."""
    base = tmp_path_factory.mktemp("provider")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_ISSUER": url,
           "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(), "MYNACARD_TEST_MODE": "true",
           "MYNACARD_REGISTRATION_MODE": "open", "MYNACARD_LOGIN_AUTHENTICATOR": "test"}
    log = base / "serve.log"
    with serving([sys.executable, "-m", "idp", "serve", "--port", str(port)], env=env, log=log, url=url):
        yield url, log


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The verifier service in test mode with the ``redirect_uri`` client identifier prefix (no key needed)."""
    base = tmp_path_factory.mktemp("verifier")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (base / "roots").mkdir()
    pki = VcTestPki.generate()
    (base / "roots" / "vc-test-root.pem").write_bytes(pki.root_pem())
    config = base / "verifier.toml"
    config.write_text(f"""test_mode = true
data_dir = "{base / 'data'}"
base_url = "{url}"
[server]
port = {port}
[trust]
issuer_roots_dir = "{base / 'roots'}"
issuer_root_pins = ["{pki.root_fingerprint}"]
[client]
id_prefix = "redirect_uri"
""", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYNACARD_VERIFIER_")}
    log = base / "serve.log"
    command = [sys.executable, "-m", "credentials", "verifier", "--config", str(config), "serve"]
    with serving(command, env=env, log=log, url=url):
        yield url, log


@pytest.mark.parametrize("service", ["provider", "verifier"])
def test_the_document_describes_the_service(service: str, request: pytest.FixtureRequest,
                                            tmp_path: Path) -> None:
    url, log = request.getfixturevalue(service)
    validate(httpx.get(f"{url}{SCHEMA_PATH}").json())  # OpenAPI 3.1
    result = run_schemathesis(url, tmp_path / "schemathesis.txt")
    assert result.returncode == 0, _report(result)
    assert "No issues found" in result.stdout or " passed" in result.stdout, _report(result)
    errors = logged_errors(log)
    assert not errors, errors[:3]


_JSON_ONLY: dict[str, Any] = {"responses": {"200": {
    "description": "a thing", "content": {"application/json": {"schema": {"type": "object"}}}}}}
#: Documents ``GET /thing`` and ``GET /other`` as 200 ``application/json`` only.
_MISDOCUMENTED: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "misdocumented", "version": "1"},
                                  "paths": {"/thing": {"get": _JSON_ONLY}, "/other": {"get": _JSON_ONLY}}}


class _MisdocumentedHandler(BaseHTTPRequestHandler):
    """Serves :data:`_MISDOCUMENTED`; answers ``GET /thing`` with 418 (an undocumented status) and ``GET /other``
    with 200 ``text/plain`` (an undocumented content type)."""

    def do_GET(self) -> None:
        if self.path == SCHEMA_PATH:
            body, status, media_type = json.dumps(_MISDOCUMENTED).encode(), 200, "application/json"
        else:
            body, status, media_type = b"teapot", 418 if self.path.startswith("/thing") else 200, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_undocumented_status_and_content_type_fail_the_run(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MisdocumentedHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_schemathesis(f"http://127.0.0.1:{server.server_address[1]}", tmp_path / "schemathesis.txt",
                                  "--max-examples", "2")
    finally:
        server.shutdown()
    assert result.returncode != 0, _report(result)
    assert "ST103 Undocumented status code" in result.stdout, _report(result)
    assert "ST105 Undocumented Content-Type" in result.stdout, _report(result)
