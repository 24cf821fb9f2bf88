"""Background jobs of the current tenant: a panel with live status, and a page with filters.

A row of a job that has not finished polls `/jobs/{id}` every second and replaces itself;
the row of a finished job carries no trigger, so polling stops by itself. Job ids are looked
up in the tenant's own database, so another tenant's id is simply not found (404).
"""

from __future__ import annotations

import json

from fasthtml.common import (
    H1,
    H2,
    A,
    APIRouter,
    Article,
    Br,
    Button,
    Div,
    Mark,
    Nav,
    P,
    Pre,
    Progress,
    Small,
    Table,
    Tbody,
    Td,
    Th,
    Thead,
    Tr,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request

import app.demo_handlers  # noqa: F401 (registers demo.count)
from app.components import Page, Toasts
from app.jobs import jobs_for
from tenants.jobs import FINISHED, STATUSES

rt = APIRouter()
MANAGERS = ("owner", "admin")  # who may cancel and retry; every member may run the demo
PANEL_SIZE = 10
PAGE_SIZE = 100
POLL = "every 1s"
DEMO = {"to": 10, "pause": 0.5}  # the demo job: ten steps, half a second each


def _when(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") if stamp else ""


def StatusText(status: str):
    return Mark(status) if status == "failed" else Small(status)


def JobActions(job: dict, can_manage: bool):
    if not can_manage:
        return ""
    if job["status"] in ("pending", "running"):
        label, action = "Cancel", "cancel"
    elif job["status"] in ("failed", "cancelled"):
        label, action = "Retry", "retry"
    else:
        return ""
    return Button(
        label,
        hx_post=f"/jobs/{job['id']}/{action}",
        hx_target="closest tr",
        hx_swap="outerHTML",
        cls="secondary outline small",
    )


def JobRow(job: dict, can_manage: bool):
    """One job; polls for its own updates until it has finished."""
    live = {} if job["status"] in FINISHED else {"hx_get": f"/jobs/{job['id']}", "hx_trigger": POLL}
    detail = job["error"] if job["status"] in ("failed", "pending") and job["error"] else ""
    return Tr(
        Td(A(job["job_type"], href=f"/jobs/{job['id']}"), Br(), Small(_when(job["created_at"]))),
        Td(StatusText(job["status"])),
        Td(
            Progress(value=job["progress"], max=100),
            Small(job["progress_message"]),
            Small(detail, cls="error") if detail else "",
        ),
        Td(f"{job['attempts']}/{job['max_attempts']}"),
        Td(JobActions(job, can_manage)),
        id=f"job-{job['id']}",
        hx_swap="outerHTML",
        **live,
    )


def JobsTable(jobs: list[dict], can_manage: bool):
    return Table(
        Thead(Tr(Th("Job"), Th("Status"), Th("Progress"), Th("Attempts"), Th(""))),
        Tbody(*[JobRow(j, can_manage) for j in jobs], id="job-rows"),
    )


def JobsPanel(req: Request, auth):
    """The dashboard section: recent jobs with live status, and a demo job to try."""
    jobs = jobs_for(req).list_jobs(auth.tenant_id, limit=PANEL_SIZE)
    return Article(
        H2("Background jobs"),
        P(
            "Slow work runs after the response and survives restarts. ",
            A("All jobs", href="/jobs"),
        ),
        Button(
            "Run demo job",
            hx_post="/jobs/demo",
            hx_target="#job-rows",
            hx_swap="afterbegin",
            cls="outline",
        ),
        JobsTable(jobs, auth.role in MANAGERS),
        id="jobs-panel",
    )


def JobDetail(job: dict):
    def pretty(value) -> str:
        return json.dumps(value, indent=2, sort_keys=True)

    return Article(
        Table(
            Tbody(
                Tr(Th("Type"), Td(job["job_type"])),
                Tr(Th("Status"), Td(StatusText(job["status"]))),
                Tr(Th("Attempts"), Td(f"{job['attempts']} of {job['max_attempts']}")),
                Tr(Th("Created"), Td(_when(job["created_at"]))),
                Tr(Th("Finished"), Td(_when(job["finished_at"]))),
                Tr(Th("Error"), Td(job["error"] or "")),
            )
        ),
        H2("Payload"),
        Pre(pretty(job["payload"])),
        H2("Result"),
        Pre(pretty(job["result"])),
    )


def _job(req: Request, auth, job_id: str) -> dict:
    job = jobs_for(req).get_job(auth.tenant_id, job_id)
    if job is None:
        raise HTTPException(404)
    return job


def _require_manager(auth) -> None:
    if auth.role not in MANAGERS:
        raise HTTPException(403, "Only owners and admins can cancel or retry jobs.")


@rt.get("/jobs")
def jobs_page(req: Request, auth, status: str = ""):
    if status and status not in STATUSES:
        raise HTTPException(400, f"Status must be one of: {', '.join(STATUSES)}.")
    jobs = jobs_for(req).list_jobs(auth.tenant_id, status=status or None, limit=PAGE_SIZE)
    filters = [A("all", href="/jobs")] + [A(s, href=f"/jobs?status={s}") for s in STATUSES]
    return Page(
        req,
        "Jobs",
        H1("Background jobs"),
        Nav(Div(*filters, cls="inline-form")),
        JobsTable(jobs, auth.role in MANAGERS) if jobs else P("No jobs yet.", cls="muted"),
    )


@rt.post("/jobs/demo")
def run_demo_job(req: Request, auth):
    manager = jobs_for(req)
    job_id, task = manager.submit(auth.tenant_id, "demo.count", **DEMO)
    job = manager.get_job(auth.tenant_id, job_id)
    return JobRow(job, auth.role in MANAGERS), Toasts("Demo job started."), task


@rt.get("/jobs/{job_id}")
def job_status(req: Request, auth, job_id: str):
    """The job's row for HTMX polling; its detail page otherwise."""
    job = _job(req, auth, job_id)
    if "hx-request" in req.headers:
        return JobRow(job, auth.role in MANAGERS)
    return Page(req, "Job", H1(f"Job {job['job_type']}"), JobDetail(job))


@rt.post("/jobs/{job_id}/cancel")
def cancel_job(req: Request, auth, job_id: str):
    _require_manager(auth)
    _job(req, auth, job_id)
    cancelled = jobs_for(req).cancel(auth.tenant_id, job_id)
    message = "Job cancelled." if cancelled else "That job had already finished."
    return JobRow(_job(req, auth, job_id), True), Toasts(message)


@rt.post("/jobs/{job_id}/retry")
def retry_job(req: Request, auth, job_id: str):
    _require_manager(auth)
    _job(req, auth, job_id)
    task = jobs_for(req).retry(auth.tenant_id, job_id)
    row = JobRow(_job(req, auth, job_id), True)
    if task is None:
        return row, Toasts("Only failed or cancelled jobs can be retried.", kind="error")
    return row, Toasts("Job restarted."), task
