"""How much of each limit a workspace uses, counted where the things live (one query each).

Seats count the people in the workspace and the invitations still open, so inviting cannot
overshoot the plan by sending invitations faster than people accept them.
"""

from __future__ import annotations

import sqlalchemy as sa

from tenants import billing, raw
from tenants.catalog import Catalog
from tenants.routing import TenantDB


def seats(catalog: Catalog, tenant_id: str) -> int:
    members, pending = billing.members_used(catalog, tenant_id)
    return members + pending


def webhook_endpoints(catalog: Catalog, tenant_id: str) -> int:
    return catalog.rows(
        """SELECT COUNT(*) AS n FROM core_webhook_endpoints
           WHERE tenant_id = :t AND revoked_at IS NULL""",
        t=tenant_id,
    )[0]["n"]


def scheduled_syncs(db: TenantDB, besides: str | None = None) -> int:
    """Sources with a schedule, not counting `besides` (the one being changed)."""
    return db.q(
        "SELECT COUNT(*) AS n FROM sync_sources WHERE schedule <> 'off' AND id <> :besides",
        besides=besides or "",
    )[0]["n"]


def within_schedule_limit(conn: sa.Connection, source_id: str, allowed: int | None) -> bool:
    """Whether this source is among the first `allowed` scheduled ones (oldest first): the
    scheduler runs those and skips the rest after a downgrade."""
    if allowed is None:
        return True
    first = raw.query(
        conn,
        """SELECT id FROM sync_sources WHERE schedule <> 'off'
           ORDER BY created_at, id LIMIT :n""",
        {"n": allowed},
    )
    return any(row["id"] == source_id for row in first)
