"""What the operator console reads across tenants: workspaces with their numbers, people,
database sizes, and failed jobs everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenants import jobs as store
from tenants.catalog import Catalog
from tenants.engines import is_sqlite, tenant_url
from tenants.routing import TenantDatabases

PAGE_SIZE = 50
JOB_SCAN_TENANTS = 100  # failed jobs are looked for in the most recently active workspaces


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def workspaces(catalog: Catalog, search: str = "", page: int = 1) -> list[dict[str, Any]]:
    """Newest first, filtered by name or id: plan, status, members and last activity (the
    latest moment any session in it was seen)."""
    return catalog.rows(
        """SELECT t.id, t.name, t.status, t.plan_tier, t.db_name, t.created_at, t.require_passkey,
                  (SELECT COUNT(*) FROM core_memberships m WHERE m.tenant_id = t.id) AS members,
                  (SELECT MAX(s.last_seen_at) FROM core_sessions s WHERE s.tenant_id = t.id)
                      AS last_active_at
           FROM core_tenants t
           WHERE (LOWER(t.name) LIKE :q ESCAPE '\\' OR t.id LIKE :q ESCAPE '\\')
           ORDER BY t.created_at DESC, t.id LIMIT :n OFFSET :skip""",
        q=_like(search),
        n=PAGE_SIZE,
        skip=(page - 1) * PAGE_SIZE,
    )


def people(catalog: Catalog, search: str = "", page: int = 1) -> list[dict[str, Any]]:
    return catalog.rows(
        """SELECT u.id, u.email, u.name, u.is_superuser, u.created_at, u.last_login_at,
                  (SELECT COUNT(*) FROM core_memberships m WHERE m.user_id = u.id) AS workspaces
           FROM core_users u
           WHERE u.deleted_at IS NULL AND (LOWER(u.email) LIKE :q ESCAPE '\\'
                                           OR LOWER(u.name) LIKE :q ESCAPE '\\')
           ORDER BY u.created_at DESC, u.id LIMIT :n OFFSET :skip""",
        q=_like(search),
        n=PAGE_SIZE,
        skip=(page - 1) * PAGE_SIZE,
    )


def database_sizes(template: str, rows: list[dict[str, Any]]) -> dict[str, int | None]:
    """Bytes on disk per tenant id (None where it cannot be told): file sizes for SQLite, one
    query to the server for PostgreSQL."""
    if not rows:
        return {}
    if is_sqlite(template):
        sizes: dict[str, int | None] = {}
        for row in rows:
            path = Path(row["db_name"])
            files = [path.with_name(path.name + s) for s in ("", "-wal")]
            sizes[row["id"]] = sum(f.stat().st_size for f in files if f.exists()) or None
        return sizes
    server = tenant_url(template, rows[0]["id"]).set(database="postgres")
    engine = sa.create_engine(server, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("""SELECT datname, pg_database_size(datname) FROM pg_database
                           WHERE datname = ANY(:names)"""),
                {"names": [row["db_name"] for row in rows]},
            ).all()
    except sa.exc.SQLAlchemyError:
        return {}
    finally:
        engine.dispose()
    by_name: dict[str, int] = {name: size for name, size in found}
    return {row["id"]: by_name.get(row["db_name"]) for row in rows}


def failed_jobs(catalog: Catalog, databases: TenantDatabases) -> tuple[list[dict], int]:
    """Failed jobs of the host and of the most recently active live workspaces, newest first;
    also how many workspaces were looked at."""
    with catalog.engine.connect() as conn:
        found = [
            {**job, "tenant_id": None, "workspace": "(host)"}
            for job in store.listing(conn, "sys_jobs", status="failed", limit=50)
        ]
    live = catalog.rows(
        """SELECT t.id, t.name FROM core_tenants t
           WHERE t.status IN ('active', 'suspended')
           ORDER BY (SELECT MAX(s.last_seen_at) FROM core_sessions s WHERE s.tenant_id = t.id)
                    DESC, t.created_at DESC
           LIMIT :n""",
        n=JOB_SCAN_TENANTS,
    )
    for tenant in live:
        try:
            with databases.handle(tenant["id"]) as db:
                jobs = store.listing(db.conn, "tenant_jobs", status="failed", limit=20)
        except sa.exc.SQLAlchemyError:
            continue  # one broken workspace must not hide the others
        found += [{**job, "tenant_id": tenant["id"], "workspace": tenant["name"]} for job in jobs]
    found.sort(key=lambda job: (job["updated_at"], job["id"]), reverse=True)
    return found, len(live)


def host_audit(catalog: Catalog, limit: int = 50) -> list[dict[str, Any]]:
    """The host's own trail: entries about no single workspace (operators, accounts)."""
    return catalog.rows(
        """SELECT a.at, a.action, a.ip, a.details, u.email AS actor FROM sys_audit_logs a
           LEFT JOIN core_users u ON u.id = a.actor_user_id
           WHERE a.tenant_id IS NULL ORDER BY a.at DESC, a.id LIMIT :n""",
        n=limit,
    )
