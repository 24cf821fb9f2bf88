"""Session lookups cached per process, and the epoch that keeps the cache honest.

Every signed-in request needs its session, user, current tenant and membership: one catalog
query joining four tables. Here the answer is kept per session, and trusted only while the
catalog's auth epoch (core_auth_epoch) is unchanged. The epoch moves in the same transaction
as every write to core_sessions, core_memberships, core_tenants, core_users or core_api_keys
made through the catalog's engine (a hook on the engine bumps it, so no code path can forget
to), except the once-a-minute `last_seen_at` (and API keys' `last_used_at`) touch, which
opts out. Sign-out, removal, a role change, suspension, a rename, a tenant switch, a revoked
API key: the next request, in any process, sees it.

Learning the epoch costs little: on SQLite, `PRAGMA data_version` on a connection of our own
tells whether any connection committed anything to the file since we last looked (a few
microseconds, no I/O), and only then is the row read; on PostgreSQL the row is read (one
indexed round trip, cheaper than the join it replaces).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenants.engines import sqlite_path

AUTH_TABLES = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"
    r"(?:core_sessions|core_memberships|core_tenants|core_users|core_api_keys)\b",
    re.IGNORECASE,
)
BUMP = "UPDATE core_auth_epoch SET n = n + 1 WHERE id = 1"
READ = "SELECT n FROM core_auth_epoch WHERE id = 1"
NO_BUMP = "auth_epoch_unchanged"  # execution option for writes that change nobody's access
CACHE_SIZE = 10_000


def bump_on_auth_writes(engine: sa.Engine) -> None:
    """Make every write to the auth tables through `engine` move the epoch, in its transaction."""

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        if AUTH_TABLES.match(statement) and not conn.get_execution_options().get(NO_BUMP):
            bump = conn.connection.cursor()  # a cursor of its own: the first may hold rows
            try:
                bump.execute(BUMP)
            finally:
                bump.close()

    sa.event.listen(engine, "after_cursor_execute", after)


class Epoch:
    """The catalog's current auth epoch, found out cheaply (see the module docstring)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._path = sqlite_path(engine.url)
        self._watch: sqlite3.Connection | None = None
        self._seen: tuple[int, int] | None = None  # (data_version, epoch)
        self._lock = threading.Lock()

    def current(self) -> int:
        if self._path is None:
            return self._read()
        with self._lock:
            if self._watch is None:
                uri = f"file:{self._path}?mode=ro"
                self._watch = sqlite3.connect(uri, uri=True, check_same_thread=False)
            version = self._watch.execute("PRAGMA data_version").fetchone()[0]
            if self._seen is not None and self._seen[0] == version:
                return self._seen[1]
        epoch = self._read()
        with self._lock:
            self._seen = (version, epoch)
        return epoch

    def _read(self) -> int:
        with self.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(READ)
                row = cursor.fetchone()
            finally:
                cursor.close()
            conn.connection.rollback()  # end the read at once (PostgreSQL holds a snapshot)
        return row[0] if row else 0

    def close(self) -> None:
        with self._lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None


@dataclass
class _Cached:
    value: Any
    epoch: int


class EpochCache:
    """A bounded map whose entries count only for the epoch they were made in."""

    def __init__(self, epoch: Epoch, size: int = CACHE_SIZE):
        self.epoch, self.size = epoch, size
        self._entries: OrderedDict[Any, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], Any], valid: Callable[[Any], bool] = bool) -> Any:
        """The value for `key`, made anew if missing, from an older epoch, or not `valid`."""
        epoch = self.epoch.current()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit.epoch == epoch and valid(hit.value):
                self._entries.move_to_end(key)
                return hit.value
        value = make()
        with self._lock:
            self._entries[key] = _Cached(value, epoch)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def peek(self, key: Any) -> Any:
        """The cached value for `key` whatever its epoch, or None."""
        with self._lock:
            hit = self._entries.get(key)
        return hit.value if hit is not None else None


def seconds(stamp: str) -> float:
    """A catalog timestamp as seconds since the epoch, for quick comparisons."""
    return datetime.fromisoformat(stamp).timestamp()
