"""The audit trail of the current workspace, for owners and admins: who did what, when, from
where, with filters (action, person, dates) and pages.

Entries are written with `catalog.audit(...)` (from a route: `record(req, auth, action,
**details)`) wherever something security-relevant happens (sign-in and out, invitations,
roles, removals, settings, webhook secrets, exports, deletions). The query always filters on
the session's tenant; a filter value that is not one of the offered choices is refused (400).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fasthtml.common import (
    APIRouter,
    Code,
    Div,
    Form,
    FtResponse,
    Input,
    Nav,
    Option,
    Select,
    Small,
    Span,
    Tr,
)
from starlette.requests import Request

from app.ui.audit_labels import action_name, describe, details_of
from app.ui.kit import Button, Card, Cell, EmptyState, Field, PageHeader, Table, When
from app.ui.layout import Page
from app.ui.time import workspace_zone
from app.web.permissions import require
from tenants.catalog import Catalog

rt = APIRouter()
PAGE_SIZE = 50
PAGE_NUMBER = re.compile(r"[0-9]{1,6}")


def _choices(catalog: Catalog, tenant_id: str) -> tuple[list[str], dict[str, str]]:
    """The actions and the people (id -> email) that appear in this tenant's trail."""
    actions = [
        r["action"]
        for r in catalog.rows(
            "SELECT DISTINCT action FROM sys_audit_logs WHERE tenant_id = :t ORDER BY action",
            t=tenant_id,
        )
    ]
    actors = catalog.rows(
        """SELECT DISTINCT a.actor_user_id AS id, u.email FROM sys_audit_logs a
           JOIN core_users u ON u.id = a.actor_user_id
           WHERE a.tenant_id = :t ORDER BY u.email""",
        t=tenant_id,
    )
    return actions, {r["id"]: r["email"] or "(deleted account)" for r in actors}


def _day(raw: str) -> date | None:
    """The date in `raw` ("" for none); ValueError for anything else."""
    return date.fromisoformat(raw) if raw else None


def _refusal(
    chosen: dict[str, str], actions: list[str], actors: dict[str, str], page: str
) -> str | None:
    """What is wrong with the filters (each must be one of the offered choices), or None."""
    if chosen["action"] and chosen["action"] not in actions:
        return "Choose an action from the list."
    if chosen["actor"] and chosen["actor"] not in actors:
        return "Choose a person from the list."
    for field, name in (("since", "from"), ("until", "until")):
        try:
            _day(chosen[field])
        except ValueError:
            return f"The {name} date must look like 2025-01-31."
    if not PAGE_NUMBER.fullmatch(page) or int(page) < 1:
        return "The page must be a number."
    return None


def _search(
    catalog: Catalog, tenant_id: str, filters: dict[str, Any], page: int
) -> tuple[list[dict], int, int]:
    """One page of entries, newest first; the number of matching entries; the page number
    (a page past the end is the last one)."""
    where, params = ["a.tenant_id = :t"], {"t": tenant_id}
    if filters["action"]:
        where.append("a.action = :action")
        params["action"] = filters["action"]
    if filters["actor"]:
        where.append("a.actor_user_id = :actor")
        params["actor"] = filters["actor"]
    if filters["since"]:
        where.append("a.at >= :since")
        params["since"] = filters["since"].isoformat()
    if filters["until"] and filters["until"] < date.max:  # the whole day: before the next
        where.append("a.at < :until")
        params["until"] = (filters["until"] + timedelta(days=1)).isoformat()
    clause = " AND ".join(where)
    count = f"SELECT COUNT(*) AS n FROM sys_audit_logs a WHERE {clause}"
    total = catalog.rows(count, **params)[0]["n"]
    page = min(page, max(1, -(-total // PAGE_SIZE)))
    rows = catalog.rows(
        f"""SELECT a.id, a.at, a.action, a.ip, a.details, u.email AS actor
            FROM sys_audit_logs a LEFT JOIN core_users u ON u.id = a.actor_user_id
            WHERE {clause} ORDER BY a.at DESC, a.id LIMIT :n OFFSET :skip""",
        **params,
        n=PAGE_SIZE,
        skip=(page - 1) * PAGE_SIZE,
    )
    return rows, total, page


def DetailsText(raw: str):
    details = details_of(raw)
    if not details:
        return Small(raw if raw not in ("", "{}") else "")
    return Small(" · ".join(f"{k}: {v}" for k, v in details.items()), cls="audit-details")


def AuditTable(rows: list[dict], zone):
    if not rows:
        return EmptyState(
            "No entries match.",
            "Change the filters, or clear them to see the whole trail.",
            action=Button("Clear filters", href="/audit", variant="outline", size="sm"),
            icon="audit",
        )
    return Card(
        Table(
            ("When", "Who", "What", "Details", "IP"),
            *[
                Tr(
                    Cell(When(r["at"], zone), label="When", cls="nowrap"),
                    Cell(r["actor"] or Span("system", cls="muted"), label="Who"),
                    Cell(
                        Div(
                            Span(describe(r["action"], details_of(r["details"]))),
                            Small(Code(r["action"])),
                            cls="audit-what",
                        ),
                        label="What",
                    ),
                    Cell(DetailsText(r["details"]), label="Details"),
                    Cell(Small(r["ip"]), label="IP"),
                )
                for r in rows
            ],
            stack=True,
        ),
        flush=True,
    )


def FilterForm(actions: list[str], actors: dict[str, str], chosen: dict[str, str], error: str = ""):
    def select(name: str, label: str, options: dict[str, str]):
        return Field(
            label,
            Select(
                Option("Any", value=""),
                *[Option(text, value=v, selected=v == chosen[name]) for v, text in options.items()],
                name=name,
            ),
            id=f"audit-{name}",
        )

    return Form(
        Div(
            select("action", "Action", {a: action_name(a) for a in actions}),
            select("actor", "Person", actors),
            Field(
                "From", Input(type="date", name="since", value=chosen["since"]), id="audit-since"
            ),
            Field(
                "Until", Input(type="date", name="until", value=chosen["until"]), id="audit-until"
            ),
            Button("Filter", type="submit", variant="secondary"),
            cls="form-grid",
        ),
        Small(error, cls="error", role="alert") if error else "",
        method="get",
        action="/audit",
        cls="card audit-filters",
    )


def Pager(chosen: dict[str, str], page: int, pages: int):
    def link(label: str, number: int):
        query = urlencode({**{k: v for k, v in chosen.items() if v}, "page": number})
        return Button(label, href=f"/audit?{query}", variant="outline", size="sm")

    return Nav(
        link("← Newer", page - 1) if page > 1 else Span(),
        Small(f"Page {page} of {pages}", cls="muted"),
        link("Older →", page + 1) if page < pages else Span(),
        aria_label="Pages",
        cls="pager",
    )


@rt.get("/audit")
def audit_page(
    req: Request,
    auth,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
    page: str = "1",
):
    require(auth, "audit", "view")
    catalog = req.app.state.catalog
    actions, actors = _choices(catalog, auth.tenant_id)
    chosen = {"action": action, "actor": actor, "since": since, "until": until}
    if error := _refusal(chosen, actions, actors, page):  # the form again, as it was sent
        form = FilterForm(actions, actors, chosen, error)
        return FtResponse(Page(req, "Audit trail", Heading(auth), form), status_code=400)
    filters = {**chosen, "since": _day(since), "until": _day(until)}
    rows, total, number = _search(catalog, auth.tenant_id, filters, int(page))
    return Page(
        req,
        "Audit trail",
        Heading(auth, f"{total} entries in {auth.tenant_name}, newest first."),
        FilterForm(actions, actors, chosen),
        AuditTable(rows, workspace_zone(auth.db)),
        Pager(chosen, number, max(1, -(-total // PAGE_SIZE))),
    )


def Heading(auth, line: str = ""):
    return PageHeader("Audit trail", line or f"Who did what in {auth.tenant_name}, and when.")
