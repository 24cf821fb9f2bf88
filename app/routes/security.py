"""The workspace's sign-in rule: an owner may require a passkey as a second step for everyone
(permission security.manage). The guard enforces it (app/web/second_step.py)."""

from __future__ import annotations

import dataclasses

from fasthtml.common import APIRouter, Form, Input, Label, Small
from starlette.requests import Request

from app.ui.components import SettingsHeader, SettingsTabs, Toasts
from app.ui.kit import Button, Card
from app.ui.layout import Page
from app.web.audit import record
from app.web.operators import refuse_if_impersonating
from app.web.passkeys import passkeys_of
from app.web.permissions import can, require
from tenants.catalog import Auth

rt = APIRouter()


def SecurityForm(auth: Auth, editable: bool, error: str = ""):
    return Form(
        Label(
            Input(
                type="checkbox",
                name="require_passkey",
                value="on",
                checked=bool(auth.require_passkey),
                disabled=not editable,
                role="switch",
            ),
            "Require a passkey as a second step for everyone in this workspace",
        ),
        Small(error, cls="field-error", role="alert") if error else "",
        Button("Save", type="submit") if editable else Small("Only an owner can change this."),
        hx_post="/settings/security",
        hx_swap="outerHTML",
        id="security-form",
        cls="stack",
    )


@rt.get("/settings/security")
def security_page(req: Request, auth):
    return Page(
        req,
        "Security",
        SettingsHeader(),
        SettingsTabs("/settings/security", auth),
        Card(
            SecurityForm(auth, can(auth, "security", "manage")),
            title="Sign-in",
            description="With this on, members sign in as usual and then confirm with one of"
            " their passkeys. Someone who lost theirs can get in once through an email link,"
            " which shows in the audit trail.",
        ),
    )


@rt.post("/settings/security")
def save_security(req: Request, auth, require_passkey: str = ""):
    require(auth, "security", "manage")
    refuse_if_impersonating(auth)
    wanted = require_passkey == "on"
    catalog = req.app.state.catalog
    if wanted and not passkeys_of(catalog, auth.user_id):
        return SecurityForm(auth, True, "Add a passkey to your own account first (Account).")
    catalog.execute(
        "UPDATE core_tenants SET require_passkey = :on WHERE id = :t",
        on=int(wanted),
        t=auth.tenant_id,
    )
    record(req, auth, "security.passkey_required" if wanted else "security.passkey_optional")
    changed = dataclasses.replace(auth, require_passkey=int(wanted))
    message = "Passkeys are now required." if wanted else "Passkeys are now optional."
    return SecurityForm(changed, True), Toasts(message)
