"""Numbered SQL migrations, the single source of schema truth.

Files are `NNNN_description.sql` in `migrations/host/` or `migrations/tenant/`. Each file
runs in one transaction and is recorded in `schema_migrations` with its checksum, under a
lock (PostgreSQL advisory lock, SQLite write lock), so concurrent processes apply it once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import sqlparse

from tenants.engines import create_engine
from tenants.stamp import now

ROOT = Path(__file__).resolve().parent.parent / "migrations"
HOST_MIGRATIONS = ROOT / "host"
TENANT_MIGRATIONS = ROOT / "tenant"
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_ID = 7_203_114_265  # any constant; shared by every process of this app

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        parts = (sqlparse.format(s, strip_comments=True).strip() for s in sqlparse.split(self.sql))
        return [p.rstrip(";") for p in parts if p]


def load(directory: Path) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        migrations.append(Migration(match.group(1), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migration files share a number")
    return migrations


def _lock(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})


def _applied(conn: sa.Connection) -> dict[str, str]:
    rows = conn.execute(sa.text("SELECT version, checksum FROM schema_migrations"))
    return dict(rows.all())


def _ledger(engine: sa.Engine) -> None:
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        _lock(conn)
        conn.execute(sa.text(_CREATE_LEDGER))


def pending(engine: sa.Engine, directory: Path) -> list[Migration]:
    """Migrations in `directory` that this database has not applied yet."""
    _ledger(engine)
    with engine.connect() as conn:
        applied = _applied(conn)
    return [m for m in load(directory) if m.version not in applied]


def migrate(engine: sa.Engine, directory: Path) -> list[str]:
    """Apply every pending migration, oldest first; returns the names applied by this call.

    A file that was changed after it was applied is an error: ship a new file instead.
    """
    _ledger(engine)
    done = []
    for migration in load(directory):
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            _lock(conn)
            applied = _applied(conn)
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(f"{migration.name} changed after it was applied")
                continue
            try:
                for statement in migration.statements():
                    conn.exec_driver_sql(statement)
            except sa.exc.DBAPIError as e:
                raise MigrationError(f"{migration.name}: {e.orig}") from e
            conn.execute(
                sa.text(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                    " VALUES (:v, :n, :c, :t)"
                ),
                {"v": migration.version, "n": migration.name, "c": migration.checksum, "t": now()},
            )
            done.append(migration.name)
    return done


def check(directory: Path) -> int:
    """Apply every migration in `directory` to a fresh in-memory SQLite database, to find a
    broken folder (bad names, a number used twice, SQL that does not run) before any real
    database meets it, tenants or not. Returns how many files there are; raises
    MigrationError naming the folder and the file. (The SQL is portable by rule, so what runs
    here runs on PostgreSQL too.)"""
    scratch = create_engine("sqlite://")
    try:
        return len(migrate(scratch, directory))
    except MigrationError as e:
        raise MigrationError(f"{directory.parent.name}/{directory.name}: {e}") from e
    finally:
        scratch.dispose()
