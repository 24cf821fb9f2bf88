"""Several workspaces per person: list them, switch between them, create another.

Signed-in routes (no current tenant needed). The current tenant is part of the server-side
session; switching changes it only to a tenant the person is a member of (404 otherwise),
and the Beforeware checks the membership again on every request anyway.
"""

from __future__ import annotations

from fasthtml.common import APIRouter, Div, Form, Input, Redirect, Small, Span, Strong, Tr
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import CsrfField, PostButton
from app.ui.kit import Badge, Button, Card, Cell, EmptyState, Field, PageHeader, StatusBadge, Table
from app.ui.layout import Page
from app.web.signin import client_ip
from tenants.catalog import Auth
from tenants.lifecycle import tenants_created_by
from tenants.names import NAME_MAX, name_problem
from tenants.provision import ProvisioningError, create_tenant

rt = APIRouter()
CREATE_MAX = 10  # live workspaces one person may create


def CreateForm(req: Request, name: str = "", error: str = ""):
    return Form(
        CsrfField(req),
        Field(
            "Workspace name",
            Input(
                name="name",
                value=name,
                placeholder="Acme Inc.",
                required=True,
                maxlength=NAME_MAX,
            ),
            error or None,
            id="new-workspace-name",
        ),
        Button("Create workspace", type="submit", icon="plus"),
        method="post",
        action="/tenants",
        cls="inline-form",
    )


def TenantsPage(req: Request, auth: Auth, form=None):
    mine = req.app.state.catalog.memberships(auth.user_id)
    rows = [
        Tr(
            Cell(
                Div(
                    Span(m["name"][:1], cls="workspace-mark", aria_hidden="true"),
                    Div(
                        Strong(m["name"], cls="truncate"),
                        Small("Current workspace") if m["id"] == auth.tenant_id else "",
                    ),
                    cls="person",
                ),
                cls="primary-cell",
            ),
            Cell(StatusBadge("role", m["role"]), label="Your role"),
            Cell(
                Badge(m["status"].capitalize(), "warning") if m["status"] != "active" else "",
                label="Status",
            ),
            Cell(
                PostButton(
                    req, "Switch", f"/tenants/{m['id']}/switch", variant="outline", size="sm"
                )
                if m["id"] != auth.tenant_id
                else Badge("Current", "success"),
                cls="actions",
            ),
        )
        for m in mine
    ]
    return Page(
        req,
        "Workspaces",
        PageHeader("Your workspaces", "Each workspace has its own data, members and settings."),
        Card(Table(("Workspace", "Your role", "Status", ""), *rows, stack=True), flush=True)
        if rows
        else EmptyState("No workspaces yet", "Create your first one below.", icon="workspace"),
        Card(
            form or CreateForm(req),
            title="Create another workspace",
            description="You become its owner; invite people from its settings.",
            id="create",
        ),
    )


@rt.get("/tenants")
def tenants_page(req: Request, auth):
    return TenantsPage(req, auth)


@rt.post("/tenants")
def create(req: Request, auth, name: str = ""):
    name = name.strip() if isinstance(name, str) else ""  # a posted file is no name
    state = req.app.state
    error = name_problem(name) or ""
    if not error and tenants_created_by(state.catalog, auth.user_id) >= CREATE_MAX:
        error = f"You have created {CREATE_MAX} workspaces; delete one to make another."
    if error:
        return TenantsPage(req, auth, CreateForm(req, name, error))
    try:
        tenant_id = create_tenant(state.catalog, state.databases, auth.user_id, name)
    except ProvisioningError:
        raise HTTPException(503, "We could not set up the workspace. Please try again.") from None
    state.catalog.switch_session_tenant(auth.session_hash, tenant_id)
    state.catalog.audit(
        "tenant.created", actor=auth.user_id, tenant=tenant_id, ip=client_ip(req), name=name
    )
    return Redirect("/dashboard")


@rt.post("/tenants/{tenant_id}/switch")
def switch(req: Request, auth, tenant_id: str):
    catalog = req.app.state.catalog
    if not any(m["id"] == tenant_id for m in catalog.memberships(auth.user_id)):
        raise HTTPException(404)
    catalog.switch_session_tenant(auth.session_hash, tenant_id)
    return Redirect("/dashboard")
