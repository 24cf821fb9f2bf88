"""SQLAlchemy engines configured the same way for the host catalog and every tenant."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

TENANT_ID = re.compile(r"^[a-z0-9]{8,40}$")


def normalize_url(url: str | URL) -> URL:
    """`postgresql://` means psycopg 2 to SQLAlchemy; we ship psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory and non-SQLite URLs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database.removeprefix("file:"))


def tenant_url(template: str, tenant_id: str) -> URL:
    """The URL of one tenant's database. The id is validated before it touches a path or name."""
    if not TENANT_ID.fullmatch(tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}")
    return normalize_url(template.replace("{tenant_id}", tenant_id))


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn) -> None:
    """`sqlite_immediate=True` takes the write lock at BEGIN, and makes DDL transactional.

    Otherwise pysqlite's own behaviour stands: reads run outside a transaction (no BEGIN or
    ROLLBACK round trips on the request path) and the first write opens one.
    """
    if conn.get_execution_options().get("sqlite_immediate"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(
    url: str | URL, *, pool_size: int = 5, max_overflow: int = 10, create_file: bool = True
) -> sa.Engine:
    """An engine with a connection pool; SQLite gets WAL, a busy timeout and real transactions.

    PostgreSQL pools hold `pool_size` connections and open up to `max_overflow` more under
    load; SQLite pools keep `pool_size` and open more whenever asked (see below).

    With `create_file=False` a missing SQLite file is an error instead of a new empty database,
    so the request path can never create a tenant by accident.
    """
    url = normalize_url(url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )
    path = sqlite_path(url)
    if path is not None:
        mode = "rwc" if create_file else "rw"
        if create_file:
            path.parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=f"file:{path}", query={"mode": mode, "uri": "true"})
    pooling = (
        # Unbounded overflow: a local file's connections are cheap, and a checkout that never
        # waits is what lets handlers run on the event loop (app/web/mount.py).
        {"pool_size": pool_size, "max_overflow": -1}
        if path is not None
        else {"poolclass": sa.pool.StaticPool}  # one shared in-memory database
    )
    engine = sa.create_engine(url, connect_args={"check_same_thread": False}, **pooling)
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine
