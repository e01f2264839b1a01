"""The outbound HTTP client: address decisions with a resolver stub (no request ever reaches a private or
link-local address), and the deadline, size cap, redirect refusal and address pinning against real HTTP servers
on loopback."""

from __future__ import annotations

import asyncio
import http.server
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import httpx
import pytest

from servicekit.outbound import (
    PUBLIC_MESSAGE,
    AddressPolicy,
    IPAddress,
    OutboundClient,
    OutboundError,
    OutboundReason,
    allow_list_problems,
    request_sync,
)

REFUSED = ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "169.254.1.1",
           "100.64.0.1", "224.0.0.1", "0.0.0.0", "255.255.255.255", "192.0.2.1", "198.18.0.1", "::1", "::",
           "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
           "2002:a00:1::", "100.100.100.200", "2001:db8::1"]
ADMITTED = ["8.8.8.8", "1.1.1.1", "203.0.114.7", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_default_policy_refuses_non_public_addresses(address: str) -> None:
    assert not AddressPolicy().admits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ADMITTED)
def test_default_policy_admits_public_addresses(address: str) -> None:
    assert AddressPolicy().admits(ipaddress.ip_address(address))


def test_test_mode_admits_loopback_only() -> None:
    policy = AddressPolicy(test_mode=True)
    assert policy.admits(ipaddress.ip_address("127.0.0.1"))
    assert policy.admits(ipaddress.ip_address("::1"))
    for address in ("10.0.0.1", "169.254.169.254", "192.168.0.1", "fe80::1"):
        assert not policy.admits(ipaddress.ip_address(address))


def test_allow_list_admits_named_networks_and_metadata_only_when_named() -> None:
    policy = AddressPolicy.from_settings(test_mode=False, allow=["10.1.0.0/16"])
    assert policy.admits(ipaddress.ip_address("10.1.2.3"))
    assert not policy.admits(ipaddress.ip_address("10.2.0.1"))
    assert not policy.admits(ipaddress.ip_address("169.254.169.254"))
    assert AddressPolicy.from_settings(test_mode=False, allow=["169.254.169.254/32"]).admits(
        ipaddress.ip_address("169.254.169.254"))
    with pytest.raises(ValueError, match="does not appear to be"):
        AddressPolicy.from_settings(test_mode=False, allow=["not-a-network"])


class _Recording(httpx.AsyncBaseTransport):
    """A transport that fails the test if anything is sent through it."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, content=b"{}")


def _stub(*answers: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in answers]
    return resolve


@pytest.mark.parametrize("answers", [("10.0.0.7",), ("169.254.169.254",), ("8.8.8.8", "192.168.0.10"),
                                     ("::ffff:127.0.0.1",), ("fe80::1",)])
def test_a_name_resolving_to_any_refused_address_is_refused_before_sending(answers: tuple[str, ...]) -> None:
    transport = _Recording()
    client = OutboundClient(AddressPolicy(), resolver=_stub(*answers), transport=transport)
    with pytest.raises(OutboundError) as caught:
        asyncio.run(client.request("GET", "https://rp.example/sector.json"))
    assert caught.value.reason is OutboundReason.REFUSED_ADDRESS
    assert transport.sent == []


@pytest.mark.parametrize("url", ["https://10.0.0.1/x", "http://[::1]:8080/", "https://169.254.169.254/latest/"])
def test_address_literals_are_checked_too(url: str) -> None:
    transport = _Recording()
    with pytest.raises(OutboundError) as caught:
        asyncio.run(OutboundClient(AddressPolicy(), transport=transport).request("GET", url))
    assert caught.value.reason is OutboundReason.REFUSED_ADDRESS
    assert transport.sent == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://rp.example/", "https://user:pw@rp.example/",
                                 "https:///nohost", "https://rp.example:99999/", "https://[::1/x"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(OutboundError) as caught:
        asyncio.run(OutboundClient(AddressPolicy(), transport=_Recording()).request("GET", url))
    assert caught.value.reason is OutboundReason.BAD_URL


def test_the_public_address_is_pinned_with_host_and_sni_kept() -> None:
    transport = _Recording()
    client = OutboundClient(AddressPolicy(), resolver=_stub("8.8.8.8"), transport=transport)
    asyncio.run(client.request("GET", "https://rp.example:8443/a?b=c"))
    (sent,) = transport.sent
    assert sent.url.host == "8.8.8.8"
    assert sent.url.port == 8443
    assert sent.url.query == b"b=c"
    assert sent.headers["host"] == "rp.example:8443"
    assert sent.extensions["sni_hostname"] == "rp.example"


# --- real HTTP on loopback -------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    seen_hosts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Handler.seen_hosts.append(self.headers.get("Host", ""))
        if self.path == "/ok":
            self._answer(200, b'{"ok": true}')
        elif self.path == "/big":
            self._answer(200, b"x" * 100_000)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"%x\r\n%s\r\n" % (2000, b"y" * 2000))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):  # each byte arrives well within any per-read timeout
                try:
                    self.wfile.write(b"z")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def _loopback_client(**kwargs: object) -> OutboundClient:
    return OutboundClient(AddressPolicy(test_mode=True), resolver=_stub("127.0.0.1"), **kwargs)  # type: ignore[arg-type]


def test_fetch_through_the_pinned_loopback_address(server: int) -> None:
    response = request_sync(_loopback_client(), "GET", f"http://rp.test:{server}/ok")
    assert response.status == 200
    assert response.content == b'{"ok": true}'
    assert _Handler.seen_hosts[-1] == f"rp.test:{server}"


def test_loopback_is_refused_outside_test_mode(server: int) -> None:
    client = OutboundClient(AddressPolicy(), resolver=_stub("127.0.0.1"))
    with pytest.raises(OutboundError) as caught:
        request_sync(client, "GET", f"http://rp.test:{server}/ok")
    assert caught.value.reason is OutboundReason.REFUSED_ADDRESS


@pytest.mark.parametrize("path", ["/big", "/chunked"])
def test_size_cap(server: int, path: str) -> None:
    with pytest.raises(OutboundError) as caught:
        request_sync(_loopback_client(max_bytes=10_000), "GET", f"http://rp.test:{server}{path}")
    assert caught.value.reason is OutboundReason.TOO_LARGE


def test_redirects_are_not_followed(server: int) -> None:
    with pytest.raises(OutboundError) as caught:
        request_sync(_loopback_client(), "GET", f"http://rp.test:{server}/redirect")
    assert caught.value.reason is OutboundReason.REDIRECT


def test_the_deadline_bounds_the_whole_request(server: int) -> None:
    started = time.monotonic()
    with pytest.raises(OutboundError) as caught:
        request_sync(_loopback_client(deadline=1.0), "GET", f"http://rp.test:{server}/drip")
    assert caught.value.reason is OutboundReason.TIMEOUT
    assert time.monotonic() - started < 5  # the drip would take 10 s; a per-read timeout would never fire


def test_errors_say_the_same_whatever_the_target(server: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    failures = []
    for client, url in ((OutboundClient(AddressPolicy(), resolver=_stub("10.0.0.1"), transport=_Recording()),
                         "https://rp.example/"),
                        (_loopback_client(), f"http://rp.test:{closed_port}/"),
                        (_loopback_client(deadline=0.5), f"http://rp.test:{server}/drip")):
        with pytest.raises(OutboundError) as caught:
            request_sync(client, "GET", url)
        failures.append(caught.value)
    assert [f.reason for f in failures] == [OutboundReason.REFUSED_ADDRESS, OutboundReason.UNREACHABLE,
                                            OutboundReason.TIMEOUT]
    assert {str(f) for f in failures} == {PUBLIC_MESSAGE}


def test_per_request_limits_replace_the_clients_own(server: int) -> None:
    client = _loopback_client(deadline=30.0, max_bytes=1_000_000)
    with pytest.raises(OutboundError) as caught:
        request_sync(client, "GET", f"http://rp.test:{server}/big", max_bytes=10_000)
    assert caught.value.reason is OutboundReason.TOO_LARGE
    started = time.monotonic()
    with pytest.raises(OutboundError) as caught:
        request_sync(client, "GET", f"http://rp.test:{server}/drip", deadline=0.5)
    assert caught.value.reason is OutboundReason.TIMEOUT
    assert time.monotonic() - started < 5


def test_request_sync_refuses_to_block_a_running_event_loop(server: int) -> None:
    async def in_the_loop() -> None:
        request_sync(_loopback_client(), "GET", f"http://rp.test:{server}/ok")

    with pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(in_the_loop())


@pytest.mark.parametrize(("host", "test_mode", "refused"), [
    ("10.0.0.1", True, True), ("169.254.169.254", False, True), ("::1", False, True), ("[fe80::1]", True, True),
    ("localhost", False, True), ("localhost", True, False), ("127.0.0.1", True, False), ("8.8.8.8", False, False),
    ("rp.example", False, False)])
def test_literal_hosts_are_judged_before_sending(host: str, test_mode: bool, refused: bool) -> None:
    assert AddressPolicy(test_mode=test_mode).refuses_host(host) is refused


def test_allow_list_problems_name_the_bad_values() -> None:
    assert allow_list_problems("http.outbound_allow", ["10.0.0.0/8", "fd00::/8"]) == []
    (problem,) = allow_list_problems("http.outbound_allow", ["10.0.0.0/8", "intranet"])
    assert problem.startswith("http.outbound_allow: 'intranet'")
