"""People-readable names for the browser behind a session and the place behind an address.

No lookups and no bundled databases: the device comes from the User-Agent header by a few
patterns, and the place is what the address itself says. Loopback and private ranges are
named as such; any other address is shown as it is (IPv4 with its /24, IPv6 with its /48,
the part a provider usually assigns to one site), which is as far as we go without a
geolocation database.
"""

from __future__ import annotations

import ipaddress
import re

BROWSERS = (  # order matters: Edge and Opera also say Chrome, Chrome also says Safari
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|Chromium/")),
    ("Safari", re.compile(r"Safari/")),
)
SYSTEMS = (
    ("iPhone", re.compile(r"iPhone")),
    ("iPad", re.compile(r"iPad")),
    ("Android", re.compile(r"Android")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Macintosh|Mac OS X")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def device_name(agent: str) -> str:
    """ "Firefox on Linux", "Chrome on Android", or "Unknown device"."""
    browser = next((name for name, pattern in BROWSERS if pattern.search(agent)), "")
    system = next((name for name, pattern in SYSTEMS if pattern.search(agent)), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (agent[:40] if agent.strip() else "Unknown device")


def place(address: str) -> str:
    """Roughly where an address is, from the address alone."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown place"
    if ip.is_loopback:
        return "this machine (loopback)"
    if ip.is_private or ip.is_link_local:
        return f"a private network ({ip})"
    prefix = 24 if ip.version == 4 else 48
    return f"{ip} (network {ipaddress.ip_network(f'{ip}/{prefix}', strict=False)})"
