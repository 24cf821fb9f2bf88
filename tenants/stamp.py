"""Ids and timestamps shared by every table.

Timestamps are fixed-width ISO-8601 UTC strings, so they sort and compare as text the same
way on SQLite and PostgreSQL.
"""

import secrets
from datetime import UTC, datetime, timedelta

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def new_id() -> str:
    """A random 128-bit id in hex: unguessable, so it can appear in URLs."""
    return secrets.token_hex(16)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def now() -> str:
    return iso(datetime.now(UTC))


def from_now(**delta: float) -> str:
    return iso(datetime.now(UTC) + timedelta(**delta))


def parse(stamp: str) -> datetime:
    """A stamp back to an aware UTC datetime (fromisoformat: 40x quicker than strptime)."""
    return datetime.fromisoformat(stamp)
