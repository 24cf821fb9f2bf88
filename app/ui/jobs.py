"""Job rows with live status, for the jobs page and for anything that starts a job.

A row of a job that has not finished polls `/jobs/{id}` every second and replaces itself;
the row of a finished job carries no trigger, so polling stops by itself.

What a row shows depends on who looks (`JobViewer`): roles with the jobs.manage permission
see every job's details and may cancel and retry; everyone else sees every job's type, state
and progress, and the details (error, payload, result, steps) of the jobs they started.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fasthtml.common import (
    H2,
    A,
    Article,
    Br,
    Button,
    Li,
    Mark,
    Ol,
    Pre,
    Progress,
    Small,
    Span,
    Table,
    Tbody,
    Td,
    Th,
    Thead,
    Tr,
)

from app.web.permissions import can
from tenants.jobs import FINISHED

POLL = "every 1s"


@dataclass(frozen=True)
class JobViewer:
    """Who is looking at jobs, and so what they may see and do."""

    user_id: str | None
    manages: bool  # cancel, retry, and see every job's details

    def sees_details(self, job: dict[str, Any]) -> bool:
        return self.manages or (self.user_id is not None and job["submitted_by"] == self.user_id)


def viewer_of(auth) -> JobViewer:
    """The signed-in member as a viewer of their workspace's jobs."""
    return JobViewer(auth.user_id, can(auth, "jobs", "manage"))


def _when(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") if stamp else ""


def StatusText(status: str):
    return Mark(status) if status == "failed" else Small(status)


def JobActions(job: dict, viewer: JobViewer):
    if not viewer.manages:
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


def JobRow(job: dict, viewer: JobViewer):
    """One job; polls for its own updates until it has finished."""
    live = {} if job["status"] in FINISHED else {"hx_get": f"/jobs/{job['id']}", "hx_trigger": POLL}
    details = viewer.sees_details(job)
    error = job["error"] if details and job["status"] in ("failed", "pending") else None
    name = A(job["job_type"], href=f"/jobs/{job['id']}") if details else Span(job["job_type"])
    return Tr(
        Td(name, Br(), Small(_when(job["created_at"]))),
        Td(StatusText(job["status"])),
        Td(
            Progress(value=job["progress"], max=100),
            Small(job["progress_message"]),
            Small(error, cls="error") if error else "",
        ),
        Td(f"{job['attempts']}/{job['max_attempts']}"),
        Td(JobActions(job, viewer)),
        id=f"job-{job['id']}",
        hx_swap="outerHTML",
        **live,
    )


def JobsTable(jobs: list[dict], viewer: JobViewer):
    return Table(
        Thead(Tr(Th("Job"), Th("Status"), Th("Progress"), Th("Attempts"), Th(""))),
        Tbody(*[JobRow(j, viewer) for j in jobs], id="job-rows"),
    )


def StepList(steps: list[dict]):
    """A workflow's steps in order, each with its state (and its error, if it failed)."""
    return Ol(
        *[
            Li(
                step["name"],
                " ",
                StatusText(step["status"]),
                Small(f" {_when(step.get('finished_at'))}") if step.get("finished_at") else "",
                Small(step["error"], cls="error") if step.get("error") else "",
            )
            for step in steps
        ],
        id="job-steps",
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
        *([H2("Steps"), StepList(job["steps"])] if job["steps"] else []),
        H2("Payload"),
        Pre(pretty(job["payload"])),
        H2("Result"),
        Pre(pretty(job["result"])),
    )
