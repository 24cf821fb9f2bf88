"""Which syncs exist (in code) and which a tenant has set up (rows in its database).

To add a sync: write a `SyncSpec` (see app/demo/sync.py), register it at startup with
`register_spec` (app/factory.py), add its target table with a migration, and create the
tenant's source with `add_source`, or register it with `default=True` so every tenant gets it
on first view of the sync page.

`add_source` and `set_schedule` write through the handle they are given and never commit: the
request or job that owns it does (a schedule turned on is in the due-work index first, see
`set_schedule`). `scheduled` and `take_slot` are the job scheduler's (app/syncs/jobs.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastsql import Database

from app.syncs.spec import SyncSpec
from tenants.due import DueWork
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


def add_source(db: Database, kind: str, name: str) -> str:
    """The tenant's source of this kind, created if missing (one per kind), its schedule off.
    Returns its id."""
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


def set_schedule(db: TenantDB, source_id: str, schedule: str, due_work: DueWork) -> bool:
    """Turn the schedule on (first run at the next scheduler tick) or off; False if there is
    no such source. Turning it on tells the due-work index first (tenants/due.py); turning
    it off leaves the entry to the scheduler, which drops it when it finds the schedule off."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}")
    stamp, turned_on = now(), SCHEDULES[schedule] is not None

    def change(revision: int | None) -> bool:
        at_revision = " AND revision = :revision" if revision is not None else ""
        return bool(
            db.q(
                f"""UPDATE sync_sources SET schedule = :schedule, next_run_at = :next,
                        updated_at = :t, revision = revision + 1
                    WHERE id = :id{at_revision} RETURNING id""",
                schedule=schedule,
                next=stamp if turned_on else None,
                t=stamp,
                id=source_id,
                revision=revision,
            )
        )

    if not turned_on:
        return change(None)
    return bool(due_work.bring_forward(db.conn, db.tenant_id, "sync", source_id, stamp, change))


@dataclass(frozen=True)
class Scheduled:
    """A source's schedule as its row has it."""

    schedule: str
    next_run_at: str | None


def scheduled(conn: sa.Connection, source_id: str) -> Scheduled | None:
    row = conn.execute(
        sa.text("SELECT schedule, next_run_at FROM sync_sources WHERE id = :id"), {"id": source_id}
    ).first()
    return Scheduled(row.schedule, row.next_run_at) if row else None


def take_slot(
    conn: sa.Connection, source_id: str, source: Scheduled, moment: datetime
) -> tuple[str, int] | None:
    """Move a due source from the slot it was read at to its next one: (next slot, the row's
    new revision), or None if it moved meanwhile (another scheduler took this slot, or the
    schedule changed). Conditional on what was read, so of several schedulers one wins."""
    period = SCHEDULES.get(source.schedule)
    if period is None or source.next_run_at is None:
        return None
    following = iso(moment + period)
    revision = conn.execute(
        sa.text("""UPDATE sync_sources SET next_run_at = :next, revision = revision + 1
                   WHERE id = :id AND schedule = :schedule AND next_run_at = :slot
                   RETURNING revision"""),
        {
            "next": following,
            "id": source_id,
            "schedule": source.schedule,
            "slot": source.next_run_at,
        },
    ).scalar()
    return (following, revision) if revision is not None else None
