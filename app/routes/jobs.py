"""Background jobs of the current tenant: a page with filters, live rows, cancel and retry.

A row of a job that has not finished polls `/jobs/{id}` every second and replaces itself;
the row of a finished job carries no trigger, so polling stops by itself. Job ids are looked
up in the tenant's own database, so another tenant's id is simply not found (404).

Everyone in the workspace sees the list (what runs, how far it got). Details (the job page
with payload, result, error and steps) are for the person who started the job and for roles
with the jobs.manage permission, who may also cancel and retry; anyone else asking for the
page of a job gets 404, as if it did not exist. The row's polling answers them with the row
they already see in the list.
"""

from __future__ import annotations

from fasthtml.common import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.jobs import JobDetail, JobRow, JobsTable, viewer_of
from app.ui.kit import STATES, Button, Card, EmptyState, PageHeader, Tabs, Toasts
from app.ui.layout import Page
from app.web.permissions import require
from app.work.in_request import jobs_for
from tenants.jobs import STATUSES

rt = APIRouter()
PAGE_SIZE = 100


def _job(req: Request, auth, job_id: str) -> dict:
    job = jobs_for(req).get_job(auth.tenant_id, job_id)
    if job is None:
        raise HTTPException(404)
    return job


@rt.get("/jobs")
def jobs_page(req: Request, auth, status: str = ""):
    if status and status not in STATUSES:
        raise HTTPException(400, f"Status must be one of: {', '.join(STATUSES)}.")
    jobs = jobs_for(req).list_jobs(auth.tenant_id, status=status or None, limit=PAGE_SIZE)
    filters = [("All", "/jobs")] + [(STATES["job"][s][0], f"/jobs?status={s}") for s in STATUSES]
    current = f"/jobs?status={status}" if status else "/jobs"
    empty = EmptyState(
        "No jobs here" if status else "No jobs yet",
        "Background work (exports, emails, syncs) shows up here with its progress.",
        action=Button("Try the demo job", href="/demo", variant="outline")
        if req.app.state.demo
        else None,
        icon="jobs",
    )
    return Page(
        req,
        "Jobs",
        PageHeader("Background jobs", "What runs in the background for this workspace, live."),
        Tabs(filters, current, "Filter jobs by status"),
        Card(JobsTable(jobs, viewer_of(auth)), flush=True) if jobs else empty,
    )


@rt.get("/jobs/{job_id}")
def job_status(req: Request, auth, job_id: str):
    """The job's row for HTMX polling; its detail page otherwise."""
    job, viewer = _job(req, auth, job_id), viewer_of(auth)
    if "hx-request" in req.headers:
        return JobRow(job, viewer)
    if not viewer.sees_details(job):
        raise HTTPException(404)
    return Page(
        req,
        "Job",
        PageHeader(f"Job {job['job_type']}", "", back=("All jobs", "/jobs")),
        JobDetail(job, viewer.zone),
    )


@rt.post("/jobs/{job_id}/cancel")
def cancel_job(req: Request, auth, job_id: str):
    require(auth, "jobs", "manage")
    _job(req, auth, job_id)
    cancelled = jobs_for(req).cancel(auth.tenant_id, job_id)
    message = "Job cancelled." if cancelled else "That job had already finished."
    return JobRow(_job(req, auth, job_id), viewer_of(auth)), Toasts(message)


@rt.post("/jobs/{job_id}/retry")
def retry_job(req: Request, auth, job_id: str):
    require(auth, "jobs", "manage")
    _job(req, auth, job_id)
    task = jobs_for(req).retry(auth.tenant_id, job_id)
    row = JobRow(_job(req, auth, job_id), viewer_of(auth))
    if task is None:
        return row, Toasts("Only failed or cancelled jobs can be retried.", kind="error")
    return row, Toasts("Job restarted."), task
