"""Workspace settings: name, timezone and currency, as an HTMX form with inline errors.

Only allow-listed fields are read, each is validated, and nothing changes unless all are
valid. Members see the form read-only; the server refuses their posts anyway.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from functools import cache, lru_cache

from fasthtml.common import (
    APIRouter,
    Div,
    Fieldset,
    Form,
    Input,
    NotStr,
    Option,
    Select,
    Small,
    Title,
    to_xml,
)
from starlette.requests import Request

from app.ui.components import SettingsHeader, SettingsTabs
from app.ui.kit import Button, Card, Field, Toasts
from app.ui.layout import APP_NAME, Page, TenantSwitcher, shell_of
from app.web.permissions import can, require
from app.web.signin import client_ip
from tenants.names import NAME_MAX, name_problem
from tenants.stamp import now

rt = APIRouter()
CURRENCIES = (
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "CHF",
    "CAD",
    "AUD",
    "NZD",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "INR",
    "BRL",
    "MXN",
    "ZAR",
    "SGD",
    "HKD",
    "CNY",
    "KRW",
)


@cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


@lru_cache(maxsize=128)
def _options(choices: tuple[str, ...], selected: str) -> NotStr:
    return NotStr("".join(to_xml(Option(c, selected=c == selected)) for c in choices))


def Options(choices: tuple[str, ...], selected: str) -> NotStr:
    """A select's options, rendered once per choice list and selected value: the ~600 zones
    built as FT took ~15 ms, most of a settings request (bench/load)."""
    return _options(choices, selected if selected in choices else "")


def SettingsForm(values: dict, errors: dict | None = None, editable: bool = True):
    errors = errors or {}
    return Form(
        Fieldset(
            Field(
                "Workspace name",
                Input(name="name", value=values["name"], maxlength=NAME_MAX, required=True),
                errors.get("name"),
                hint="Shown in the sidebar, in emails and to everyone you invite.",
            ),
            Div(
                Field(
                    "Timezone",
                    Select(
                        Options(timezones(), values["timezone"]),
                        name="timezone",
                    ),
                    errors.get("timezone"),
                    hint="Every time in this workspace is shown in it.",
                ),
                Field(
                    "Currency",
                    Select(
                        Options(CURRENCIES, values["currency"]),
                        name="currency",
                    ),
                    errors.get("currency"),
                ),
                cls="form-grid",
            ),
            disabled=not editable,
        ),
        Div(
            Button("Save changes", type="submit")
            if editable
            else Small("Your role cannot change these.", cls="muted"),
            cls="form-actions",
        ),
        hx_post="/settings",
        hx_swap="outerHTML",
        id="settings-form",
        cls="stack",
    )


def validate(form: dict) -> tuple[dict, dict]:
    """Clean values and errors from the posted fields we accept; anything else is ignored."""
    values = {k: str(form.get(k, "")).strip() for k in ("name", "timezone", "currency")}
    errors = {}
    if problem := name_problem(values["name"]):
        errors["name"] = problem
    if values["timezone"] not in timezones():
        errors["timezone"] = "Choose a timezone from the list."
    if values["currency"] not in CURRENCIES:
        errors["currency"] = "Choose a currency from the list."
    return values, errors


def _current(auth) -> dict:
    row = auth.db.t.core_settings[1]
    return {"name": auth.tenant_name, "timezone": row["timezone"], "currency": row["currency"]}


def _title(workspace: str) -> str:
    return f"Settings · {workspace}"


@rt.get("/settings")
def settings_page(req: Request, auth):
    return Page(
        req,
        _title(auth.tenant_name),
        SettingsHeader(),
        SettingsTabs("/settings", auth),
        Card(
            SettingsForm(_current(auth), editable=can(auth, "settings", "edit")),
            title="General",
            description="The workspace's name, and how it shows times and money.",
        ),
    )


@rt.post("/settings")
def save_settings(req: Request, auth, data: dict):
    require(auth, "settings", "edit")
    values, errors = validate(data)
    if errors:
        return SettingsForm(values, errors)
    auth.db.t.core_settings.update(
        {
            "id": 1,
            "timezone": values["timezone"],
            "currency": values["currency"],
            "updated_at": now(),
        }
    )
    catalog = req.app.state.catalog
    catalog.rename_tenant(auth.tenant_id, values["name"])
    catalog.audit(
        "settings.changed", actor=auth.user_id, tenant=auth.tenant_id, ip=client_ip(req), **values
    )
    # The name shows in the navigation and the title too: htmx swaps both from this answer.
    renamed = dataclasses.replace(shell_of(req), tenant_name=values["name"])
    return (
        SettingsForm(values),
        Title(f"{_title(values['name'])} · {APP_NAME}"),
        TenantSwitcher(renamed)(hx_swap_oob="true"),
        Toasts("Settings saved."),
    )
