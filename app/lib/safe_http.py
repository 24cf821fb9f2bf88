"""POST to a URL someone else chose, without letting them aim us at our own network (SSRF).

A workspace's webhook URL could name (or resolve to) the metadata service, the database, or
anything else only the server can reach. So:

- `AddressPolicy` says which addresses may be contacted: public (globally routable) ones, and
  loopback only when asked for (development and tests, whose receivers run on 127.0.0.1).
  Private, link-local (cloud metadata at 169.254.169.254 included), shared, reserved,
  multicast and unspecified addresses are refused, IPv4-mapped IPv6 judged as its IPv4.
- The check runs where the connection is made, on the very addresses connected to: the
  connection pool's network backend resolves the name once, refuses the whole request if any
  address it resolves to is not allowed, and connects to the checked address itself. A name
  that resolved to a public address when the URL was saved and to 127.0.0.1 now (DNS
  rebinding) is refused then, before any packet is sent to it. TLS still verifies the name.
- Redirects are not followed (a 3xx is an answer, and a failed delivery); no proxy from the
  environment is used (it would connect on our behalf, past the check); the response body is
  read up to `read_limit` bytes and the connection then closed; one deadline covers connect,
  send and the whole response.

No web imports: the delivery job uses this, and tests call it directly.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore

Resolver = Callable[..., list[tuple[Any, ...]]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL is not allowed, or resolves to an address that is not: nothing was sent."""


@dataclass(frozen=True)
class AddressPolicy:
    allow_loopback: bool = False

    def allows(self, ip: IP) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            return self.allow_loopback
        return ip.is_global and not ip.is_multicast

    def check_url(self, url: str) -> str | None:
        """What is wrong with `url` as a webhook target, in a sentence, or None. Names are not
        resolved here (that happens when connecting); IP literals are judged at once."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "That is not a valid URL."
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "Use an http:// or https:// URL."
        if not self.allow_loopback and parts.scheme != "https":
            return "Use an https:// URL."
        if parts.username or parts.password:
            return "Leave credentials out of the URL."
        if port == 0:
            return "That port cannot be used."
        ip = _literal(parts.hostname)
        local_name = parts.hostname.rstrip(".").lower() in _LOCAL_NAMES
        if (ip is not None and not self.allows(ip)) or (local_name and not self.allow_loopback):
            return "That address is private or local, which webhooks may not reach."
        return None

    def addresses(self, host: str, port: int, resolve: Resolver) -> list[str]:
        """Every address `host` resolves to, all allowed; raises Refused otherwise."""
        ip = _literal(host)
        if ip is not None:
            found: Iterable[IP] = [ip]
        else:
            try:
                infos = resolve(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as e:
                raise Refused(f"could not resolve {host}: {e}") from None
            found = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        found = list(dict.fromkeys(found))
        if not found:
            raise Refused(f"{host} resolves to no address")
        bad = [str(a) for a in found if not self.allows(a)]
        if bad:
            raise Refused(f"{host} resolves to an address webhooks may not reach ({bad[0]})")
        return [str(a) for a in found]


_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def _literal(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class _Guarded(httpcore.NetworkBackend):
    """httpcore's own socket backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, resolve: Resolver):
        self.policy, self.resolve = policy, resolve
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in self.policy.addresses(host, port, self.resolve):
            try:  # the checked address itself: no second lookup that could answer otherwise
                return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as e:
                last = e
        raise last or httpcore.ConnectError(f"could not connect to {host}")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise Refused("unix sockets are not webhook targets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes  # at most the read limit
    seconds: float


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    policy: AddressPolicy,
    timeout: float,
    read_limit: int = 64 * 1024,
    resolve: Resolver = socket.getaddrinfo,
) -> Reply:
    """POST `body` to `url` under `policy`. Raises Refused (nothing sent), or
    httpcore.TimeoutException / httpcore.NetworkError (sent, or tried, and failed)."""
    problem = policy.check_url(url)
    if problem:
        raise Refused(problem)
    started = time.monotonic()
    deadline = started + timeout
    pool = httpcore.ConnectionPool(
        ssl_context=ssl.create_default_context(),
        network_backend=_Guarded(policy, resolve),
        max_connections=1,
        retries=0,
    )
    limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    try:
        with pool.stream(
            "POST",
            url,
            headers=[*headers.items(), ("Content-Length", str(len(body)))],
            content=body,
            extensions={"timeout": limits},
        ) as response:
            received = bytearray()
            for chunk in response.iter_stream():
                received += chunk
                if len(received) >= read_limit:
                    break
                if time.monotonic() > deadline:
                    raise httpcore.ReadTimeout("the response took longer than the timeout")
            return Reply(response.status, bytes(received[:read_limit]), time.monotonic() - started)
    finally:
        pool.close()
