"""The client's IP address: the TCP peer, or what trusted proxies say in `X-Forwarded-For`.

Anyone can send an `X-Forwarded-For` header, so it is read only when the peer is one of
TRUSTED_PROXIES, and then from the right: each trusted proxy appended the address it saw, and
the first address that is not a trusted proxy is the client. Entries further left were
written by that client and are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.settings import Network


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_ip(peer: str, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client's address given the TCP peer and the `X-Forwarded-For` values, in order."""
    client = peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",")]
    for hop in reversed(hops):
        if not _trusted(client, proxies):
            break
        try:
            client = str(ipaddress.ip_address(hop))
        except ValueError:  # garbage from a client, or a proxy we cannot read: stop here
            break
    return client


class TrustedProxyClient:
    """Pure ASGI middleware: puts the real client address into `scope["client"]`, so every
    reader (rate limits, sessions, the audit log, access logs) sees the same one."""

    def __init__(self, app: ASGIApp, proxies: Sequence[Network]):
        self.app, self.proxies = app, tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.proxies and scope.get("client"):
            peer, port = scope["client"]
            forwarded = Headers(scope=scope).getlist("x-forwarded-for")
            if forwarded:
                scope["client"] = (client_ip(peer, forwarded, self.proxies), port)
        await self.app(scope, receive, send)
