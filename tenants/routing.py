"""Route a tenant id to its database: cached engines, a connection per request.

fastsql's `Database()` reflects every table and holds one connection for its whole life,
which is slow to build and unsafe across FastHTML's handler threads. So each tenant gets one
engine and one fully reflected `MetaData`, built once and kept in a bounded LRU cache; each
request gets a light `TenantDB` that speaks fastsql's API over its own pooled connection.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import sqlalchemy as sa
from fastsql import Database, DBTable

from tenants.engines import create_engine, tenant_url
from tenants.migrate import TENANT_MIGRATIONS, migrate
from tenants.pg_roles import as_tenant_role


class TenantDB(Database):
    """A fastsql `Database` over a shared engine and shared, complete `MetaData`.

    The connection is checked out on first use and returned by `close()`, which the web app
    calls when the request ends, error or not. Tables come from migrations: asking for a
    table that does not exist is a `KeyError`, never a silent `CREATE TABLE` on shared state.
    """

    def __init__(self, engine: sa.Engine, meta: sa.MetaData, tenant_id: str):
        self.conn_str = f"tenant:{tenant_id}"
        self.tenant_id = tenant_id
        self.engine, self.meta = engine, meta
        self._tables: dict[str, DBTable] = {}
        self._conn: sa.Connection | None = None

    @property
    def conn(self) -> sa.Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def table(self, nm: str, cls: type | None = None) -> DBTable:
        if nm not in self._tables:
            table = self.meta.tables[nm]  # KeyError for unknown tables, on purpose
            handle = DBTable.__new__(DBTable)  # skip DBTable's per-access CREATE ... checkfirst
            handle.table, handle.db, handle.cls, handle._exists = table, self, cls, True
            handle.xtra_id, handle.result = {}, []
            self._tables[nm] = handle
        return self._tables[nm]

    def create(self, *args, **kwargs):
        raise TypeError("tenant tables come from migrations/tenant/*.sql, not create()")

    def commit(self) -> None:
        """End the unit of work, keeping its writes (for the owner: request path, job runner)."""
        if self._conn is not None and self._conn.in_transaction():
            self._conn.commit()

    def rollback(self) -> None:
        """End the unit of work, dropping its writes (for the owner)."""
        if self._conn is not None and self._conn.in_transaction():
            self._conn.rollback()

    def close(self) -> None:
        """Drop what is uncommitted and give the connection back to the pool."""
        if self._conn is not None:
            try:
                if self._conn.in_transaction():
                    self._conn.rollback()
            finally:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> TenantDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class _Entry:
    engine: sa.Engine
    meta: sa.MetaData
    last_used: float = 0.0  # time.monotonic()


class TenantDatabases:
    """Bounded LRU of tenant engines. Evicted engines are disposed (their pools closed).

    The first open of a tenant in this process applies pending tenant migrations, so a new
    migration file reaches every existing tenant without a separate step.

    With `role_secret` (TENANT_DB_ROLES), each tenant is reached as its own PostgreSQL role
    (tenants/pg_roles.py) instead of the template's credentials.
    """

    def __init__(
        self,
        url_template: str,
        *,
        cache_size: int = 256,
        pool_size: int = 2,
        migrations: Path = TENANT_MIGRATIONS,
        role_secret: str | None = None,
    ):
        self.url_template = url_template
        self.migrations = migrations
        self.cache_size = cache_size
        self.pool_size = pool_size
        self.role_secret = role_secret
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def handle(self, tenant_id: str) -> TenantDB:
        """A per-request handle on the tenant's database. Close it (or use `with`)."""
        entry = self._entry(tenant_id)
        return TenantDB(entry.engine, entry.meta, tenant_id)

    def _entry(self, tenant_id: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is not None:
                self._entries.move_to_end(tenant_id)
                entry.last_used = time.monotonic()
                return entry
            building = self._building.setdefault(tenant_id, threading.Lock())
        with building:  # one builder per tenant; the others wait and reuse its work
            with self._lock:
                entry = self._entries.get(tenant_id)
            if entry is None:
                entry = self._build(tenant_id)
                entry.last_used = time.monotonic()
                with self._lock:
                    self._entries[tenant_id] = entry
                    self._building.pop(tenant_id, None)
                    evicted = self._evict()
                for engine in evicted:
                    engine.dispose()
        return entry

    def _build(self, tenant_id: str) -> _Entry:
        url = tenant_url(self.url_template, tenant_id)
        engine = create_engine(
            as_tenant_role(url, self.role_secret) if self.role_secret else url,
            pool_size=self.pool_size,
            max_overflow=8,
            create_file=False,
        )
        try:
            migrate(engine, self.migrations)
            meta = sa.MetaData()
            meta.reflect(bind=engine)
        except Exception:
            engine.dispose()
            raise
        return _Entry(engine, meta)

    def _evict(self) -> list[sa.Engine]:
        evicted = []
        while len(self._entries) > self.cache_size:
            _, entry = self._entries.popitem(last=False)
            evicted.append(entry.engine)
        return evicted

    def forget(self, tenant_id: str) -> None:
        """Drop a tenant's engine (after migrations or deletion) so the next open rebuilds it."""
        with self._lock:
            entry = self._entries.pop(tenant_id, None)
        if entry is not None:
            entry.engine.dispose()

    def close_idle(self, idle_seconds: float) -> list[str]:
        """Close the pooled connections of tenants unused for `idle_seconds`; their engine
        and schema stay cached, so the next request only opens a new connection."""
        cutoff = time.monotonic() - idle_seconds
        with self._lock:
            idle = [(t, e) for t, e in self._entries.items() if e.last_used < cutoff]
        closed = []
        for tenant_id, entry in idle:
            pool = cast(sa.QueuePool, entry.engine.pool)  # tenant engines always have one
            if pool.checkedin():  # connections sitting idle in the pool
                entry.engine.dispose()  # connections in use are not touched
                closed.append(tenant_id)
        return closed

    def dispose(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            entry.engine.dispose()
