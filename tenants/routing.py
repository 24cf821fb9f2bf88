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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from fastsql import Database, DBTable

from tenants import raw
from tenants.engines import create_engine, tenant_url
from tenants.migrate import TENANT_MIGRATIONS, migrate
from tenants.pg_roles import as_tenant_role


class TenantDB(Database):
    """A fastsql `Database` over a shared engine and shared, complete `MetaData`, holding one
    unit of work: everything written through it (`q()`, fastsql tables, `execute()`, code
    handed `.conn`) lands together or not at all.

    Its owner ends the unit of work: the web app commits when a handler returns and rolls
    back when it raises (app/web/edge.py); the job runner commits with the job's completion.
    Code using the handle never commits: fastsql's tables commit after each write and roll
    back on a missing row, so on `.conn` those two calls do nothing, and no write commits
    behind the others' backs halfway through.

    The connection is checked out on first use and given back by `close()`. Tables come from
    migrations: asking for one that does not exist is a `KeyError`, never a silent `CREATE
    TABLE` on shared state.
    """

    def __init__(self, engine: sa.Engine, meta: sa.MetaData, tenant_id: str):
        self.conn_str = f"tenant:{tenant_id}"
        self.tenant_id = tenant_id
        self.engine, self.meta = engine, meta
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._tables: dict[str, DBTable] = {}
        self._conn: sa.Connection | None = None

    @property
    def conn(self) -> sa.Connection:
        if self._conn is None:
            conn = self.engine.connect()
            # For everyone holding the handle, committing or rolling back does nothing: the
            # owner ends the unit of work through the class's own methods (see commit()).
            conn.commit = conn.rollback = _owner_ends_it  # type: ignore[method-assign]
            self._conn = conn
        return self._conn

    def q(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Run SQL with bound parameters; the rows as dicts."""
        return raw.query(self.conn, sql, params)

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
        """End the unit of work, keeping its writes (the owner's call, not a handler's)."""
        if self._conn is not None:
            if self._conn.in_transaction():
                sa.Connection.commit(self._conn)
            else:  # only raw `q()` writes: the driver holds the transaction
                self._conn.connection.commit()

    def rollback(self) -> None:
        """End the unit of work, dropping its writes (the owner's call)."""
        if self._conn is not None:
            self._rollback(self._conn)

    def close(self) -> None:
        """Drop what is uncommitted and give the connection back to the pool."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                self._rollback(conn)
            finally:
                conn.close()

    @staticmethod
    def _rollback(conn: sa.Connection) -> None:
        if conn.in_transaction():
            sa.Connection.rollback(conn)
        else:
            conn.connection.rollback()

    def __enter__(self) -> TenantDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _owner_ends_it() -> None:
    """What `commit()` and `rollback()` do on a unit of work's connection: nothing."""


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
        pool_overflow: int = 8,
        migrations: Path = TENANT_MIGRATIONS,
        role_secret: str | None = None,
    ):
        self.url_template = url_template
        self.migrations = migrations
        self.cache_size = cache_size
        self.pool_size, self.pool_overflow = pool_size, pool_overflow
        self.role_secret = role_secret
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def is_open(self, tenant_id: str) -> bool:
        """Whether the tenant's engine is built in this process (a handle is then cheap)."""
        return tenant_id in self._entries

    def handle(self, tenant_id: str) -> TenantDB:
        """A handle on the tenant's database; you own its unit of work: commit it if you
        wrote, and close it (or use `with`, which closes)."""
        entry = self._entry(tenant_id)
        return TenantDB(entry.engine, entry.meta, tenant_id)

    @contextmanager
    def begin(self, tenant_id: str) -> Iterator[TenantDB]:
        """A handle whose writes commit when the block ends, or roll back if it raises."""
        with self.handle(tenant_id) as db:
            yield db
            db.commit()

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
            max_overflow=self.pool_overflow,
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
