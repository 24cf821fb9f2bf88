"""Which syncs exist (in code) and which a tenant has set up (rows in its database).

To add a sync: write a `SyncSpec` (see app/demo/sync.py), register it at startup with
`register_spec` (app/factory.py), add its target table with a migration, and create the
tenant's source with `add_source`, or register it with `default=True` so every tenant gets it
on first view of the sync page.

`add_source` and `set_schedule` write through the handle they are given and never commit: the
request or job that owns it does. `claim_due` is the scheduler's and commits its claims.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from fastsql import Database

from app.syncs.spec import SyncSpec
from tenants.routing import TenantDB
from tenants.stamp import iso, new_id, now

SPECS: dict[str, SyncSpec] = {}
DEFAULT_KINDS: list[str] = []  # sources every tenant gets on first view of the sync page
SCHEDULES: dict[str, timedelta | None] = {
    "off": None,
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
}
_SOURCE = """
SELECT s.id, s.kind, s.name, s.schedule, s.next_run_at, t.status, t.mode, t.high_water,
       t.job_id, t.run_pages, t.run_fetched, t.run_written, t.run_total,
       t.started_at, t.heartbeat_at, t.finished_at, t.last_success_at, t.last_error
FROM sync_sources s JOIN sync_state t ON t.source_id = s.id
"""


def list_sources(db: Database) -> list[dict[str, Any]]:
    """Every source of the tenant with its sync state, oldest first."""
    return db.q(_SOURCE + " ORDER BY s.created_at")


def get_source(db: Database, source_id: str) -> dict[str, Any] | None:
    """The source with its sync state, or None if this tenant has no such source."""
    rows = db.q(_SOURCE + " WHERE s.id = :id", id=source_id)
    return rows[0] if rows else None


def add_source(db: Database, kind: str, name: str, schedule: str = "off") -> str:
    """The tenant's source of this kind, created if missing (one per kind). Returns its id."""
    if kind not in SPECS:
        raise ValueError(f"no sync of kind {kind!r}")
    stamp = now()
    db.q(
        """INSERT INTO sync_sources (id, kind, name, schedule, created_at, updated_at)
           VALUES (:id, :kind, :name, 'off', :t, :t) ON CONFLICT (kind) DO NOTHING""",
        id=new_id(),
        kind=kind,
        name=name,
        t=stamp,
    )
    source_id = db.q("SELECT id FROM sync_sources WHERE kind = :kind", kind=kind)[0]["id"]
    db.q(
        "INSERT INTO sync_state (source_id) VALUES (:id) ON CONFLICT (source_id) DO NOTHING",
        id=source_id,
    )
    if schedule != "off":
        set_schedule(db, source_id, schedule)
    return source_id


def register_spec(spec: SyncSpec, *, default: bool = False) -> None:
    """Make a kind of sync known (at startup); `default` gives it to every tenant."""
    if SPECS.get(spec.kind, spec) is not spec:
        raise ValueError(f"sync kind {spec.kind!r} is already registered")
    SPECS[spec.kind] = spec
    if default and spec.kind not in DEFAULT_KINDS:
        DEFAULT_KINDS.append(spec.kind)


def ensure_default_sources(db: Database, listed: list[dict[str, Any]]) -> bool:
    """Create the default sources this tenant lacks; True if any was created."""
    have = {s["kind"] for s in listed}
    missing = [kind for kind in DEFAULT_KINDS if kind not in have]
    for kind in missing:
        add_source(db, kind, SPECS[kind].title)
    return bool(missing)


def set_schedule(db: Database, source_id: str, schedule: str) -> bool:
    """Turn the schedule on (first run at the next scheduler tick) or off."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}")
    stamp = now()
    changed = db.q(
        """UPDATE sync_sources SET schedule = :schedule, next_run_at = :next, updated_at = :t
           WHERE id = :id RETURNING id""",
        schedule=schedule,
        next=stamp if SCHEDULES[schedule] else None,
        t=stamp,
        id=source_id,
    )
    return bool(changed)


def claim_due(db: TenantDB, moment: datetime | None = None) -> list[str]:
    """Ids of scheduled sources due at `moment`, each moved to its next slot.

    The move is conditional on the slot it read, so two schedulers never both claim a run.
    """
    moment = moment or datetime.now(UTC)
    due = db.q(
        """SELECT id, schedule, next_run_at FROM sync_sources
           WHERE schedule <> 'off' AND next_run_at <= :now ORDER BY next_run_at""",
        now=iso(moment),
    )
    db.commit()  # end the read; most ticks stop here, without taking the write lock
    claimed = []
    for source in due:
        moved = db.q(
            """UPDATE sync_sources SET next_run_at = :next
               WHERE id = :id AND next_run_at = :slot RETURNING id""",
            next=iso(moment + cast(timedelta, SCHEDULES[source["schedule"]])),  # not "off"
            id=source["id"],
            slot=source["next_run_at"],
        )
        claimed += [row["id"] for row in moved]
    db.commit()  # the claims hold before anyone queues the runs
    return claimed
