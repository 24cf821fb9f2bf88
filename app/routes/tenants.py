"""Several workspaces per person: list them, switch between them, create another.

Signed-in routes (no current tenant needed). The current tenant is part of the server-side
session; switching changes it only to a tenant the person is a member of (404 otherwise),
and the Beforeware checks the membership again on every request anyway.
"""

from __future__ import annotations

from fasthtml.common import (
    H1,
    H2,
    APIRouter,
    Article,
    Button,
    Form,
    Input,
    Redirect,
    Small,
    Table,
    Tbody,
    Td,
    Th,
    Thead,
    Tr,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import CsrfField, PostButton
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
        Input(
            name="name",
            value=name,
            placeholder="Workspace name",
            required=True,
            maxlength=NAME_MAX,
            aria_label="Workspace name",
            aria_invalid="true" if error else None,
        ),
        Button("Create workspace", type="submit"),
        Small(error, cls="error") if error else "",
        method="post",
        action="/tenants",
        cls="inline-form",
    )


def TenantsPage(req: Request, auth: Auth, form=None):
    mine = req.app.state.catalog.memberships(auth.user_id)
    rows = [
        Tr(
            Td(m["name"], Small(" (current)") if m["id"] == auth.tenant_id else ""),
            Td(m["role"]),
            Td(Small(m["status"]) if m["status"] != "active" else ""),
            Td(
                PostButton(req, "Switch", f"/tenants/{m['id']}/switch", cls="outline")
                if m["id"] != auth.tenant_id
                else ""
            ),
        )
        for m in mine
    ]
    return Page(
        req,
        "Workspaces",
        H1("Your workspaces"),
        Table(Thead(Tr(Th("Workspace"), Th("Your role"), Th(""), Th(""))), Tbody(*rows))
        if rows
        else "",
        Article(H2("Create another workspace"), form or CreateForm(req)),
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
