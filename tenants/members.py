"""The people of a tenant: list, change role, remove, leave, transfer ownership.

Memberships live in the host catalog and decide access on every request. Each change runs in
one transaction that first locks the tenant (`lock_tenant`), so two owners demoting each
other at the same moment cannot leave a tenant without an owner: there is always at least one.

Functions take `among`, the roles the caller may touch (see app/permissions.py); the target's
role is read under the lock, so a role that changed meanwhile is judged as it is now.

`core_tenant_users` in the tenant's own database mirrors the membership for queries inside
the tenant; `mirror` and `unmirror` keep it in step after a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tenants.catalog import Catalog
from tenants.routing import TenantDB
from tenants.stamp import new_id, now


class MembershipError(Exception):
    """A change the rules refuse; the message is fit to show."""


class NoSuchMember(MembershipError):
    pass


class NotAllowed(MembershipError):
    pass


class LastOwner(MembershipError):
    pass


def listing(catalog: Catalog, tenant_id: str) -> list[dict[str, Any]]:
    """Everyone in the tenant, owners first. `last_active_at` is the latest request of any of
    their sessions while this tenant was the current one (None if never)."""
    return catalog.rows(
        """SELECT m.id, m.user_id, m.role, m.created_at AS joined_at, u.email, u.name,
                  (SELECT MAX(s.last_seen_at) FROM core_sessions s
                   WHERE s.user_id = m.user_id AND s.tenant_id = m.tenant_id) AS last_active_at
           FROM core_memberships m JOIN core_users u ON u.id = m.user_id
           WHERE m.tenant_id = :t
           ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END,
                    m.created_at, m.id""",
        t=tenant_id,
    )


def lock_tenant(conn: sa.Connection, tenant_id: str) -> None:
    """Serialize membership changes of one tenant: a no-op write takes the tenant's row lock
    on PostgreSQL and the database write lock on SQLite, until the transaction ends."""
    conn.execute(sa.text("UPDATE core_tenants SET status = status WHERE id = :t"), {"t": tenant_id})


def add(conn: sa.Connection, tenant_id: str, user_id: str, role: str) -> bool:
    """Make the user a member; False if they already were (their role is left alone)."""
    return bool(
        conn.execute(
            sa.text("""INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at)
                       VALUES (:id, :u, :t, :role, :now)
                       ON CONFLICT (user_id, tenant_id) DO NOTHING"""),
            {"id": new_id(), "u": user_id, "t": tenant_id, "role": role, "now": now()},
        ).rowcount
    )


def set_role(
    catalog: Catalog, tenant_id: str, membership_id: str, role: str, among: Sequence[str]
) -> dict[str, Any]:
    """Give the member `role`; returns the membership as it was before."""
    if role not in among:
        raise NotAllowed(f"You cannot make someone {role}.")
    with catalog.begin() as conn:
        lock_tenant(conn, tenant_id)
        target = _target(conn, tenant_id, membership_id, among)
        _update_role(conn, target["id"], role)
        _keep_an_owner(conn, tenant_id)
    return target


def remove(
    catalog: Catalog, tenant_id: str, membership_id: str, among: Sequence[str]
) -> dict[str, Any]:
    """Take the member out of the tenant; returns the membership that was removed."""
    with catalog.begin() as conn:
        lock_tenant(conn, tenant_id)
        target = _target(conn, tenant_id, membership_id, among)
        _delete(conn, target["id"])
        _keep_an_owner(conn, tenant_id)
    return target


def leave(catalog: Catalog, tenant_id: str, user_id: str) -> dict[str, Any]:
    """The user leaves the tenant (any role; the last owner must hand over first)."""
    with catalog.begin() as conn:
        lock_tenant(conn, tenant_id)
        mine = _one(conn, "m.tenant_id = :t AND m.user_id = :u", t=tenant_id, u=user_id)
        if mine is None:
            raise NoSuchMember("You are not a member of this workspace.")
        _delete(conn, mine["id"])
        _keep_an_owner(conn, tenant_id)
    return mine


def transfer_ownership(
    catalog: Catalog, tenant_id: str, owner_id: str, membership_id: str
) -> dict[str, Any]:
    """The owner `owner_id` makes another member owner and becomes an admin; returns the
    new owner's membership as it was before."""
    with catalog.begin() as conn:
        lock_tenant(conn, tenant_id)
        mine = _one(conn, "m.tenant_id = :t AND m.user_id = :u", t=tenant_id, u=owner_id)
        if mine is None or mine["role"] != "owner":
            raise NotAllowed("Only an owner can hand over ownership.")
        target = _target(conn, tenant_id, membership_id, ("admin", "member"))
        _update_role(conn, target["id"], "owner")
        _update_role(conn, mine["id"], "admin")
    return target


def mirror(db: TenantDB, user: dict[str, Any], role: str) -> None:
    """Record (or update) the member in the tenant's `core_tenant_users`."""
    db.execute(
        sa.text("""INSERT INTO core_tenant_users (id, email, display_name, role, created_at)
                   VALUES (:id, :email, :name, :role, :now)
                   ON CONFLICT (id) DO UPDATE SET email = excluded.email,
                       display_name = excluded.display_name, role = excluded.role"""),
        {
            "id": user["id"],
            "email": user["email"],
            "name": user["name"],
            "role": role,
            "now": now(),
        },
    )


def unmirror(db: TenantDB, user_id: str) -> None:
    db.execute(sa.text("DELETE FROM core_tenant_users WHERE id = :id"), {"id": user_id})


def set_mirror_role(db: TenantDB, user_id: str, role: str) -> None:
    db.execute(
        sa.text("UPDATE core_tenant_users SET role = :role WHERE id = :id"),
        {"role": role, "id": user_id},
    )


# -- inside a locked transaction ------------------------------------------------------------


def _one(conn: sa.Connection, where: str, **params: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.text(f"""SELECT m.id, m.user_id, m.role, u.email, u.name
                        FROM core_memberships m JOIN core_users u ON u.id = m.user_id
                        WHERE {where}"""),
            params,
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _target(
    conn: sa.Connection, tenant_id: str, membership_id: str, among: Sequence[str]
) -> dict[str, Any]:
    target = _one(conn, "m.tenant_id = :t AND m.id = :id", t=tenant_id, id=membership_id)
    if target is None:
        raise NoSuchMember("There is no such member here.")
    if target["role"] not in among:
        raise NotAllowed(f"You cannot change or remove someone who is {target['role']}.")
    return target


def _update_role(conn: sa.Connection, membership_id: str, role: str) -> None:
    conn.execute(
        sa.text("UPDATE core_memberships SET role = :role WHERE id = :id"),
        {"role": role, "id": membership_id},
    )


def _delete(conn: sa.Connection, membership_id: str) -> None:
    conn.execute(sa.text("DELETE FROM core_memberships WHERE id = :id"), {"id": membership_id})


def _keep_an_owner(conn: sa.Connection, tenant_id: str) -> None:
    """Raise (rolling the change back) if the tenant would be left without an owner."""
    owners = conn.execute(
        sa.text("SELECT COUNT(*) FROM core_memberships WHERE tenant_id = :t AND role = 'owner'"),
        {"t": tenant_id},
    ).scalar_one()
    if owners == 0:
        raise LastOwner(
            "A workspace needs an owner: make someone else owner first, or delete the workspace."
        )
