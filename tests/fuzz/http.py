"""Fuzz targets of HTTP inputs: the shared form and JSON body readers, and the card agent's loopback HTTP API
(a real :class:`cardreader.agent.server.AgentServer` on 127.0.0.1, fed raw requests over a socket).

Errors let through: :class:`servicekit.http.bodies.BodyError` for the body readers. The agent must answer every
request with a well-formed HTTP response (its typed refusals are 4xx JSON); a dropped connection or a 5xx other
than the standard library's 501 for an unknown method is a crash."""

from __future__ import annotations

import functools
import json
import socket
import threading
from contextlib import suppress
from http import HTTPStatus

import httpx
from hypothesis import strategies as st

from cardreader.agent.pinpad import PinPad
from cardreader.agent.server import Agent, AgentConfig, AgentServer
from cardreader.login import Provider
from servicekit.http.bodies import BodyError, check_json_depth, parse_form, parse_form_pairs, parse_json
from tests.fuzz.harness import json_values, target

MAX_BODY = 64 * 1024


def _form_seeds() -> dict[str, bytes]:
    return {"token": b"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Frp.example%2Fcb",
            "repeated": b"a=1&a=2&b=&c", "utf8": b"name=%E5%B1%B1%E7%94%B0&x=%ZZ"}


@target("form_body", seeds=_form_seeds)
def form_body(data: bytes) -> None:
    """:func:`parse_form_pairs` and :func:`parse_form` (``application/x-www-form-urlencoded``)."""
    with suppress(BodyError):
        parse_form_pairs(data, max_bytes=MAX_BODY, max_fields=32)
    with suppress(BodyError):
        parse_form(data, max_bytes=MAX_BODY, max_fields=32)


def _json_seeds() -> dict[str, bytes]:
    return {"object": b'{"a": [1, 2.5, {"b": null}], "c": "\\u00e9"}', "deep": b"[" * 40 + b"]" * 40,
            "dup": b'{"a": 1, "a": 2}', "string_brackets": b'{"a": "[[[[{{{{"}'}


@target("json_body", seeds=_json_seeds, shaped=lambda: json_values(40).map(lambda v: json.dumps(v).encode()))
def json_body(data: bytes) -> None:
    """:func:`parse_json` and :func:`check_json_depth` (I-JSON objects, bounded size and depth)."""
    with suppress(BodyError):
        check_json_depth(data, max_depth=8)
    with suppress(BodyError):
        parse_json(data, max_bytes=MAX_BODY, max_depth=16)


# -- the card agent ----------------------------------------------------------------------------------------------

PROVIDER = "https://id.example.jp"


def _provider_answer(request: httpx.Request) -> httpx.Response:
    """The provider, as far as the agent's logins go: every card-login call is refused (no card is read)."""
    return httpx.Response(400, json={"error": "invalid_request"})


@functools.cache
def agent() -> AgentServer:
    """One agent for the process, serving in a daemon thread on an ephemeral loopback port, with a PIN pad."""
    provider = Provider(PROVIDER, test_mode=True, transport=httpx.MockTransport(_provider_answer))
    server = AgentServer(Agent(AgentConfig(PROVIDER, port=0, pin_entry="pinpad"), provider, PinPad(timeout=0.1)),
                         pinpad=PinPad(timeout=0.1))
    threading.Thread(target=server.serve_forever, name="fuzz-agent", daemon=True).start()
    return server


METHODS = (b"GET", b"POST", b"OPTIONS", b"PUT")
PATHS = (b"/v1/status", b"/v1/login", b"/v1/login/AAAAAAAAAAAAAAAAAAAAAA", b"/pinpad", b"/pinpad.js",
         b"/pinpad/state", b"/pinpad/answer", b"/v1/login?x=1", b"/")
CONTENT_TYPES = (b"application/json", b"application/json; charset=utf-8", b"text/plain", b"")


def request_bytes(data: bytes, port: int) -> bytes:
    """``data`` as a request: byte 0 picks the method, 1 the path, 2 the Origin and Content-Type, 3 the framing
    (a correct Content-Length, a wrong one, or ``data`` itself as headers and body); the rest is the body."""
    head, body = data[:4].ljust(4, b"\0"), data[4:]
    method, path = METHODS[head[0] % len(METHODS)], PATHS[head[1] % len(PATHS)]
    origins = (None, PROVIDER.encode(), f"http://127.0.0.1:{port}".encode(), b"https://evil.example")
    origin, content_type = origins[head[2] % 4], CONTENT_TYPES[(head[2] >> 2) % len(CONTENT_TYPES)]
    lines = [method + b" " + path + b" HTTP/1.1", f"Host: 127.0.0.1:{port}".encode(), b"Connection: close"]
    if origin is not None:
        lines.append(b"Origin: " + origin)
    if content_type:
        lines.append(b"Content-Type: " + content_type)
    framing = head[3] % 3
    if framing == 2:  # raw: data continues the header block
        return b"\r\n".join(lines) + b"\r\n" + body
    length = len(body) if framing == 0 else len(body) // 2
    lines.append(f"Content-Length: {length}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body[:length]


def _agent_seeds() -> dict[str, bytes]:
    login = json.dumps({"token": "A" * 43}).encode()
    answer = json.dumps({"prompt": "p", "pin": None, "confirm": True}).encode()
    return {"status": b"\x00\x00\x01\x00", "login": b"\x01\x01\x01\x00" + login,
            "code": b"\x01\x01\x01\x00" + json.dumps({"code": "ABCD-EFGH"}).encode(),
            "answer": b"\x01\x06\x02\x00" + answer, "preflight": b"\x02\x01\x01\x00",
            "raw": b"\x01\x01\x01\x02Content-Length: 5\r\n\r\n{\"a\":",
            # regression: json.loads raised RecursionError and the agent dropped the connection
            "regress-deep-json": b"\x01\x01\x01\x00" + b"[" * 3000}


@st.composite
def agent_requests(draw: st.DrawFn) -> bytes:
    """A POST of a JSON-shaped body to the login API or the PIN pad, from the right origin."""
    path = draw(st.sampled_from((1, 6)))
    body = draw(json_values(20).map(lambda v: json.dumps(v).encode()) | st.sampled_from(
        (b"[" * 3000, b'{"token":' * 1500, b"{" * 2000)))
    return bytes((1, path, 1 if path == 1 else 2, 0)) + body


@target("agent_http", seeds=_agent_seeds, shaped=agent_requests)
def agent_http(data: bytes) -> None:
    """One request to the card agent; its answer must be an HTTP response with a status below 500 (or 501, the
    standard library's answer to an unknown method)."""
    server = agent()
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request_bytes(data, port))
        with suppress(OSError):
            connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    parts = status_line.split(b" ")
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise AssertionError(f"the agent answered no HTTP response: {answer[:80]!r}")
    if int(parts[1]) >= 500 and int(parts[1]) != HTTPStatus.NOT_IMPLEMENTED:  # 501: http.server's unknown method
        raise AssertionError(f"the agent answered {status_line!r}")
