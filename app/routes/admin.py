"""The operator console at /admin, for superusers only (access class `superuser`; no tenant
role reaches it, nor an impersonation session): workspaces (search, plan, status, members,
last activity, database size), people, failed jobs everywhere (retry), suspend and resume,
the host's audit trail, and impersonation (app/web/operators.py).

Every change here is audited in the host's trail, and those about a workspace in its trail
too. `stop_rt` (signed in) holds the one way out of an impersonation.
"""

from __future__ import annotations

import re

from fasthtml.common import (
    H1,
    H2,
    A,
    APIRouter,
    Article,
    Button,
    Form,
    Hidden,
    Input,
    Li,
    Nav,
    P,
    Redirect,
    Small,
    Table,
    Tbody,
    Td,
    Th,
    Thead,
    Tr,
    Ul,
)
from starlette.background import BackgroundTasks
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.ui.components import CsrfField, PostButton, When
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


def AdminNav(current: str):
    tabs = (
        ("Workspaces", "/admin"),
        ("People", "/admin/people"),
        ("Failed jobs", "/admin/jobs"),
        ("Audit", "/admin/audit"),
    )
    return Nav(
        Ul(*[Li(A(t, href=h, aria_current="page" if h == current else None)) for t, h in tabs]),
        cls="tabs",
        aria_label="Operator console",
    )


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
        Button("Search", type="submit"),
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
    return Page(req, title, H1("Operator console"), AdminNav(current), *content)


@rt.get("/admin")
def workspaces(req: Request, q: str = "", page: str = "1"):
    text, number = _search(q, page)
    state = req.app.state
    rows = operations.workspaces(state.catalog, text, number)
    sizes = operations.database_sizes(state.settings.tenant_database_url, rows)
    table = Table(
        Thead(
            Tr(
                Th("Workspace"),
                Th("Plan"),
                Th("Status"),
                Th("Members"),
                Th("Last activity"),
                Th("Database"),
            )
        ),
        Tbody(
            *[
                Tr(
                    Td(A(r["name"], href=f"/admin/workspaces/{r['id']}"), Small(f" {r['id']}")),
                    Td(r["plan_tier"]),
                    Td(r["status"]),
                    Td(str(r["members"])),
                    Td(When(r["last_active_at"])),
                    Td(_size(sizes.get(r["id"]))),
                )
                for r in rows
            ]
        ),
    )
    return ConsolePage(
        req,
        "Workspaces",
        "/admin",
        SearchForm("/admin", text, "Name or id"),
        table if rows else P("No workspace matches.", cls="muted"),
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
        return Form(
            CsrfField(req),
            Hidden(name="user_id", value=member["id"]),
            Button("Open as this member", type="submit", cls="outline small"),
            method="post",
            action=f"/admin/workspaces/{tenant_id}/impersonate",
        )

    status_button = (
        PostButton(req, "Suspend", f"/admin/workspaces/{tenant_id}/suspend", cls="secondary")
        if tenant["status"] == "active"
        else PostButton(req, "Resume", f"/admin/workspaces/{tenant_id}/resume")
        if tenant["status"] == "suspended"
        else ""
    )
    return ConsolePage(
        req,
        tenant["name"],
        "/admin",
        Article(
            H2(tenant["name"]),
            P(Small(f"{tenant['id']} · plan {tenant['plan_tier']} · {tenant['status']}")),
            status_button,
        ),
        Article(
            H2("Members"),
            Table(
                Thead(Tr(Th("Person"), Th("Role"), Th(""))),
                Tbody(*[Tr(Td(m["email"]), Td(m["role"]), Td(open_as(m))) for m in members]),
            ),
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
        SearchForm("/admin/people", text, "Email or name"),
        Table(
            Thead(Tr(Th("Person"), Th("Workspaces"), Th("Joined"), Th("Last sign-in"), Th(""))),
            Tbody(
                *[
                    Tr(
                        Td(r["email"], Small(f" {r['name']}") if r["name"] else ""),
                        Td(str(r["workspaces"])),
                        Td(When(r["created_at"])),
                        Td(When(r["last_login_at"])),
                        Td(Small("superuser") if r["is_superuser"] or r["email"] in supers else ""),
                    )
                    for r in rows
                ]
            ),
        )
        if rows
        else P("Nobody matches.", cls="muted"),
    )


@rt.get("/admin/jobs")
@writes  # a first look at a workspace's jobs may open (and migrate) its database
def failed_jobs(req: Request):
    state = req.app.state
    jobs, scanned = operations.failed_jobs(state.catalog, state.databases)

    def retry(job: dict):
        return Form(
            CsrfField(req),
            Hidden(name="tenant_id", value=job["tenant_id"] or ""),
            Button("Retry", type="submit", cls="outline small"),
            method="post",
            action=f"/admin/jobs/{job['id']}/retry",
        )

    return ConsolePage(
        req,
        "Failed jobs",
        "/admin/jobs",
        P(
            f"Failed jobs of the host and of the {scanned} most recently active workspaces.",
            cls="muted",
        ),
        Table(
            Thead(Tr(Th("Where"), Th("Job"), Th("Failed (UTC)"), Th("Error"), Th(""))),
            Tbody(
                *[
                    Tr(
                        Td(j["workspace"]),
                        Td(j["job_type"], Small(f" {j['id']}")),
                        Td(When(j["updated_at"])),
                        Td(Small((j["error"] or "").splitlines()[0][:120] if j["error"] else "")),
                        Td(retry(j)),
                    )
                    for j in jobs
                ]
            ),
        )
        if jobs
        else P("No failed jobs.", cls="muted"),
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
        Table(
            Thead(Tr(Th("When (UTC)"), Th("Who"), Th("Action"), Th("Details"), Th("IP"))),
            Tbody(
                *[
                    Tr(
                        Td(When(r["at"])),
                        Td(r["actor"] or Small("system")),
                        Td(r["action"]),
                        Td(Small(r["details"])),
                        Td(Small(r["ip"])),
                    )
                    for r in rows
                ]
            ),
        ),
    )


@stop_rt.post("/impersonation/stop")
def stop_impersonating(req: Request, sess, auth):
    if auth.impersonator_id is None:
        raise HTTPException(400, "You are not impersonating anyone.")
    operators.stop(req, sess, auth)
    return Redirect("/admin")
