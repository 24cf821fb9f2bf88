"""Syncs as background jobs: the handler, starting and cancelling a run, and the schedule.

`run_sync` is the "sync.run" job (registered in app/work/handlers.py), so a sync gets the job
system's retries (each retry resumes from the high-water mark), lease and cancellation.
Scheduled syncs need one call from the job scheduler, about once a minute:

    enqueue_due_syncs(manager)   # blocking: from a thread
"""

from __future__ import annotations

import logging
from datetime import datetime

from starlette.background import BackgroundTask
from starlette.requests import Request

from app.syncs.sources import claim_due
from app.work.in_request import jobs_for
from app.work.jobs import JobManager
from tenants.catalog import Catalog
from tenants.routing import TenantDatabases

log = logging.getLogger(__name__)
SYNC_JOB = "sync.run"


def start_sync(req: Request, tenant_id: str, source_id: str, mode: str) -> BackgroundTask:
    """Submit a sync job; return its task from the route so it starts after the response."""
    _, task = jobs_for(req).submit(tenant_id, SYNC_JOB, source_id=source_id, mode=mode)
    return task


def cancel_sync(req: Request, tenant_id: str, job_id: str | None) -> bool:
    """Cancel the sync job; it stops after its current page. False if it already ended."""
    return bool(job_id and jobs_for(req).cancel(tenant_id, job_id))


def due_syncs(
    catalog: Catalog, databases: TenantDatabases, moment: datetime | None = None
) -> list[tuple[str, str]]:
    """(tenant id, source id) of every scheduled sync that is due, each claimed so that no
    other process starts it too."""
    due = []
    for tenant in catalog.rows("SELECT id FROM core_tenants WHERE status = 'active'"):
        try:
            with databases.handle(tenant["id"]) as db:
                due += [(tenant["id"], source_id) for source_id in claim_due(db, moment)]
        except Exception:  # one broken tenant database must not stop everybody's schedule
            log.exception("could not read the sync schedule of tenant %s", tenant["id"])
    return due


def enqueue_due_syncs(manager: JobManager, moment: datetime | None = None) -> int:
    """Queue a sync job for every due schedule; the job scheduler runs them. Returns how many."""
    due = due_syncs(manager.catalog, manager.databases, moment)
    for tenant_id, source_id in due:
        manager.enqueue(tenant_id, SYNC_JOB, source_id=source_id, mode="incremental")
    return len(due)
