"""The one outbound HTTP client of both services: every fetch and post to an address a client, an operator or a
configuration names (sector_identifier_uri, jwks_uri, back-channel logout, the platform operator, OCSP, status
lists, issuer metadata) goes through :class:`OutboundClient`.

What it guarantees, whatever the target does:

1. **Address policy** (before any packet is sent): the host name is resolved once and every resolved address is
   checked by :class:`AddressPolicy`; loopback, private (RFC 1918, RFC 4193), shared (RFC 6598), link-local,
   multicast, unspecified, reserved and cloud-metadata addresses are refused unless test mode or an explicit
   allow-list admits them. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
2. **The checked address is the one connected to**: the request goes to the resolved IP literal, with the
   ``Host`` header and the TLS server name (SNI and certificate check) set to the original host name, so a DNS
   answer that changes between the check and the connection (DNS rebinding) cannot redirect it.
3. **A whole-request deadline**: connecting, sending and reading the whole body must end within ``deadline``
   seconds, however slowly the server trickles its bytes.
4. **A response size cap**: the body is read in chunks and the request aborts past ``max_bytes``.
5. **No redirects**: a 3xx answer is an error (the redirect target would escape the checks above).
6. **Errors that reveal nothing about the target**: :class:`OutboundError` carries a :class:`OutboundReason` for
   logs and metrics, but its message is the same for a refused address, a closed port, a timeout and a reset, so
   an answer built from it cannot be used to scan a network.

Usage::

    client = OutboundClient(AddressPolicy(), deadline=5.0, max_bytes=64 * 1024)
    response = await client.request("GET", "https://rp.example/sector.json",
                                    headers={"Accept": "application/json"})
    response.status, response.content
    # one client per process, each caller with its own limits; from a worker thread, synchronously:
    request_sync(client, "POST", url, content=body, deadline=2.0, max_bytes=16 * 1024)

A test of the policy gives a resolver stub (``resolver=``) and never lets a request reach a private address.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Resolves ``(host, port)`` to the addresses a connection may use.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

#: Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba), refused even where private
#: addresses are allowed by an allow-list that does not name them.
METADATA_ADDRESSES: Final = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2"))
#: Networks that are never a public service: RFC 6890 special-purpose ranges not covered by ``is_private`` and
#: friends in every Python version.
_SPECIAL: Final = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32", "64:ff9b:1::/48", "100::/64", "2001:db8::/32",
    "fc00::/7", "fe80::/10"))
#: The message of every :class:`OutboundError`: the same whatever went wrong, so it reveals nothing.
PUBLIC_MESSAGE: Final = "the document could not be fetched"


class OutboundReason(enum.StrEnum):
    """Why an outbound request failed (for logs and metrics; never shown to the party that named the URL)."""

    BAD_URL = "bad_url"
    REFUSED_ADDRESS = "refused_address"
    UNRESOLVABLE = "unresolvable"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    REDIRECT = "redirect"


class OutboundError(Exception):
    """An outbound request failed; ``reason`` says why, the message never does."""

    def __init__(self, reason: OutboundReason) -> None:
        super().__init__(PUBLIC_MESSAGE)
        self.reason = reason


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a global unicast address of the public internet (RFC 6890)."""
    address = _unmapped(address)
    return not (address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
                or address.is_unspecified or address.is_reserved or address in METADATA_ADDRESSES
                or any(address in net for net in _SPECIAL if net.version == address.version))


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which resolved addresses outbound requests may connect to.

    The default admits public addresses only. ``allow`` admits further networks (an internal platform operator,
    say) explicitly; ``test_mode`` admits loopback too (tests and the demo run every party on 127.0.0.1). Cloud
    metadata addresses stay refused unless ``allow`` names them.
    """

    allow: tuple[IPNetwork, ...] = ()
    test_mode: bool = False

    @classmethod
    def from_settings(cls, *, test_mode: bool, allow: Iterable[str] = ()) -> AddressPolicy:
        """A policy from a settings list of CIDR networks (``ValueError`` names a bad one)."""
        return cls(tuple(ipaddress.ip_network(n.strip(), strict=False) for n in allow if n.strip()), test_mode)

    def refuses_host(self, host: str) -> bool:
        """Whether ``host`` (a URL's hostname) is an IP literal, or ``localhost``, that this policy refuses: what
        can be judged before sending (at registration, at start-up). Other names are judged when resolved, at
        each request, since their addresses may change."""
        if host.lower().rstrip(".") == "localhost":
            host = "127.0.0.1"
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return not self.admits(address)

    def admits(self, address: IPAddress) -> bool:
        """Whether a connection to ``address`` is allowed."""
        address = _unmapped(address)
        if any(address in net for net in self.allow if net.version == address.version):
            return True
        if address in METADATA_ADDRESSES:
            return False
        if self.test_mode and address.is_loopback:
            return True
        return is_public(address)


def allow_list_problems(name: str, allow: Iterable[str]) -> list[str]:
    """The settings problem of an allow-list option ``name`` whose values are not all CIDR networks."""
    bad = []
    for value in allow:
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            bad.append(value)
    return [f"{name}: {', '.join(repr(v) for v in bad)} not a network such as 10.1.0.0/16"] if bad else []


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses the system resolver gives for ``host`` (TCP), in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Response:
    """A whole response: status, headers and the body read within the limits."""

    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower case."""
        return str(self.headers.get("content-type", "")).split(";", 1)[0].strip().lower()


class OutboundClient:
    """Outbound HTTP with the address policy, the pinned address, the deadline, the size cap and no redirects.

    ``transport`` is for tests that need an in-process server; production uses httpx's default. ``resolver`` may
    be replaced on a live client (tests do, to check the policy's decisions without sending anything). Not a
    dataclass: frameworks that validate what they inject (litestar through msgspec) would walk its fields.
    """

    def __init__(self, policy: AddressPolicy, deadline: float = 5.0, max_bytes: int = 256 * 1024,
                 resolver: Resolver = system_resolver, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.policy = policy
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.resolver = resolver
        self.transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False, transport=self.transport,
                                             timeout=httpx.Timeout(self.deadline))
        return self._client

    async def aclose(self) -> None:
        """Close the connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                      content: bytes | None = None, data: Mapping[str, str] | None = None,
                      deadline: float | None = None, max_bytes: int | None = None) -> Response:
        """Send one request and read the whole answer within the limits; :class:`OutboundError` otherwise.
        ``deadline`` and ``max_bytes`` replace the client's own for this request (one client, with its policy,
        resolver and connections, serves callers with different limits)."""
        limit = self.deadline if deadline is None else deadline
        try:
            async with asyncio.timeout(limit):
                return await self._request(method, url, headers, content, data, limit,
                                           self.max_bytes if max_bytes is None else max_bytes)
        except TimeoutError:
            raise OutboundError(OutboundReason.TIMEOUT) from None

    async def _request(self, method: str, url: str, headers: Mapping[str, str] | None, content: bytes | None,
                       data: Mapping[str, str] | None, deadline: float, max_bytes: int) -> Response:
        # (1) The URL: http(s), a host, no user information.
        try:
            parts = urlsplit(url)
        except ValueError:  # an IPv6 literal without its closing bracket, say
            raise OutboundError(OutboundReason.BAD_URL) from None
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
            raise OutboundError(OutboundReason.BAD_URL)
        host = parts.hostname
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise OutboundError(OutboundReason.BAD_URL) from None
        # (2) Resolve once and check every address (one bad address taints the name: rebinding tricks mix them).
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        try:
            addresses = [literal] if literal is not None else await self.resolver(host, port)
        except (OSError, UnicodeError):
            raise OutboundError(OutboundReason.UNRESOLVABLE) from None
        if not addresses:
            raise OutboundError(OutboundReason.UNRESOLVABLE)
        if not all(self.policy.admits(a) for a in addresses):
            raise OutboundError(OutboundReason.REFUSED_ADDRESS)
        # (3) Connect to the checked address; Host and TLS server name stay the name.
        pinned = addresses[0]
        ip_host = f"[{pinned}]" if pinned.version == 6 else str(pinned)
        netloc = ip_host if parts.port is None else f"{ip_host}:{parts.port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        send_headers = {"Accept-Encoding": "identity", **(headers or {}), "Host": parts.netloc}
        extensions = {"sni_hostname": host} if parts.scheme == "https" and literal is None else {}
        request = self._http().build_request(method, target, headers=send_headers, content=content, data=data,
                                             extensions=extensions, timeout=httpx.Timeout(deadline))
        try:
            response = await self._http().send(request, stream=True)
        except httpx.TimeoutException:
            raise OutboundError(OutboundReason.TIMEOUT) from None
        except httpx.HTTPError:
            raise OutboundError(OutboundReason.UNREACHABLE) from None
        try:
            # (4) No redirects.
            if 300 <= response.status_code < 400:
                raise OutboundError(OutboundReason.REDIRECT)
            # (5) The body, within the size cap (the deadline of step 0 bounds a slow drip).
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise OutboundError(OutboundReason.TOO_LARGE)
            body = bytearray()
            async for chunk in response.aiter_bytes():  # decoded: the cap holds for compressed answers too
                body += chunk
                if len(body) > max_bytes:
                    raise OutboundError(OutboundReason.TOO_LARGE)
        except httpx.TimeoutException:
            raise OutboundError(OutboundReason.TIMEOUT) from None
        except httpx.HTTPError:
            raise OutboundError(OutboundReason.UNREACHABLE) from None
        finally:
            await response.aclose()
        return Response(response.status_code, response.headers, bytes(body))


def request_sync(client: OutboundClient, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                 content: bytes | None = None, data: Mapping[str, str] | None = None,
                 deadline: float | None = None, max_bytes: int | None = None) -> Response:
    """:meth:`OutboundClient.request` for synchronous callers (a worker thread, a CLI): runs it in a fresh event
    loop, with a fresh connection pool, so the same guarantees hold. Never from a thread that runs an event loop
    (it would block the loop): that raises ``RuntimeError``; there, await :meth:`OutboundClient.request`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("request_sync called from a running event loop: await OutboundClient.request instead")

    async def once() -> Response:
        fresh = OutboundClient(client.policy, client.deadline, client.max_bytes, client.resolver, client.transport)
        try:
            return await fresh.request(method, url, headers=headers, content=content, data=data, deadline=deadline,
                                       max_bytes=max_bytes)
        finally:
            await fresh.aclose()

    return asyncio.run(once())
