"""Settings → API keys: make a key (shown once), see when each was last used, revoke one.

A key acts as the workspace through the REST API (/api/v1, app/routes/api.py), read-only or
read-write, until it expires or is revoked; revoking takes effect on the key's next request
in every process (tenants/api_keys.py). Roles with `api.manage` make and revoke keys; everyone
in the workspace sees the list. Making and revoking are audited.
"""

from __future__ import annotations

from fasthtml.common import (
    H1,
    H2,
    APIRouter,
    Article,
    Button,
    Code,
    Div,
    Form,
    Input,
    Label,
    Option,
    P,
    Pre,
    Script,
    Select,
    Small,
    Strong,
    Table,
    Tbody,
    Td,
    Th,
    Thead,
    Tr,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import SettingsTabs, Toasts, When
from app.ui.layout import Page
from app.web.audit import record
from app.web.permissions import can, require
from tenants.api_keys import NAME_MAX, SCOPES
from tenants.stamp import from_now

rt = APIRouter()
PANEL = "#api-keys-panel"
EXPIRY_DAYS = {"never": None, "30": 30, "90": 90, "365": 365}


def KeyRow(key: dict, can_manage: bool):
    state = "revoked" if key["revoked_at"] else "live"
    revoke = Button(
        "Revoke",
        hx_post=f"/settings/api-keys/{key['id']}/revoke",
        hx_target=PANEL,
        hx_swap="outerHTML",
        hx_confirm="Requests with this key will be refused at once. Revoke it?",
        cls="secondary outline small",
    )
    return Tr(
        Td(key["name"]),
        Td(Code(key["prefix"] + "…")),
        Td("read-write" if key["scope"] == "write" else "read"),
        Td(When(key["created_at"])),
        Td(When(key["expires_at"]) if key["expires_at"] else Small("never")),
        Td(When(key["last_used_at"])),
        Td(Strong(state) if state == "revoked" else state),
        Td(revoke if can_manage and state == "live" else ""),
    )


def KeyForm(values: dict | None = None, errors: dict | None = None):
    values, errors = values or {}, errors or {}

    def problem(name: str):
        return Small(errors[name], cls="error") if name in errors else ""

    return Form(
        Label(
            "Name",
            Input(
                name="name",
                value=values.get("name", ""),
                maxlength=NAME_MAX,
                placeholder="e.g. Reporting script",
                aria_invalid="true" if "name" in errors else None,
            ),
            problem("name"),
        ),
        Label(
            "Access",
            Select(
                Option("read", value="read", selected=values.get("scope") != "write"),
                Option("read-write", value="write", selected=values.get("scope") == "write"),
                name="scope",
            ),
            problem("scope"),
        ),
        Label(
            "Expires",
            Select(
                *[
                    Option(
                        "never" if days is None else f"in {days} days",
                        value=value,
                        selected=values.get("expires", "90") == value,
                    )
                    for value, days in EXPIRY_DAYS.items()
                ],
                name="expires",
            ),
            problem("expires"),
        ),
        Button("Create key", type="submit"),
        hx_post="/settings/api-keys",
        hx_target=PANEL,
        hx_swap="outerHTML",
        id="api-key-form",
    )


def KeysPanel(req: Request, auth, form=None):
    can_manage = can(auth, "api", "manage")
    keys = req.app.state.api_keys.listing(auth.tenant_id)
    table = (
        Table(
            Thead(
                Tr(
                    *[
                        Th(h)
                        for h in ("Name", "Key", "Access", "Made", "Expires", "Last used", "", "")
                    ]
                )
            ),
            Tbody(*[KeyRow(k, can_manage) for k in keys]),
        )
        if keys
        else P("No API keys yet.", cls="muted")
    )
    return Article(
        H2("API keys"),
        P(
            "A key lets a program use this workspace through the REST API (",
            Code("Authorization: Bearer sk_..."),
            "). It acts as the workspace, not as you. See the ",
            Code("/api/docs"),
            " reference.",
        ),
        table,
        (form or KeyForm()) if can_manage else Small("Your role cannot make keys."),
        id="api-keys-panel",
    )


def ShownKey(key: str):
    """The new key, once: it sits outside the panel and arrives out of band."""
    return Article(
        Strong("Copy the key now: it will not be shown again."),
        P(Button("Copy", type="button", data_copy="new-api-key", cls="secondary small")),
        Pre(Code(key, id="new-api-key")),
        Button("I have stored it: dismiss", type="button", data_dismiss="shown-key"),
        id="shown-key",
        hx_swap_oob="true",
    )


@rt.get("/settings/api-keys")
def api_keys_page(req: Request, auth):
    return Page(
        req,
        "API keys",
        H1("Settings"),
        SettingsTabs("/settings/api-keys"),
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
