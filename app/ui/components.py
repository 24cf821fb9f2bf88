"""Small components shared by several areas: caching a component's markup, forms that change
state, the settings tabs and the development sign-in form (the login page shows it; its
route answers with it when the input is refused). The design system's components are in
app/ui/kit.py (`Toasts` and `When` are also importable from here); the page around them,
the workspace switcher included, is app/ui/layout.py."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fasthtml.common import Div, Form, Hidden, Input, NotStr, P, to_xml
from starlette.requests import Request

from app.ui.kit import Badge, Button, Field, PageHeader, Tabs, Toasts, When
from app.web.permissions import can
from app.web.security import CSRF_FIELD, csrf_token

__all__ = [
    "SETTINGS_TABS",
    "CsrfField",
    "DevSignInForm",
    "PostButton",
    "SettingsHeader",
    "SettingsTabs",
    "Toasts",
    "When",
    "rendered_once",
]


def rendered_once(component: Callable[..., Any]) -> Callable[..., NotStr]:
    """A component whose markup depends only on its (hashable) arguments, rendered once per
    set of arguments (building FT costs tens of microseconds an element; a page many requests
    share should not pay that each time)."""

    @functools.wraps(component)
    @functools.lru_cache(maxsize=1024)
    def render(*args: Any) -> NotStr:
        return NotStr(to_xml(component(*args)))

    return render


def EmailInput(email: str = ""):
    """The address field of every form that asks for one (sign-in, sign-in links)."""
    return Input(
        type="email",
        name="email",
        value=email,
        required=True,
        maxlength=254,
        autocomplete="email",
        placeholder="you@example.com",
    )


def CsrfField(req: Request):
    """Hidden input for plain (non-htmx) forms; htmx sends the header set on the page."""
    return Hidden(name=CSRF_FIELD, value=csrf_token(req))


def PostButton(req: Request, label: str, action: str, **kw: Any):
    """A one-button form, for actions that change state (never a GET link). Button options
    (variant, size, icon) go to the button; `confirm` (attributes from kit.confirming) to
    the form, which then asks in the page's dialog first."""
    confirm = kw.pop("confirm", {})
    return Form(
        CsrfField(req),
        Button(label, type="submit", **kw),
        method="post",
        action=action,
        data_confirm=confirm.get("data_confirm"),
        data_confirm_title=confirm.get("data_confirm_title"),
        data_confirm_action=confirm.get("data_confirm_action"),
        data_confirm_tone=confirm.get("data_confirm_tone"),
    )


SETTINGS_TABS = (  # label, path, and the permission a tab needs to be shown (None: none)
    ("General", "/settings", None),
    ("Team", "/settings/team", ("members", "manage")),
    ("Webhooks", "/settings/webhooks", None),
    ("Outbound webhooks", "/settings/outbound-webhooks", None),
    ("API keys", "/settings/api-keys", None),
    ("Billing", "/settings/billing", ("billing", "view")),
    ("Security", "/settings/security", None),
    ("Danger zone", "/settings/danger", None),
)


def SettingsHeader():
    """The title of every settings sub-page (the tabs under it say which one)."""
    return PageHeader("Settings", "This workspace: its name and zone, team, webhooks and plan.")


def SettingsTabs(current: str, auth):
    """The settings sub-pages this member may open; each lives with its own area's routes."""
    tabs = [
        (label, path) for label, path, need in SETTINGS_TABS if need is None or can(auth, *need)
    ]
    return Tabs(tabs, current, "Settings", danger=("/settings/danger",))


def DevSignInForm(req: Request, email: str = "", name: str = "", error: str = ""):
    """Development only: sign in as anyone by typing an email (see app/routes/dev_login.py)."""
    return Div(
        Badge("Development only", "warning"),
        P(
            "No sign-in provider is configured, so you can sign in as anyone. "
            "This form does not exist in production.",
            cls="muted",
        ),
        Form(
            CsrfField(req),
            Field(
                "Email",
                EmailInput(email),
                error or None,
            ),
            Field(
                "Name",
                Input(type="text", name="name", value=name, maxlength=100, autocomplete="name"),
                hint="Optional: how the app greets you.",
            ),
            Button("Sign in (development)", type="submit", cls="btn-block"),
            method="post",
            action="/login/dev",
            cls="stack",
        ),
        P("Configure a sign-in provider (see .env.example) to use it instead.", cls="muted"),
        cls="stack dev-login",
    )
