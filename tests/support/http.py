"""HTTP peers on loopback for tests: the relying parties, responders and verifiers that the code under test
calls (tests never send traffic anywhere but 127.0.0.1); and the checks of a service's generic error answers.

Usage::

    class Handler(Peer):
        def do_GET(self) -> None:
            self.answer(200, b"{}", "application/json")

    server, url = serve(Handler)          # http://127.0.0.1:PORT, served by a daemon thread
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class Peer(BaseHTTPRequestHandler):
    """A request handler that answers in one call and keeps the test output quiet."""

    def answer(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        """Send ``status`` with ``body`` of ``content_type`` (and ``headers``)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> bytes:
        """The request body (``Content-Length`` octets; none without the header)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """``handler`` listening on a free loopback port, served by a daemon thread; the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def assert_generic_problems(missing: httpx.Response, wrong_method: httpx.Response, allowed: str,
                            crashed: httpx.Response, internal: str) -> None:
    """404, 405 (``allowed`` in ``Allow``) and 500 as bare RFC 9457 problem details: ``about:blank``, nothing
    of the crash (``internal``, a traceback) in the answer."""
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
    assert missing.json() == {"type": "about:blank", "title": "Not Found", "status": 404}
    assert wrong_method.status_code == 405
    assert allowed in wrong_method.headers["allow"]
    assert crashed.status_code == 500
    assert crashed.json() == {"type": "about:blank", "title": "Internal Server Error", "status": 500}
    assert internal not in crashed.text
    assert "Traceback" not in crashed.text
