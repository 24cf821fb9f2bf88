"""The end of a tenant and of an account.

Deleting a tenant happens in two steps. First, in one catalog transaction, it is marked
`deleted`, its memberships end and its open invitations are withdrawn: from that moment no
request reaches it. Then `purge_database` drops its database, which the web app runs as a
background job (slow, and safe to repeat).

Deleting an account keeps the user row, which memberships, sessions and the audit log refer
to, but empties the profile and changes the identity (issuer + subject), so signing in again
with the same Google account starts a new user. It is refused while the person is the only
owner of a tenant that has other members; tenants where they are the only member go with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenants.catalog import Catalog
from tenants.engines import tenant_url
from tenants.members import lock_tenant
from tenants.provision import drop_database
from tenants.routing import TenantDatabases
from tenants.stamp import now


class SoleOwner(Exception):
    """The account owns tenants alone that other people still use."""

    def __init__(self, tenants: list[dict[str, Any]]):
        self.tenants = tenants
        names = ", ".join(t["name"] for t in tenants)
        super().__init__(
            f"You are the only owner of {names}. Make someone else owner there, or delete it, "
            "before deleting your account."
        )


@dataclass(frozen=True)
class AccountDeleted:
    deleted_tenants: list[str]  # tenants the person was alone in: now deleted, to be purged
    left_tenants: list[str]  # tenants they were a member of, which go on without them


def delete_tenant(catalog: Catalog, tenant_id: str) -> list[dict[str, Any]]:
    """Mark the tenant deleted and end its memberships and invitations.

    Returns the people who were members (id, email, name, role), to tell them; an empty list
    if the tenant was already deleted.
    """
    with catalog.begin() as conn:
        lock_tenant(conn, tenant_id)
        people = _people(conn, tenant_id)
        if not _retire(conn, tenant_id):
            return []
    return people


def delete_account(catalog: Catalog, user_id: str) -> AccountDeleted:
    """End the account (see the module docstring); raises SoleOwner and changes nothing if
    the person still owns a tenant alone that has other members."""
    stamp = now()
    with catalog.begin() as conn:
        # A write first: it takes SQLite's write lock before anything is read.
        conn.execute(
            sa.text("UPDATE core_users SET deleted_at = :now WHERE id = :u"),
            {"now": stamp, "u": user_id},
        )
        for tenant_id in sorted(_tenant_ids(conn, user_id)):  # a fixed order: no deadlocks
            lock_tenant(conn, tenant_id)
        mine = _memberships(conn, user_id)
        if blocking := _blocking(mine):
            raise SoleOwner(blocking)
        alone = [m["tenant_id"] for m in mine if m["people"] == 1]
        for tenant_id in alone:
            _retire(conn, tenant_id)
        conn.execute(sa.text("DELETE FROM core_memberships WHERE user_id = :u"), {"u": user_id})
        conn.execute(
            sa.text("""UPDATE core_sessions SET revoked_at = :now
                       WHERE user_id = :u AND revoked_at IS NULL"""),
            {"now": stamp, "u": user_id},
        )
        for table in ("core_identities", "core_passkeys"):  # no way back in
            conn.execute(sa.text(f"DELETE FROM {table} WHERE user_id = :u"), {"u": user_id})
        conn.execute(
            sa.text("""UPDATE core_users SET email = '', name = '', avatar_url = '',
                           subject = :subject WHERE id = :u"""),
            {"subject": f"deleted:{user_id}", "u": user_id},
        )
    return AccountDeleted(alone, [m["tenant_id"] for m in mine if m["tenant_id"] not in alone])


def blocking_tenants(catalog: Catalog, user_id: str) -> list[dict[str, Any]]:
    """The tenants this person owns alone while others use them: each blocks deleting the
    account until someone else is made owner there (or the tenant is deleted)."""
    with catalog.engine.connect() as conn:
        return _blocking(_memberships(conn, user_id))


def purge_database(catalog: Catalog, databases: TenantDatabases, tenant_id: str) -> None:
    """Drop a deleted tenant's database. Safe to repeat; refuses a tenant not marked deleted."""
    tenant = catalog.tenant(tenant_id)
    if tenant is None or tenant["status"] != "deleted":
        raise ValueError(f"tenant {tenant_id} is not deleted; its database stays")
    databases.forget(tenant_id)
    drop_database(tenant_url(databases.url_template, tenant_id))


def tenants_created_by(catalog: Catalog, user_id: str) -> int:
    """How many live tenants this person created (a cap keeps one account from making many)."""
    return catalog.rows(
        """SELECT COUNT(*) AS n FROM core_tenants
           WHERE created_by = :u AND status IN ('provisioning', 'active', 'suspended')""",
        u=user_id,
    )[0]["n"]


def _retire(conn: sa.Connection, tenant_id: str) -> bool:
    """Mark deleted, end memberships, withdraw invitations. False if it was already deleted."""
    stamp = now()
    # personal_key goes too: the owner's next first sign-in must make a new tenant, not
    # find this one.
    retired = conn.execute(
        sa.text("""UPDATE core_tenants SET status = 'deleted', personal_key = NULL,
                       updated_at = :now
                   WHERE id = :t AND status <> 'deleted'"""),
        {"now": stamp, "t": tenant_id},
    ).rowcount
    if not retired:
        return False
    conn.execute(sa.text("DELETE FROM core_memberships WHERE tenant_id = :t"), {"t": tenant_id})
    conn.execute(
        sa.text("""UPDATE core_invitations SET revoked_at = :now
                   WHERE tenant_id = :t AND accepted_at IS NULL AND revoked_at IS NULL"""),
        {"now": stamp, "t": tenant_id},
    )
    return True


def _blocking(memberships: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in memberships if m["role"] == "owner" and m["owners"] == 1 and m["people"] > 1]


def _people(conn: sa.Connection, tenant_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text("""SELECT u.id, u.email, u.name, m.role FROM core_memberships m
                   JOIN core_users u ON u.id = m.user_id WHERE m.tenant_id = :t
                   ORDER BY m.created_at, u.id"""),
        {"t": tenant_id},
    )
    return [dict(r) for r in rows.mappings()]


def _tenant_ids(conn: sa.Connection, user_id: str) -> list[str]:
    rows = conn.execute(
        sa.text("SELECT tenant_id FROM core_memberships WHERE user_id = :u"), {"u": user_id}
    )
    return list(rows.scalars())


def _memberships(conn: sa.Connection, user_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text("""SELECT m.tenant_id, m.role, t.name,
                          (SELECT COUNT(*) FROM core_memberships o
                           WHERE o.tenant_id = m.tenant_id) AS people,
                          (SELECT COUNT(*) FROM core_memberships o
                           WHERE o.tenant_id = m.tenant_id AND o.role = 'owner') AS owners
                   FROM core_memberships m JOIN core_tenants t ON t.id = m.tenant_id
                   WHERE m.user_id = :u"""),
        {"u": user_id},
    )
    return [dict(r) for r in rows.mappings()]
