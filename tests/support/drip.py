"""A slow-drip HTTP server on loopback: it answers every GET or POST with ``200``, the given media type and body,
sending the body one octet every ``interval`` seconds. Each read is quick, so only a deadline for the whole
request (not a timeout per read) cuts it short: what :mod:`servicekit.outbound` promises."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def drip_server(body: bytes, media_type: str = "application/json", interval: float = 0.2) -> Iterator[str]:
    """Serve ``body`` slowly; yields the server's base URL (``http://127.0.0.1:PORT``)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for octet in body:
                try:
                    self.wfile.write(bytes([octet]))
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(interval)

        do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
