"""Who may do what in a workspace: roles, the permission table, and `require`.

What a role may do is a row in the tenant's own `core_permissions` table (resource + action,
defaults in migrations/tenant/0001_core.sql), so a tenant can grant more without a deploy:

    @rt.post("/members/{membership_id}/remove")
    def remove(auth, membership_id: str):
        require(auth, "members", "manage")      # 403 unless the role has the permission
        ...

Pages ask `can(...)` to hide what the role cannot do; handlers call `require(...)` anyway,
because a hidden button is not a refusal.

Besides the table there is one fixed rule, about people rather than resources: only an owner
may make, unmake or remove an owner. Owners and admins both manage members; an admin
manages admins and members only.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

from tenants.catalog import ROLES


def can(auth, resource: str, action: str) -> bool:
    """Whether the signed-in member's role has this permission in the current tenant (never,
    on a page outside the tenant: signed-in-only routes have no tenant database)."""
    if auth.role not in ROLES or auth.db is None:
        return False
    return (resource, action) in _granted(auth.db, auth.role)


def _granted(db, role: str) -> frozenset[tuple[str, str]]:
    """The role's permissions, read once per unit of work (a page asks several times)."""
    key = ("permissions", role)
    if key not in db.memo:
        rows = db.q("SELECT resource, action FROM core_permissions WHERE role = :r", r=role)
        db.memo[key] = frozenset((row["resource"], row["action"]) for row in rows)
    return db.memo[key]


def require(auth, resource: str, action: str) -> None:
    """Refuse the request with 403 unless the role may do `action` on `resource`."""
    if not can(auth, resource, action):
        raise HTTPException(403, f"Your role ({auth.role}) does not allow this here.")


def manageable_roles(role: str | None) -> tuple[str, ...]:
    """The roles someone with `role` may give, change or take away (given members.manage)."""
    if role == "owner":
        return ROLES
    if role == "admin":
        return ("admin", "member")
    return ()
