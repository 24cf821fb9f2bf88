"""The operator console at /admin, for superusers only (access class `superuser`; no tenant
role reaches it, nor an impersonation session): workspaces (search, plan, status, members,
last activity, database size), people, failed jobs everywhere (retry), suspend and resume,
the host's audit trail, and impersonation (app/web/operators.py).

Every change here is audited in the host's trail, and those about a workspace in its trail
too. `stop_rt` (signed in) holds the one way out of an impersonation.
"""

from __future__ import annotations

import re

from fasthtml.common import A, APIRouter, Form, Hidden, Input, Redirect, Small, Tr
from starlette.background import BackgroundTasks
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.ui.components import CsrfField
from app.ui.kit import (
    Badge,
    Button,
    Card,
    Cell,
    EmptyState,
    PageHeader,
    Table,
    Tabs,
    When,
    confirming,
)
from app.ui.layout import Page
from app.web import operators
from app.web.mount import writes
from app.web.signin import client_ip
from app.work.in_request import jobs_for
from tenants import operations
from tenants.catalog import Auth
from tenants.engines import TENANT_ID

rt = APIRouter()
stop_rt = APIRouter()
PAGE = re.compile(r"[0-9]{1,5}")
SEARCH_MAX = 100


CONSOLE_TABS = (
    ("Workspaces", "/admin"),
    ("People", "/admin/people"),
    ("Failed jobs", "/admin/jobs"),
    ("Audit", "/admin/audit"),
)
STATUS_TONES = {"active": "success", "suspended": "warning"}


def _search(q: object, page: object) -> tuple[str, int]:
    text = q.strip()[:SEARCH_MAX] if isinstance(q, str) else ""
    if not isinstance(page, str) or not PAGE.fullmatch(page) or int(page) < 1:
        raise HTTPException(400, "The page must be a positive number.")
    return text, int(page)


def SearchForm(action: str, q: str, placeholder: str):
    return Form(
        Input(
            name="q", value=q, placeholder=placeholder, maxlength=SEARCH_MAX, aria_label="Search"
        ),
        Button("Search", type="submit", variant="secondary"),
        method="get",
        action=action,
        cls="inline-form",
    )


def _size(size: int | None) -> str:
    if size is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return "—"


def ConsolePage(req: Request, title: str, current: str, *content):
    return Page(
        req,
        title,
        PageHeader("Operator console", "Every workspace and person of the service."),
        Tabs(CONSOLE_TABS, current, label="Operator console"),
        *content,
    )


def StatusOf(status: str):
    return Badge(status, tone=STATUS_TONES.get(status, "danger"))


def ActionForm(req: Request, label: str, action: str, *fields, **button):
    """A one-button POST form with its CSRF token (and any hidden fields)."""
    return Form(
        CsrfField(req),
        *fields,
        Button(label, type="submit", **button),
        method="post",
        action=action,
    )


@rt.get("/admin")
def workspaces(req: Request, q: str = "", page: str = "1"):
    text, number = _search(q, page)
    state = req.app.state
    rows = operations.workspaces(state.catalog, text, number)
    sizes = operations.database_sizes(state.settings.tenant_database_url, rows)
    table = Table(
        ("Workspace", "Plan", "Status", ("Members", "num"), "Last activity", ("Database", "num")),
        *[
            Tr(
                Cell(
                    A(r["name"], href=f"/admin/workspaces/{r['id']}"),
                    Small(f" {r['id']}"),
                    label="Workspace",
                ),
                Cell(r["plan_tier"], label="Plan"),
                Cell(StatusOf(r["status"]), label="Status"),
                Cell(str(r["members"]), label="Members", cls="num"),
                Cell(When(r["last_active_at"]), label="Last activity"),
                Cell(_size(sizes.get(r["id"])), label="Database", cls="num"),
            )
            for r in rows
        ],
        stack=True,
    )
    return ConsolePage(
        req,
        "Workspaces",
        "/admin",
        Card(
            SearchForm("/admin", text, "Name or id"),
            table if rows else EmptyState("No workspace matches.", icon="workspace"),
            flush=True,
        ),
    )


def _workspace(req: Request, tenant_id: str) -> dict:
    tenant = req.app.state.catalog.tenant(tenant_id) if TENANT_ID.fullmatch(tenant_id) else None
    if tenant is None:
        raise HTTPException(404)
    return tenant


@rt.get("/admin/workspaces/{tenant_id}")
def workspace(req: Request, tenant_id: str):
    tenant = _workspace(req, tenant_id)
    catalog = req.app.state.catalog
    members = catalog.members(tenant_id)
    supers = req.app.state.settings.superuser_emails
    flags = {u["id"] for u in catalog.rows("SELECT id FROM core_users WHERE is_superuser = 1")}

    def open_as(member: dict):
        if member["id"] in flags or member["email"].lower() in supers:
            return Small("superuser: cannot be opened as")
        if tenant["status"] != "active":
            return ""
        return ActionForm(
            req,
            "Open as this member",
            f"/admin/workspaces/{tenant_id}/impersonate",
            Hidden(name="user_id", value=member["id"]),
            variant="outline",
            size="sm",
            icon="user",
        )

    status_button = (
        ActionForm(
            req,
            "Suspend",
            f"/admin/workspaces/{tenant_id}/suspend",
            variant="danger-outline",
            **confirming(f"Suspend {tenant['name']} for all its members?", action="Suspend"),
        )
        if tenant["status"] == "active"
        else ActionForm(req, "Resume", f"/admin/workspaces/{tenant_id}/resume")
        if tenant["status"] == "suspended"
        else ""
    )
    return ConsolePage(
        req,
        tenant["name"],
        "/admin",
        Card(
            title=tenant["name"],
            description=(
                f"{tenant['id']} · plan {tenant['plan_tier']} · ",
                StatusOf(tenant["status"]),
            ),
            actions=(status_button,),
        ),
        Card(
            Table(
                ("Person", "Role", ("", "actions")),
                *[
                    Tr(
                        Cell(m["email"], label="Person"),
                        Cell(m["role"], label="Role"),
                        Cell(open_as(m), cls="actions"),
                    )
                    for m in members
                ],
                stack=True,
            ),
            title="Members",
            flush=True,
        ),
    )


def _set_status(req: Request, auth: Auth, tenant_id: str, before: str, after: str):
    tenant = _workspace(req, tenant_id)
    if tenant["status"] != before:
        raise HTTPException(409, f"The workspace is {tenant['status']}, not {before}.")
    catalog = req.app.state.catalog
    catalog.set_tenant_status(tenant_id, after)
    for where in (None, tenant_id):
        catalog.audit(
            f"admin.tenant_{after}",
            actor=auth.user_id,
            tenant=where,
            ip=client_ip(req),
            workspace=tenant_id,
        )
    return Redirect(f"/admin/workspaces/{tenant_id}")


@rt.post("/admin/workspaces/{tenant_id}/suspend")
def suspend(req: Request, auth, tenant_id: str):
    return _set_status(req, auth, tenant_id, "active", "suspended")


@rt.post("/admin/workspaces/{tenant_id}/resume")
def resume(req: Request, auth, tenant_id: str):
    return _set_status(req, auth, tenant_id, "suspended", "active")


@rt.post("/admin/workspaces/{tenant_id}/impersonate")
def impersonate(req: Request, sess, auth, tenant_id: str, user_id: str = ""):
    _workspace(req, tenant_id)
    if not isinstance(user_id, str) or not TENANT_ID.fullmatch(user_id):
        raise HTTPException(400, "Choose a member from the list.")
    operators.start(req, sess, auth, tenant_id, user_id)
    return Redirect("/dashboard")


@rt.get("/admin/people")
def people(req: Request, q: str = "", page: str = "1"):
    text, number = _search(q, page)
    rows = operations.people(req.app.state.catalog, text, number)
    supers = req.app.state.settings.superuser_emails
    return ConsolePage(
        req,
        "People",
        "/admin/people",
        Card(
            SearchForm("/admin/people", text, "Email or name"),
            Table(
                ("Person", ("Workspaces", "num"), "Joined", "Last sign-in", ""),
                *[
                    Tr(
                        Cell(
                            r["email"], Small(f" {r['name']}") if r["name"] else "", label="Person"
                        ),
                        Cell(str(r["workspaces"]), label="Workspaces", cls="num"),
                        Cell(When(r["created_at"]), label="Joined"),
                        Cell(When(r["last_login_at"]), label="Last sign-in"),
                        Cell(
                            Badge("superuser", tone="primary")
                            if r["is_superuser"] or r["email"] in supers
                            else ""
                        ),
                    )
                    for r in rows
                ],
                stack=True,
            )
            if rows
            else EmptyState("Nobody matches.", icon="user"),
            flush=True,
        ),
    )


@rt.get("/admin/jobs")
@writes  # a first look at a workspace's jobs may open (and migrate) its database
def failed_jobs(req: Request):
    state = req.app.state
    jobs, scanned = operations.failed_jobs(state.catalog, state.databases)

    def retry(job: dict):
        return ActionForm(
            req,
            "Retry",
            f"/admin/jobs/{job['id']}/retry",
            Hidden(name="tenant_id", value=job["tenant_id"] or ""),
            variant="outline",
            size="sm",
            icon="undo",
        )

    return ConsolePage(
        req,
        "Failed jobs",
        "/admin/jobs",
        Card(
            Table(
                ("Where", "Job", "Failed", "Error", ("", "actions")),
                *[
                    Tr(
                        Cell(j["workspace"], label="Where"),
                        Cell(j["job_type"], Small(f" {j['id']}"), label="Job"),
                        Cell(When(j["updated_at"]), label="Failed"),
                        Cell(
                            Small((j["error"] or "").splitlines()[0][:120] if j["error"] else ""),
                            label="Error",
                        ),
                        Cell(retry(j), cls="actions"),
                    )
                    for j in jobs
                ],
                stack=True,
            )
            if jobs
            else EmptyState("No failed jobs.", icon="check-circle"),
            title="Failed jobs",
            description=f"Of the host and of the {scanned} most recently active workspaces.",
            flush=True,
        ),
    )


@rt.post("/admin/jobs/{job_id}/retry")
def retry_job(req: Request, auth, job_id: str, tenant_id: str = ""):
    if not TENANT_ID.fullmatch(job_id) or (tenant_id and not TENANT_ID.fullmatch(tenant_id)):
        raise HTTPException(404)
    if tenant_id:
        tenant = _workspace(req, tenant_id)
        if tenant["status"] not in ("active", "suspended"):
            raise HTTPException(404)
    where = tenant_id or None
    jobs = jobs_for(req)
    if jobs.get_job(where, job_id) is None:
        raise HTTPException(404)
    task = jobs.retry(where, job_id)
    if task is None:
        raise HTTPException(409, "Only failed or cancelled jobs can be retried.")
    for place in {None, where}:
        req.app.state.catalog.audit(
            "admin.job_retried", actor=auth.user_id, tenant=place, ip=client_ip(req), job=job_id
        )
    return RedirectResponse("/admin/jobs", status_code=303, background=BackgroundTasks([task]))


@rt.get("/admin/audit")
def host_audit(req: Request):
    rows = operations.host_audit(req.app.state.catalog)
    return ConsolePage(
        req,
        "Audit",
        "/admin/audit",
        Card(
            Table(
                ("When", "Who", "Action", "Details", "IP"),
                *[
                    Tr(
                        Cell(When(r["at"]), label="When"),
                        Cell(r["actor"] or Small("system"), label="Who"),
                        Cell(r["action"], label="Action"),
                        Cell(Small(r["details"]), label="Details"),
                        Cell(Small(r["ip"]), label="IP"),
                    )
                    for r in rows
                ],
                stack=True,
            ),
            title="Host audit log",
            flush=True,
        ),
    )


@stop_rt.post("/impersonation/stop")
def stop_impersonating(req: Request, sess, auth):
    if auth.impersonator_id is None:
        raise HTTPException(400, "You are not impersonating anyone.")
    operators.stop(req, sess, auth)
    return Redirect("/admin")
