"""The client's IP address: the TCP peer, or what trusted proxies say in `X-Forwarded-For`.

Anyone can send an `X-Forwarded-For` header, so it is read only when the peer is one of
TRUSTED_PROXIES, and then from the right: each trusted proxy appended the address it saw, and
the first address that is not a trusted proxy is the client. Entries further left were
written by that client and are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

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
