"""Syncs as background jobs: the handler, starting and cancelling a run, and the schedule.

`run_sync` is the "sync.run" job (registered in app/work/handlers.py), so a sync gets the job
system's retries (each retry resumes from the high-water mark), lease and cancellation.
A source's schedule has an entry in the host's due-work index (tenants/due.py); when it is
due, the job scheduler (app/work/scheduler.py) calls `start_scheduled_syncs`, which moves the
schedule to its next slot and queues the run as a job in one tenant transaction, so a slot
is never run twice and never skipped by a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from starlette.background import BackgroundTask
from starlette.requests import Request

from app.billing.state import tenant_plan
from app.billing.usage import within_schedule_limit
from app.syncs.sources import scheduled, set_schedule, take_slot
from app.work.in_request import jobs_for
from app.work.jobs import JobManager
from tenants.due import Due, Entry
from tenants.jobs import writing
from tenants.routing import TenantDB
from tenants.stamp import iso

log = logging.getLogger(__name__)
SYNC_JOB = "sync.run"


def start_sync(
    req: Request, tenant_id: str, source_id: str, mode: str, submitted_by: str | None = None
) -> BackgroundTask:
    """Submit a sync job; return its task from the route so it starts after the response."""
    _, task = jobs_for(req).submit(
        tenant_id, SYNC_JOB, submitted_by=submitted_by, source_id=source_id, mode=mode
    )
    return task


def cancel_sync(req: Request, tenant_id: str, job_id: str | None) -> bool:
    """Cancel the sync job; it stops after its current page. False if it already ended."""
    return bool(job_id and jobs_for(req).cancel(tenant_id, job_id))


def change_schedule(req: Request, db: TenantDB, source_id: str, schedule: str) -> bool:
    """Set a source's schedule (off, hourly, daily); False if there is no such source."""
    return set_schedule(db, source_id, schedule, jobs_for(req).due_work)


def start_scheduled_syncs(
    manager: JobManager, entries: Sequence[Entry], moment: datetime | None = None
) -> list[str]:
    """Queue the run of each due sync entry whose schedule really is due at `moment` (default
    now), and correct the others. Returns the tenants whose database could not be read."""
    unreachable = []
    for entry in entries:
        try:
            _start_scheduled(manager, entry, moment or datetime.now(UTC))
        except Exception:  # one broken tenant database must not stop everybody's schedule
            log.exception("could not start the scheduled sync of tenant %s", entry.tenant_id)
            unreachable.append(entry.tenant_id)
    return unreachable


def _start_scheduled(manager: JobManager, entry: Entry, moment: datetime) -> None:
    """Queue the run of a due schedule. A schedule beyond what the workspace's plan allows
    (after a downgrade) keeps its slots moving but runs nothing until the plan has room."""
    queue, lease = manager.queue(entry.tenant_id), manager.config.lease_seconds
    allowed = tenant_plan(manager.catalog.tenant(entry.tenant_id) or {}).limit("scheduled_syncs")
    with queue.engine.connect() as conn:
        source = scheduled(conn, entry.item_id)
        runs = within_schedule_limit(conn, entry.item_id, allowed)
    taken = None
    if source and source.next_run_at and source.next_run_at <= iso(moment):
        run = manager.new_job(SYNC_JOB, {"source_id": entry.item_id, "mode": "incremental"})
        with writing(queue.engine) as conn:
            taken = take_slot(conn, entry.item_id, source, moment)
            if taken is not None and runs:
                manager.create_pending(conn, entry.tenant_id, run, None)
            elif taken is not None:
                log.info("scheduled sync %s skipped: the plan's limit", entry.item_id)
    if taken is None:  # not due after all (turned off, moved, or taken by another process)
        manager.due_work.reconcile(entry, queue.engine, lease)
        return
    following, revision = taken
    manager.due_work.settle(entry.tenant_id, "sync", entry.item_id, Due(following, revision))
