"""Provisioning: make a tenant usable, step by idempotent step.

Every step can run again without harm (CREATE ... if missing, INSERT ... ON CONFLICT DO
NOTHING), and the tenant only becomes `active` after the last one. So a failure part-way
leaves a `provisioning` row that the next attempt simply finishes, and two simultaneous first
sign-ins of one person converge on one tenant through the unique `personal_key`.
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import URL

from tenants.catalog import Catalog
from tenants.engines import create_engine, is_sqlite, sqlite_path, tenant_url
from tenants.pg_roles import ensure_tenant_role
from tenants.routing import TenantDatabases
from tenants.stamp import from_now, new_id, now

# Every new workspace starts with a trial of this plan, no card needed; when it ends without a
# subscription the workspace has Free limits (app/billing/plans.py defines both).
TRIAL_PLAN = "team"
TRIAL_DAYS = 14


class ProvisioningError(Exception):
    pass


def create_database(url: URL) -> None:
    """Create the tenant's database if it does not exist (a file, or a PostgreSQL database)."""
    if is_sqlite(url):
        engine = create_engine(url, create_file=True)
        with engine.connect():
            pass
        engine.dispose()
        return
    admin = sa.create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        with admin.connect() as conn:
            # CREATE DATABASE cannot run in a transaction, so a session lock keeps two
            # simultaneous provisioners from both trying (the loser would hit a unique error).
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtext(:n))"), {"n": url.database})
            try:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
                ).first()
                if not exists:
                    name = conn.dialect.identifier_preparer.quote(cast(str, url.database))
                    conn.exec_driver_sql(f"CREATE DATABASE {name}")
            finally:
                conn.execute(
                    sa.text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": url.database}
                )
    finally:
        admin.dispose()


def drop_database(url: URL) -> None:
    if is_sqlite(url):
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm"):
            if path is not None:
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    admin = sa.create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        with admin.connect() as conn:
            name = conn.dialect.identifier_preparer.quote(cast(str, url.database))
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.dispose()


def _owner(catalog: Catalog, user_id: str) -> dict:
    owner = catalog.user(user_id)
    if owner is None:
        raise ProvisioningError(f"unknown user {user_id}")
    return owner


def _claim_tenant(
    catalog: Catalog, user_id: str, name: str, personal_key: str | None, template: str
) -> str:
    tenant_id = new_id()
    location = tenant_url(template, tenant_id)
    db_name = str(sqlite_path(location) or location.database)
    stamp = now()
    with catalog.begin() as conn:
        conn.execute(
            sa.text("""
            INSERT INTO core_tenants (id, name, status, plan_tier, db_name, created_by,
                                      personal_key, created_at, updated_at)
            VALUES (:id, :name, 'provisioning', 'free', :db, :u, :pk, :t, :t)
            ON CONFLICT (personal_key) DO NOTHING"""),
            dict(id=tenant_id, name=name, db=db_name, u=user_id, pk=personal_key, t=stamp),
        )
        if personal_key is None:
            return tenant_id
        return conn.execute(
            sa.text("SELECT id FROM core_tenants WHERE personal_key = :pk"), {"pk": personal_key}
        ).scalar_one()


def _start_trial(conn: sa.Connection, tenant_id: str) -> None:
    """The trial's subscription row, and its plan where the request path reads it; once."""
    stamp, trial_end = now(), from_now(days=TRIAL_DAYS)
    started = conn.execute(
        sa.text("""
        INSERT INTO core_subscriptions (id, tenant_id, plan_tier, status, trial_ends_at,
                                        created_at, updated_at)
        VALUES (:id, :tenant, :plan, 'trialing', :trial, :t, :t)
        ON CONFLICT (tenant_id) DO NOTHING"""),
        dict(id=new_id(), tenant=tenant_id, plan=TRIAL_PLAN, trial=trial_end, t=stamp),
    ).rowcount
    if started:
        conn.execute(
            sa.text("""UPDATE core_tenants SET plan_tier = :plan, plan_status = 'trialing',
                           plan_ends_at = :trial WHERE id = :id"""),
            {"plan": TRIAL_PLAN, "trial": trial_end, "id": tenant_id},
        )


def provision(catalog: Catalog, databases: TenantDatabases, tenant_id: str, owner_id: str) -> None:
    """Finish (or redo) every step for `tenant_id`, then mark it active. Safe to repeat."""
    owner = _owner(catalog, owner_id)
    try:
        location = tenant_url(databases.url_template, tenant_id)
        create_database(location)
        if databases.role_secret:  # before the first open, so the role owns every table
            ensure_tenant_role(location, databases.role_secret)
        with databases.begin(tenant_id) as db:
            db.execute(
                sa.text("""
                INSERT INTO core_tenant_users (id, email, display_name, role, created_at)
                VALUES (:id, :email, :name, 'owner', :t) ON CONFLICT (id) DO NOTHING"""),
                dict(id=owner_id, email=owner["email"], name=owner["name"], t=now()),
            )
        with catalog.begin() as conn:
            conn.execute(
                sa.text("""
                INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at)
                VALUES (:id, :u, :tenant, 'owner', :t) ON CONFLICT (user_id, tenant_id) DO NOTHING"""),
                dict(id=new_id(), u=owner_id, tenant=tenant_id, t=now()),
            )
            _start_trial(conn, tenant_id)
            activated = conn.execute(
                sa.text("""UPDATE core_tenants SET status = 'active', updated_at = :t
                           WHERE id = :id AND status = 'provisioning'"""),
                {"t": now(), "id": tenant_id},
            ).rowcount
    except ProvisioningError:
        raise
    except Exception as e:
        raise ProvisioningError(f"tenant {tenant_id}: {type(e).__name__}: {e}") from e
    if activated:
        catalog.audit("tenant.provisioned", actor=owner_id, tenant=tenant_id)


def create_tenant(catalog: Catalog, databases: TenantDatabases, owner_id: str, name: str) -> str:
    """A new tenant owned by `owner_id` (for "create another workspace")."""
    _owner(catalog, owner_id)
    tenant_id = _claim_tenant(catalog, owner_id, name, None, databases.url_template)
    provision(catalog, databases, tenant_id, owner_id)
    return tenant_id


def first_tenant(catalog: Catalog, databases: TenantDatabases, user_id: str, name: str) -> str:
    """The tenant a user lands in after sign-in: their oldest usable one, else a new one.

    The new tenant is keyed by the user, so concurrent first sign-ins share it.
    """
    _owner(catalog, user_id)
    existing = sorted(catalog.memberships(user_id), key=lambda m: m["status"] != "active")
    if existing:  # an active tenant if there is one; a suspended one is refused later, clearly
        return existing[0]["id"]
    tenant_id = _claim_tenant(catalog, user_id, name, f"first:{user_id}", databases.url_template)
    provision(catalog, databases, tenant_id, user_id)
    return tenant_id
