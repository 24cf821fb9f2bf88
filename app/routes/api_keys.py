"""Settings → API keys: make a key (shown once), see when each was last used, revoke one.

A key acts as the workspace through the REST API (/api/v1, app/routes/api.py), read-only or
read-write, until it expires or is revoked; revoking takes effect on the key's next request
in every process (tenants/api_keys.py). Roles with `api.manage` make and revoke keys; everyone
in the workspace sees the list. Making and revoking are audited.
"""

from __future__ import annotations

from fasthtml.common import APIRouter, Code, Div, Form, Input, Option, P, Script, Select, Tr
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import SettingsTabs, Toasts
from app.ui.kit import (
    Badge,
    Button,
    Card,
    Cell,
    EmptyState,
    Field,
    PageHeader,
    Table,
    When,
    confirming,
)
from app.ui.layout import Page
from app.ui.shown_once import ShownOnce
from app.web.audit import record
from app.web.permissions import can, require
from tenants.api_keys import NAME_MAX, SCOPES
from tenants.stamp import from_now

rt = APIRouter()
PANEL = "#api-keys-panel"
EXPIRY_DAYS = {"never": None, "30": 30, "90": 90, "365": 365}
COLUMNS = ("Name", "Key", "Access", "Made", "Expires", "Last used", "State", "")


def KeyRow(key: dict, can_manage: bool):
    live = not key["revoked_at"]
    revoke = Button(
        "Revoke",
        variant="danger-outline",
        size="sm",
        hx_post=f"/settings/api-keys/{key['id']}/revoke",
        hx_target=PANEL,
        hx_swap="outerHTML",
        **confirming(
            "Requests with this key will be refused at once.",
            title="Revoke this key?",
            action="Revoke",
        ),
    )
    return Tr(
        Cell(key["name"], label="Name"),
        Cell(Code(key["prefix"] + "…"), label="Key"),
        Cell("read-write" if key["scope"] == "write" else "read", label="Access"),
        Cell(When(key["created_at"]), label="Made"),
        Cell(When(key["expires_at"]) if key["expires_at"] else "never", label="Expires"),
        Cell(When(key["last_used_at"]), label="Last used"),
        Cell(Badge("live", "success") if live else Badge("revoked", "neutral"), label="State"),
        Cell(revoke if can_manage and live else "", cls="actions"),
    )


def KeyForm(values: dict | None = None, errors: dict | None = None):
    values, errors = values or {}, errors or {}
    expiry = [
        Option(
            "never" if days is None else f"in {days} days",
            value=value,
            selected=values.get("expires", "90") == value,
        )
        for value, days in EXPIRY_DAYS.items()
    ]
    return Form(
        Field(
            "Name",
            Input(
                name="name",
                value=values.get("name", ""),
                maxlength=NAME_MAX,
                placeholder="e.g. Reporting script",
            ),
            errors.get("name"),
        ),
        Field(
            "Access",
            Select(
                Option("read", value="read", selected=values.get("scope") != "write"),
                Option("read-write", value="write", selected=values.get("scope") == "write"),
                name="scope",
            ),
            errors.get("scope"),
        ),
        Field("Expires", Select(*expiry, name="expires"), errors.get("expires")),
        Button("Create key", type="submit"),
        hx_post="/settings/api-keys",
        hx_target=PANEL,
        hx_swap="outerHTML",
        id="api-key-form",
    )


def KeysPanel(req: Request, auth, form=None):
    can_manage = can(auth, "api", "manage")
    keys = req.app.state.api_keys.listing(auth.tenant_id)
    listing = (
        Table(COLUMNS, *[KeyRow(k, can_manage) for k in keys], stack=True, caption="API keys")
        if keys
        else EmptyState(
            "No API keys yet.", "Make one below to script this workspace.", icon="shield"
        )
    )
    return Div(
        Card(
            listing,
            title="API keys",
            description=(
                "A key lets a program use this workspace through the REST API (",
                Code("Authorization: Bearer sk_..."),
                "). It acts as the workspace, not as you.",
            ),
            actions=[Button("API reference", variant="outline", size="sm", href="/api/docs")],
            flush=bool(keys),
        ),
        Card(
            (form or KeyForm()) if can_manage else P("Your role cannot make keys.", cls="muted"),
            title="New key",
        ),
        id="api-keys-panel",
    )


def ShownKey(key: str):
    return ShownOnce("key", key, "new-api-key", "shown-key")


@rt.get("/settings/api-keys")
def api_keys_page(req: Request, auth):
    return Page(
        req,
        "API keys",
        PageHeader("Settings", "Keys for scripts and integrations that use the REST API."),
        SettingsTabs("/settings/api-keys", auth),
        Div(id="shown-key"),
        KeysPanel(req, auth),
        Script(src="/static/copy.js", defer=True),
    )


def _checked(name: str, scope: str, expires: str) -> tuple[dict, dict]:
    values = {"name": name.strip(), "scope": scope, "expires": expires}
    errors = {}
    if not values["name"]:
        errors["name"] = "Give the key a name, so you can tell it apart later."
    elif len(values["name"]) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if scope not in SCOPES:
        errors["scope"] = "Choose read or read-write."
    if expires not in EXPIRY_DAYS:
        errors["expires"] = "Choose when the key expires from the list."
    return values, errors


@rt.post("/settings/api-keys")
def create_key(req: Request, auth, name: str = "", scope: str = "", expires: str = ""):
    require(auth, "api", "manage")
    values, errors = _checked(name, scope, expires)
    if errors:
        return KeysPanel(req, auth, KeyForm(values, errors))
    days = EXPIRY_DAYS[expires]
    expires_at = from_now(days=days) if days else None
    key_id, key = req.app.state.api_keys.create(
        auth.tenant_id, values["name"], scope, auth.user_id, expires_at
    )
    record(req, auth, "api_key.created", key=key_id, name=values["name"], scope=scope)
    return KeysPanel(req, auth), ShownKey(key), Toasts("API key created.")


@rt.post("/settings/api-keys/{key_id}/revoke")
def revoke_key(req: Request, auth, key_id: str):
    require(auth, "api", "manage")
    if not req.app.state.api_keys.revoke(auth.tenant_id, key_id):
        raise HTTPException(404)
    record(req, auth, "api_key.revoked", key=key_id)
    return KeysPanel(req, auth), Toasts("API key revoked.")
