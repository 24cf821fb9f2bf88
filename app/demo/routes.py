"""The demo's pages: /demo to try a slow job and an upstream change, and /demo/graphql.

GET /demo/graphql runs queries (`?query=...&variables=...`), POST runs queries and mutations.
POST passes the CSRF check like any form, so it works from the app's own pages; the built-in
demo sync does not come through here at all (see app/demo/sync.py).
"""

from __future__ import annotations

from typing import Any, cast

from fasthtml.common import A, APIRouter, Div, P
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.demo.graphql import STORE, respond
from app.demo.sync import DEMO
from app.lib.graphql import GraphQLClient
from app.syncs.sources import SPECS
from app.ui.jobs import JobRow, viewer_of
from app.ui.kit import Button, Card, PageHeader, Table, Toasts
from app.ui.layout import Page
from app.work.in_request import jobs_for

public_rt = APIRouter()
rt = APIRouter()
COUNT: dict[str, Any] = {"to": 10, "pause": 0.5}  # the demo job: ten steps, half a second each


@public_rt("/demo/graphql", methods=["get", "post"])
async def demo_graphql(req: Request) -> JSONResponse:
    return await respond(req, STORE)


@rt.get("/demo")
def demo_page(req: Request, auth):
    return Page(
        req,
        "Demo",
        PageHeader("Try the moving parts", "Each part of the starter, one button away."),
        Card(
            Div(
                Table(
                    ("Job", "Status", "Progress", ("Attempts", "num"), ""),
                    stack=True,
                    body_id="job-rows",
                )
            ),
            title="A background job",
            description="Counts to ten with a progress bar, survives a restart, then leaves a note.",
            actions=(
                Button(
                    "Run demo job",
                    hx_post="/demo/jobs",
                    hx_target="#job-rows",
                    hx_swap="afterbegin",
                    icon="jobs",
                ),
            ),
        ),
        Card(
            P(
                "Change a few orders in the demo API, then press Sync now on ",
                A("the sync page", href="/sync"),
                ": only the changed orders come in.",
            ),
            title="An incremental sync",
            actions=(
                Button(
                    "Change 5 demo orders upstream",
                    hx_post="/demo/changes",
                    hx_swap="none",
                    variant="outline",
                ),
            ),
        ),
        Card(
            P(
                "Create a demo endpoint under ",
                A("Settings → Webhooks", href="/settings/webhooks"),
                " and send it an event: it turns into a note.",
            ),
            title="A webhook",
        ),
    )


@rt.post("/demo/jobs")
def run_demo_job(req: Request, auth):
    manager = jobs_for(req)
    job_id, task = manager.submit(auth.tenant_id, "demo.count", submitted_by=auth.user_id, **COUNT)
    job = cast(dict, manager.get_job(auth.tenant_id, job_id))  # just submitted
    return JobRow(job, viewer_of(auth)), Toasts("Demo job started."), task


@rt.post("/demo/changes")
async def demo_changes(req: Request, auth):
    """Change a few demo orders upstream, to show an incremental sync."""
    async with SPECS[DEMO.kind].connect() as http:  # the registered spec: tests swap its store
        data = await GraphQLClient(http).mutate("mutation { touchOrders(count: 5) { id } }")
    changed = len(data["touchOrders"])
    return Toasts(f"{changed} demo orders changed upstream: press Sync now to bring them in.")
