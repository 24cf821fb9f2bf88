"""Job rows with live status, for the jobs page and for anything that starts a job.

A row of a job that has not finished polls `/jobs/{id}` every second and replaces itself;
the row of a finished job carries no trigger, so polling stops by itself.
"""

from __future__ import annotations

import json

from fasthtml.common import (
    H2,
    A,
    Article,
    Br,
    Button,
    Mark,
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

from tenants.jobs import FINISHED

POLL = "every 1s"


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
