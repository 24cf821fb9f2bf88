"""The dashboard: the workspace at a glance, and what happened lately.

The page itself is small: a handful of counts from one tenant query and one catalog query,
and its markup is rendered once for each set of values (most requests repeat the last one).
The activity list, which reads the audit log, comes in its own request once the page shows.
"""

from __future__ import annotations

from fasthtml.common import H1, H2, A, APIRouter, Article, Div, Li, P, Small, Strong, Ul
from starlette.requests import Request

from app.ui.components import rendered_once
from app.ui.layout import Page
from tenants.catalog import Auth

rt = APIRouter()

_COUNTS = """
SELECT (SELECT count(*) FROM notes) AS notes,
       (SELECT count(*) FROM tenant_jobs WHERE status IN ('pending', 'running')) AS working,
       (SELECT count(*) FROM tenant_jobs WHERE status = 'failed') AS failed,
       (SELECT max(last_success_at) FROM sync_state) AS synced
"""


def ActivityList(events: list[dict]):
    if not events:
        return P("Nothing yet.", cls="muted")
    return Ul(
        *[
            Li(
                Small(e["at"][:16].replace("T", " ")),
                " ",
                e["action"],
                " ",
                Small(e["actor"] or ""),
            )
            for e in events
        ],
        cls="activity",
    )


def StatCard(label: str, value: object, href: str, detail: str = ""):
    return Article(
        Small(label), Strong(str(value)), Small(detail) if detail else "", A("Open", href=href)
    )


@rendered_once
def Overview(auth: Auth, people: int, notes: int, working: int, failed: int, synced: str):
    return (
        H1(auth.tenant_name),
        P(
            f"Signed in as {auth.name or auth.email} ({auth.email}) · role: {auth.role} · "
            f"plan: {auth.plan_tier}"
        ),
        Div(
            StatCard("Members", people, "/members"),
            StatCard("Notes", notes, "/notes"),
            StatCard("Jobs", working, "/jobs", f"{failed} failed"),
            StatCard("Last sync", synced, "/sync"),
            cls="grid",
        ),
        Article(
            H2("Recent activity"),
            Div(P("Loading…", cls="muted"), hx_get="/dashboard/activity", hx_trigger="load"),
        ),
    )


@rt.get("/dashboard")
def dashboard(req: Request, auth):
    counts = auth.db.q(_COUNTS)[0]
    people = len(req.app.state.catalog.members(auth.tenant_id))
    synced = counts["synced"][:16].replace("T", " ") if counts["synced"] else "never"
    overview = Overview(
        auth.without_db(), people, counts["notes"], counts["working"], counts["failed"], synced
    )
    return Page(req, "Dashboard", overview)


@rt.get("/dashboard/activity")
def activity(req: Request, auth):
    return ActivityList(req.app.state.catalog.recent_audit(auth.tenant_id))
