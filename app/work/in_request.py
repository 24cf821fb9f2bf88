"""Jobs as a request sees them: the request's own tenant goes through the request's connection.

`jobs_for(req)` hands a route this view of the JobManager. For the signed-in tenant, a new
job's row is written in the request's unit of work (it commits with the request's other
writes, before the response, so the task that runs it after the response finds it; its entry
in the due-work index is committed before that, see tenants/due.py), and
lists and lookups read on the request's connection: a request never holds two connections
of its tenant's pool, which is what wedged a team's dashboard under load. Everything else
(system jobs, other tenants, the scheduler's work) is the manager's own.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection

from app.work.jobs import JobManager, job_manager
from tenants import jobs as store
from tenants.catalog import Auth

TABLE = "tenant_jobs"


class RequestJobs:
    def __init__(self, manager: JobManager, auth: Auth | None):
        self.manager, self.auth = manager, auth

    def __getattr__(self, name: str) -> Any:
        return getattr(self.manager, name)

    def _conn(self, tenant_id: str | None) -> sa.Connection | None:
        auth = self.auth
        if auth is None or auth.db is None or tenant_id != auth.tenant_id:
            return None
        return auth.db.conn

    def submit(
        self,
        tenant_id: str,
        job_type: str,
        max_attempts: int = 3,
        submitted_by: str | None = None,
        **payload: Any,
    ) -> tuple[str, BackgroundTask]:
        conn = self._conn(tenant_id)
        if conn is None:
            return self.manager.submit(tenant_id, job_type, max_attempts, submitted_by, **payload)
        job = self.manager.new_job(job_type, payload, max_attempts, submitted_by=submitted_by)
        claim = self.manager.create_claimed(conn, tenant_id, job)  # its index entry first
        return claim.job_id, self.manager.background(tenant_id, claim)

    def get_job(self, tenant_id: str | None, job_id: str) -> dict[str, Any] | None:
        conn = self._conn(tenant_id)
        return (
            self.manager.get_job(tenant_id, job_id)
            if conn is None
            else store.get(conn, TABLE, job_id)
        )

    def list_jobs(self, tenant_id: str | None, **filters: Any) -> list[dict[str, Any]]:
        conn = self._conn(tenant_id)
        if conn is None:
            return self.manager.list_jobs(tenant_id, **filters)
        return store.listing(conn, TABLE, **filters)

    def cancel(self, tenant_id: str | None, job_id: str) -> bool:
        conn = self._conn(tenant_id)
        return (
            self.manager.cancel(tenant_id, job_id)
            if conn is None
            else store.cancel(conn, TABLE, job_id)
        )

    def retry(self, tenant_id: str | None, job_id: str) -> BackgroundTask | None:
        conn = self._conn(tenant_id)
        if conn is None:
            return self.manager.retry(tenant_id, job_id)
        claim = self.manager.restart(conn, tenant_id, job_id)  # announced in the index first
        return self.manager.background(tenant_id, claim) if claim else None


def jobs_for(req: HTTPConnection) -> RequestJobs:
    """The app's jobs, from a route: `job_id, task = jobs_for(req).submit(...)`."""
    return RequestJobs(job_manager(req.app), req.scope.get("auth"))
