"""HTTP peers on loopback for tests: the relying parties, responders and verifiers that the code under test
calls. Tests never send traffic anywhere but 127.0.0.1.

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
