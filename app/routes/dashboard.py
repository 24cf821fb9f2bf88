"""The dashboard: the workspace at a glance, the onboarding checklist, and what happened lately.

The page itself is small: one tenant query and one catalog query give every count and every
checklist step, and its markup is rendered once for each set of values (most requests repeat
the last one). The activity list, which reads the audit log, comes in its own request once
the page shows.

The checklist ticks itself from the data each step creates (an invitation, a webhook
endpoint, a successful sync). Reading the guide leaves no such trace, so its button records
the step (POST /onboarding/docs) on the way to /blog/getting-started.
"""

from __future__ import annotations

from fasthtml.common import (
    A,
    APIRouter,
    Div,
    HtmxResponseHeaders,
    Li,
    P,
    Progress,
    Span,
    Strong,
    Ul,
)
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.billing.plans import plan
from app.ui.audit_labels import describe, details_of
from app.ui.components import rendered_once
from app.ui.icons import Icon
from app.ui.kit import Button, Card, EmptyState, PageHeader, StatCard, When
from app.ui.layout import Page
from app.ui.time import moment, relative, workspace_zone
from app.web.permissions import can
from tenants.catalog import Auth
from tenants.stamp import now

rt = APIRouter()
GUIDE = "/blog/getting-started"

_COUNTS = """
SELECT (SELECT count(*) FROM notes WHERE deleted_at IS NULL) AS notes,
       (SELECT count(*) FROM tenant_jobs WHERE status IN ('pending', 'running')) AS working,
       (SELECT count(*) FROM tenant_jobs WHERE status = 'failed') AS failed,
       (SELECT max(last_success_at) FROM sync_state) AS synced,
       (SELECT count(*) FROM onboarding_steps WHERE step = 'docs') AS docs
"""
_TEAM = """
SELECT (SELECT count(*) FROM core_memberships WHERE tenant_id = :t) AS people,
       (SELECT count(*) FROM core_invitations WHERE tenant_id = :t) AS invited,
       (SELECT count(*) FROM core_webhook_endpoints WHERE tenant_id = :t) AS endpoints
"""


def Step(done: bool, title: str, text: str, action):
    return Li(
        Span(Icon("check"), cls="check"),
        Span(Span(title, cls="step-title"), Span(text, cls="muted"), cls="step"),
        Span("Done", cls="sr-only") if done else action,
        cls="done" if done else None,
    )


def Checklist(steps: tuple[tuple[bool, str, str, object], ...]):
    finished = sum(1 for done, *_ in steps if done)
    if finished == len(steps):
        body = P(
            Strong("You are all set. "),
            "Everything the starter shows off is working in this workspace.",
            cls="muted",
        )
    else:
        body = Ul(*[Step(*step) for step in steps], cls="checklist")
    return Card(
        Div(
            Span(f"{finished} of {len(steps)} done"),
            Span(f"{round(100 * finished / len(steps))}%"),
            cls="progress-label",
        ),
        Progress(value=finished, max=len(steps), aria_label="Onboarding progress"),
        body,
        title="Get started",
        description="A few steps to see every part of the starter at work.",
        id="onboarding",
    )


@rendered_once
def Overview(
    auth: Auth,
    people: int,
    invited: int,
    endpoints: int,
    notes: int,
    working: int,
    failed: int,
    synced: str,
    docs: bool,
    manages: bool,
):
    invite = (
        Button("Invite", href="/settings/team", variant="outline", size="sm")
        if manages
        else Span("Ask an owner or admin", cls="muted")
    )
    steps = (
        (
            invited > 0 or people > 1,
            "Invite a teammate",
            "Work on this workspace together.",
            invite,
        ),
        (
            endpoints > 0,
            "Create a webhook endpoint",
            "Let another service send events here.",
            Button("Set up", href="/settings/webhooks", variant="outline", size="sm"),
        ),
        (
            bool(synced),
            "Run a sync",
            "Bring the demo orders in, with live progress.",
            Button("Open sync", href="/sync", variant="outline", size="sm"),
        ),
        (
            docs,
            "Read the getting-started guide",
            "How the starter fits together, in ten minutes.",
            Button("Read it", hx_post="/onboarding/docs", variant="outline", size="sm"),
        ),
    )
    tier = plan(auth.plan_tier)
    intro = (
        f"Signed in as {auth.name or auth.email} ({auth.email}) · role: {auth.role}"
        f" · plan: {tier.name}"
    )
    return (
        PageHeader(auth.tenant_name or "Dashboard", intro),
        Div(
            StatCard("Members", people, "/members", f"{invited} invited", icon="members"),
            StatCard("Notes", notes, "/notes", icon="notes"),
            StatCard(
                "Jobs running", working, "/jobs", f"{failed} failed" if failed else "", "jobs"
            ),
            StatCard("Last sync", synced or "Never", "/sync", icon="sync"),
            cls="grid",
        ),
        Div(
            Checklist(steps),
            Card(
                Div(P("Loading…", cls="muted"), hx_get="/dashboard/activity", hx_trigger="load"),
                title="Recent activity",
                actions=(A("View all", href="/audit"),) if manages else (),
            ),
            cls="grid-2",
        ),
    )


@rt.get("/dashboard")
def dashboard(req: Request, auth):
    counts = auth.db.q(_COUNTS)[0]
    team = req.app.state.catalog.rows(_TEAM, t=auth.tenant_id)[0]
    last = moment(counts["synced"])
    synced = relative(last) if last else ""
    overview = Overview(
        auth.without_db(),
        team["people"],
        team["invited"],
        team["endpoints"],
        counts["notes"],
        counts["working"],
        counts["failed"],
        synced,
        counts["docs"] > 0,
        can(auth, "members", "manage"),
    )
    return Page(req, "Dashboard", overview)


def ActivityList(events: list[dict], zone):
    if not events:
        return EmptyState(
            "Nothing yet", "What people do in this workspace shows up here.", icon="clock"
        )
    return Ul(
        *[
            Li(
                Span(
                    Span(describe(e["action"], details_of(e["details"]))),
                    Span(f" · {e['actor']}" if e["actor"] else " · system", cls="who"),
                    cls="what",
                ),
                When(e["at"], zone),
            )
            for e in events
        ],
        cls="activity",
    )


@rt.get("/dashboard/activity")
def activity(req: Request, auth):
    return ActivityList(req.app.state.catalog.recent_audit(auth.tenant_id), workspace_zone(auth.db))


@rt.post("/onboarding/docs")
def read_docs(req: Request, auth):
    """Tick "read the guide" for this workspace, then open the guide."""
    auth.db.q(
        """INSERT INTO onboarding_steps (step, done_at, done_by) VALUES ('docs', :t, :who)
           ON CONFLICT (step) DO NOTHING""",
        t=now(),
        who=auth.user_id,
    )
    if "hx-request" in req.headers:
        return HtmxResponseHeaders(redirect=GUIDE)
    return RedirectResponse(GUIDE, status_code=303)
