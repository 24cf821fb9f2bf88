"""Times for people: in the workspace's timezone, relative where that reads better.

Stamps are the catalog's and tenants' ISO-8601 UTC strings (tenants/stamp.py). `relative`
says "3 minutes ago" or "in 6 days"; `exact` says "2 Dec 2026, 14:03 CET" (what `When`
shows on hover).
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, tzinfo

from tenants.stamp import parse

_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400))


@functools.lru_cache(maxsize=512)
def zone(name: str | None) -> tzinfo:
    """The named timezone, or UTC for none or a name this machine does not know."""
    if not name:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def workspace_zone(db) -> tzinfo:
    """The timezone set in the workspace's settings (one small query on the request's
    connection); UTC where there is no workspace."""
    if db is None:
        return UTC
    rows = db.q("SELECT timezone FROM core_settings WHERE id = 1")
    return zone(rows[0]["timezone"] if rows else None)


def moment(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        found = parse(stamp)
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def exact(when: datetime, where: tzinfo = UTC) -> str:
    local = when.astimezone(where)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".rstrip()


def relative(when: datetime, now: datetime | None = None) -> str:
    """How long ago (or how long until), in the largest unit that fits, rounded down."""
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "just now" if not future else "in a few seconds"
    if seconds < 3600:
        amount, unit = max(1, round(seconds / 60)), "minute"
    elif seconds < 86400:
        amount, unit = int(seconds // 3600), "hour"
    else:
        amount, unit = next(
            (int(seconds // size), name) for name, size in _UNITS if seconds >= size
        )
    text = f"{amount} {unit}{'s' if amount != 1 else ''}"
    return f"in {text}" if future else f"{text} ago"
