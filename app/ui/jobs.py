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
from datetime import UTC, tzinfo
from typing import Any

from fasthtml.common import (
    A,
    Code,
    Dd,
    Div,
    Dl,
    Dt,
    Li,
    Ol,
    Pre,
    Progress,
    Small,
    Span,
    Strong,
    Tr,
)

from app.ui.kit import Button, Card, Cell, StatusBadge, Table, When
from app.ui.time import workspace_zone
from app.web.permissions import can
from tenants.jobs import FINISHED

POLL = "every 1s"


@dataclass(frozen=True)
class JobViewer:
    """Who is looking at jobs, and so what they may see and do (and in which timezone)."""

    user_id: str | None
    manages: bool  # cancel, retry, and see every job's details
    zone: tzinfo = UTC

    def sees_details(self, job: dict[str, Any]) -> bool:
        return self.manages or (self.user_id is not None and job["submitted_by"] == self.user_id)


def viewer_of(auth) -> JobViewer:
    """The signed-in member as a viewer of their workspace's jobs."""
    return JobViewer(auth.user_id, can(auth, "jobs", "manage"), workspace_zone(auth.db))


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
        variant="outline",
        size="sm",
    )


def JobRow(job: dict, viewer: JobViewer):
    """One job; polls for its own updates until it has finished."""
    live = {} if job["status"] in FINISHED else {"hx_get": f"/jobs/{job['id']}", "hx_trigger": POLL}
    details = viewer.sees_details(job)
    error = job["error"] if details and job["status"] in ("failed", "pending") else None
    name = A(job["job_type"], href=f"/jobs/{job['id']}") if details else Span(job["job_type"])
    return Tr(
        Cell(
            Div(Strong(name, cls="truncate"), Small(When(job["created_at"], viewer.zone))),
            cls="primary-cell",
        ),
        Cell(StatusBadge("job", job["status"]), label="Status"),
        Cell(
            Div(
                Progress(
                    value=job["progress"], max=100, aria_label=f"Progress of {job['job_type']}"
                ),
                Small(job["progress_message"], cls="truncate") if job["progress_message"] else "",
                Small(error, cls="error") if error else "",
                cls="job-progress",
            ),
            label="Progress",
        ),
        Cell(f"{job['attempts']}/{job['max_attempts']}", label="Attempts", cls="num"),
        Cell(JobActions(job, viewer), cls="actions"),
        id=f"job-{job['id']}",
        hx_swap="outerHTML",
        **live,
    )


def JobsTable(jobs: list[dict], viewer: JobViewer):
    return Table(
        ("Job", "Status", "Progress", ("Attempts", "num"), ""),
        *[JobRow(j, viewer) for j in jobs],
        stack=True,
        body_id="job-rows",
    )


def StepList(steps: list[dict], zone: tzinfo = UTC):
    """A workflow's steps in order, each with its state (and its error, if it failed)."""
    return Ol(
        *[
            Li(
                Strong(step["name"]),
                " ",
                StatusBadge("job", step["status"]),
                Small(" ", When(step["finished_at"], zone)) if step.get("finished_at") else "",
                Small(step["error"], cls="error") if step.get("error") else "",
            )
            for step in steps
        ],
        id="job-steps",
        cls="steps",
    )


def JobDetail(job: dict, zone: tzinfo = UTC):
    def pretty(value) -> str:
        return json.dumps(value, indent=2, sort_keys=True)

    facts = (
        ("Type", Code(job["job_type"])),
        ("Status", StatusBadge("job", job["status"])),
        ("Attempts", f"{job['attempts']} of {job['max_attempts']}"),
        ("Created", When(job["created_at"], zone, relative_text=False)),
        ("Finished", When(job["finished_at"], zone, relative_text=False)),
        ("Error", Span(job["error"], cls="error") if job["error"] else "—"),
    )
    return Div(
        Card(
            Dl(*[part for term, value in facts for part in (Dt(term), Dd(value))], cls="kv"),
            title="Details",
        ),
        Card(StepList(job["steps"], zone), title="Steps") if job["steps"] else "",
        Div(
            Card(Pre(pretty(job["payload"])), title="Payload"),
            Card(Pre(pretty(job["result"])), title="Result"),
            cls="grid-2",
        ),
    )
