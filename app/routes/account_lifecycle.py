"""Account lifecycle: export my data, delete my account, delete the workspace.

Two routers (list both in app/routes/__init__.py):

- `rt` (signed_in): the account page and deleting the account, which work whatever the
  current workspace is, or if there is none.
- `tenant_rt` (tenant): exports, which are jobs of the current workspace (so another
  workspace's export id is simply not found), and deleting the workspace.

An export is a background job that writes a zip (tenants/export.py) to
DATA_DIR/exports/<tenant>/; only the person who asked for it can download it, for
EXPORT_HOURS, after which the link answers 410 and the file is removed. Owners' exports also
hold the workspace's tables (permission tenant.export).

Deleting the workspace asks for its name, marks it deleted at once (no request reaches it
after that), then drops its database and emails the other members in background jobs.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import cast

from fasthtml.common import (
    APIRouter,
    Div,
    FileResponse,
    Form,
    FtResponse,
    Input,
    Li,
    P,
    Small,
    Span,
    Strong,
    Ul,
)
from starlette.background import BackgroundTasks
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.billing.jobs import seats_changed, workspace_deleted
from app.ui.account import (
    PasskeysPanel,
    SessionsPanel,
    SignInMethodsPanel,
    SupportAccessPanel,
)
from app.ui.components import CsrfField, SettingsHeader, SettingsTabs
from app.ui.kit import (
    Avatar,
    Badge,
    Button,
    Callout,
    Card,
    EmptyState,
    Field,
    PageHeader,
    StatusBadge,
    When,
)
from app.ui.layout import Page
from app.ui.signin import passkey_script
from app.web.audit import record
from app.web.mount import writes
from app.web.operators import refuse_if_impersonating, seen_by
from app.web.permissions import can, require
from app.web.signin import client_ip
from app.work.in_request import jobs_for
from app.work.lifecycle import EXPORT_HOURS, EXPORT_JOB, PURGE_JOB, exports_dir
from tenants import lifecycle, members
from tenants.catalog import Auth
from tenants.jobs import FINISHED
from tenants.stamp import now

rt = APIRouter()
tenant_rt = APIRouter()


def _exports_dir(req: Request, tenant_id: str) -> Path:
    return exports_dir(req.app.state.settings, tenant_id)


def _typed(confirm: object) -> str:
    """What was typed into a confirmation field ("" for a file posted in its place)."""
    return confirm.strip() if isinstance(confirm, str) else ""


def _redirect(path: str, tasks: list) -> RedirectResponse:
    """A 303 that runs `tasks` (job tasks) once it has been sent."""
    return RedirectResponse(path, status_code=303, background=BackgroundTasks(tasks))


def _sweep(directory: Path) -> None:
    """Remove export files whose download link has expired."""
    cutoff = time.time() - EXPORT_HOURS * 3600
    for path in directory.glob("*.zip"):
        with contextlib.suppress(FileNotFoundError):  # another request swept it first
            if path.stat().st_mtime < cutoff:
                path.unlink()


# -- exports ------------------------------------------------------------------------------


def ExportRow(job: dict):
    """One export; polls for its own updates until it has finished."""
    live = (
        {}
        if job["status"] in FINISHED
        else {"hx_get": f"/account/exports/{job['id']}", "hx_trigger": "every 1s"}
    )
    result = job["result"] or {}
    if job["status"] == "failed":
        state = Div(StatusBadge("job", "failed"), Small(job["error"] or "", cls="error"))
    elif job["status"] != "completed":
        state = Badge("Preparing", "info", live=True, data_state="preparing")
    elif result.get("expires_at", "") <= now():
        state = Badge("Expired", data_state="expired")
    else:
        state = Div(
            Button(
                "Download",
                href=f"/account/exports/{job['id']}/download",
                variant="outline",
                size="sm",
            ),
            Small(" link expires ", When(result["expires_at"]), cls="muted"),
            cls="row",
        )
    return Li(
        Small("Requested ", When(job["created_at"]), cls="muted"),
        state,
        id=f"export-{job['id']}",
        hx_swap="outerHTML",
        cls="row-between",
        **live,
    )


def ExportsPanel(req: Request, auth: Auth):
    """Ask for an export and see the recent ones (of the current workspace)."""
    if auth.role is None or auth.tenant_status != "active":
        return Card(
            P("Open a workspace to export your data.", cls="muted"), title="Export your data"
        )
    jobs = jobs_for(req).list_jobs(auth.tenant_id, job_type=EXPORT_JOB, limit=20)
    mine = [j for j in jobs if j["payload"].get("user_id") == auth.user_id]
    return Card(
        Ul(*[ExportRow(j) for j in mine], id="exports", cls="export-list"),
        title="Export your data",
        description="A zip of JSON files: your profile, your memberships and, if your role may "
        f"export it (owners do), the data of this workspace. The link works for {EXPORT_HOURS} "
        "hours.",
        actions=(
            Button(
                "Export my data",
                hx_post="/account/export",
                hx_target="#exports",
                hx_swap="afterbegin",
                variant="outline",
                icon="database",
            ),
        ),
    )


def _export(req: Request, auth: Auth, job_id: str) -> dict:
    """The signed-in person's export job in this tenant, or 404."""
    job = jobs_for(req).get_job(auth.tenant_id, job_id)
    if (
        job is None
        or job["job_type"] != EXPORT_JOB
        or job["payload"].get("user_id") != auth.user_id
    ):
        raise HTTPException(404)
    return job


@tenant_rt.post("/account/export")
def request_export(req: Request, auth):
    directory = _exports_dir(req, auth.tenant_id)
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)
    with_tables = can(auth, "tenant", "export")
    jobs = jobs_for(req)
    job_id, task = jobs.submit(
        auth.tenant_id,
        EXPORT_JOB,
        submitted_by=auth.user_id,
        user_id=auth.user_id,
        tenant_tables=with_tables,
    )
    record(req, auth, "account.export_requested", job=job_id, tenant_tables=with_tables)
    return ExportRow(cast(dict, jobs.get_job(auth.tenant_id, job_id))), task  # just submitted


@tenant_rt.get("/account/exports/{job_id}")
def export_row(req: Request, auth, job_id: str):
    return ExportRow(_export(req, auth, job_id))


@tenant_rt.get("/account/exports/{job_id}/download")
@writes  # the download is audited
def download_export(req: Request, auth, job_id: str):
    job = _export(req, auth, job_id)
    if job["status"] != "completed":
        raise HTTPException(409, "The export is not ready yet.")
    path = _exports_dir(req, auth.tenant_id) / f"{job['id']}.zip"
    if job["result"]["expires_at"] <= now():
        path.unlink(missing_ok=True)
        raise HTTPException(410, "This download link has expired. Ask for a new export.")
    if not path.is_file():
        raise HTTPException(410, "This export is no longer available. Ask for a new export.")
    record(req, auth, "account.export_downloaded", job=job["id"])
    return FileResponse(
        path,
        filename=f"export-{job['created_at'][:10]}.zip",
        media_type="application/zip",
        headers={"cache-control": "no-store"},
    )


# -- deleting the account -----------------------------------------------------------------


def TypedConfirmation(
    req: Request, label: str, button: str, action: str, error: str = "", typed: str = ""
):
    """A destructive action's form: it goes through only if the person types what is asked.
    After a mismatch it shows what they typed, to correct."""
    return Form(
        CsrfField(req),
        Field(
            label,
            Input(name="confirm", value=typed, autocomplete="off", required=True),
            error or None,
            id=f"confirm-{action.strip('/').replace('/', '-')}",
        ),
        Div(Button(button, type="submit", variant="danger"), cls="form-actions"),
        method="post",
        action=action,
        cls="stack",
    )


def DeleteAccountPanel(req: Request, auth: Auth, error: str = "", typed: str = ""):
    blocking = lifecycle.blocking_tenants(req.app.state.catalog, auth.user_id)
    return Card(
        Callout(
            "First make someone else owner of: ",
            Strong(", ".join(t["name"] for t in blocking)),
            ".",
            tone="danger",
        )
        if blocking
        else "",
        TypedConfirmation(
            req,
            "Type your email address to confirm",
            "Delete my account",
            "/account/delete",
            error,
            typed,
        ),
        title="Delete your account",
        description="Your profile and your memberships go; workspaces where you are the only "
        "member are deleted with it. This cannot be undone.",
        tone="danger",
        id="delete-account",
    )


def AccountPage(req: Request, auth: Auth, delete_error: str = "", typed: str = ""):
    catalog = req.app.state.catalog
    mine = catalog.memberships(auth.user_id)
    return Page(
        req,
        "Your account",
        PageHeader("Your account", "Who you are here, your data, and the way out."),
        Card(
            Div(
                Avatar(auth.name, auth.email, auth.avatar_url, size="lg"),
                Div(Strong(auth.name or auth.email), Small(auth.email)),
                cls="person",
            ),
            title="Profile",
            description="From your sign-in provider.",
        ),
        Card(
            Ul(
                *[
                    Li(
                        Span(m["name"], cls="truncate"),
                        StatusBadge("role", m["role"]),
                        cls="row-between",
                    )
                    for m in mine
                ],
                cls="plain-list",
            )
            if mine
            else EmptyState("No workspaces", "Create one to get started.", icon="workspace"),
            title="Workspaces",
            actions=(Button("Manage", href="/tenants", variant="outline", size="sm"),),
        ),
        SignInMethodsPanel(catalog, auth),
        PasskeysPanel(req, auth),
        SessionsPanel(req, auth),
        SupportAccessPanel(seen_by(catalog, auth.user_id)),
        ExportsPanel(req, auth),
        DeleteAccountPanel(req, auth, delete_error, typed),
        head=passkey_script(),
    )


@rt.get("/account")
def account_page(req: Request, auth):
    return AccountPage(req, auth)


@rt.post("/account/delete")
def delete_account(req: Request, sess, auth, confirm: str = ""):
    refuse_if_impersonating(auth)
    if _typed(confirm).lower() != auth.email.lower():
        error = "Type your email address exactly to confirm."
        return FtResponse(AccountPage(req, auth, error, _typed(confirm)), status_code=400)
    state = req.app.state
    try:
        gone = lifecycle.delete_account(state.catalog, auth.user_id)
    except lifecycle.SoleOwner as e:
        return FtResponse(AccountPage(req, auth, str(e), _typed(confirm)), status_code=409)
    jobs = jobs_for(req)
    for tenant_id in gone.left_tenants:
        with state.databases.begin(tenant_id) as db:
            members.unmirror(db, auth.user_id)
        seats_changed(jobs, state.catalog, state.settings, tenant_id)
    for tenant_id in gone.deleted_tenants:
        workspace_deleted(jobs, state.catalog, state.settings, tenant_id)
    tasks = [jobs.submit_system(PURGE_JOB, tenant=t)[1] for t in gone.deleted_tenants]
    state.catalog.audit(  # about the person, not a workspace
        "account.deleted",
        actor=auth.user_id,
        tenant=None,
        ip=client_ip(req),
        deleted_tenants=gone.deleted_tenants,
        left_tenants=gone.left_tenants,
    )
    sess.clear()
    return _redirect("/", tasks)


# -- deleting the workspace ---------------------------------------------------------------


@tenant_rt.get("/settings/danger")
def danger_zone(req: Request, auth):
    """The settings tab with the way to delete the workspace, for roles that may."""
    allowed = can(auth, "tenant", "delete")
    return Page(
        req,
        "Danger zone",
        SettingsHeader(),
        SettingsTabs("/settings/danger", auth),
        Card(
            P("Its data is removed for good and every member loses access at once.", cls="muted"),
            title="Delete this workspace",
            description="This cannot be undone.",
            tone="danger",
            footer=Button("Delete workspace…", href="/tenant/delete", variant="danger")
            if allowed
            else Small("Only the owner can delete the workspace.", cls="muted"),
        ),
    )


def DeleteTenantPage(req: Request, auth: Auth, error: str = "", typed: str = ""):
    people = len(req.app.state.catalog.members(auth.tenant_id))
    return Page(
        req,
        "Delete workspace",
        PageHeader(f"Delete {auth.tenant_name}", "", back=("Danger zone", "/settings/danger")),
        Card(
            Callout(
                f"This deletes the workspace and all its data for good. Its {people} "
                f"member{'s' if people != 1 else ''} lose access at once; the others get an email.",
                tone="danger",
                icon="danger",
            ),
            TypedConfirmation(
                req,
                "Type the workspace name to confirm",
                "Delete this workspace",
                "/tenant/delete",
                error,
                typed,
            ),
            tone="danger",
        ),
    )


@tenant_rt.get("/tenant/delete")
def delete_tenant_page(req: Request, auth):
    require(auth, "tenant", "delete")
    return DeleteTenantPage(req, auth)


@tenant_rt.post("/tenant/delete")
def delete_tenant(req: Request, auth, confirm: str = ""):
    require(auth, "tenant", "delete")
    if _typed(confirm) != auth.tenant_name:
        error = "Type the workspace name exactly to confirm."
        return FtResponse(DeleteTenantPage(req, auth, error, _typed(confirm)), status_code=400)
    state = req.app.state
    people = lifecycle.delete_tenant(state.catalog, auth.tenant_id)
    auth.db.close()  # its database is dropped next: give the connection back first
    jobs = jobs_for(req)
    workspace_deleted(jobs, state.catalog, state.settings, auth.tenant_id)
    _, purge = jobs.submit_system(PURGE_JOB, tenant=auth.tenant_id)
    tasks = [purge]
    deleted_at = now()[:16].replace("T", " ") + " UTC"
    others = [
        {
            "to": p["email"],
            "variables": {
                "name": p["name"] or p["email"],
                "tenant_name": auth.tenant_name,
                "deleted_by": auth.name or auth.email,
                "deleted_at": deleted_at,
            },
        }
        for p in people
        if p["id"] != auth.user_id and p["email"]
    ]
    if others:
        tasks.append(
            jobs.submit_system("email.send_batch", template="tenant_deleted", recipients=others)[1]
        )
    record(req, auth, "tenant.deleted", name=auth.tenant_name, members=len(people))
    remaining = state.catalog.memberships(auth.user_id)
    if remaining:
        state.catalog.switch_session_tenant(auth.session_hash, remaining[0]["id"])
    return _redirect("/dashboard" if remaining else "/tenants", tasks)
