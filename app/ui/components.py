"""Small components shared by several areas: forms that change state, toasts, times, the
settings tabs and the development sign-in form (the login page shows it; its route answers
with it when the input is refused). Area-specific components live with their routes; the
page around them, the workspace switcher included, is app/ui/layout.py."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fasthtml.common import (
    A,
    Article,
    Button,
    Div,
    Footer,
    Form,
    Header,
    Hidden,
    Input,
    Label,
    Li,
    Nav,
    NotStr,
    P,
    Small,
    Time,
    Ul,
    to_xml,
)
from starlette.requests import Request

from app.web.security import CSRF_FIELD, csrf_token


def rendered_once(component: Callable[..., Any]) -> Callable[..., NotStr]:
    """A component whose markup depends only on its (hashable) arguments, rendered once per
    set of arguments (building FT costs tens of microseconds an element; a page many requests
    share should not pay that each time)."""

    @functools.wraps(component)
    @functools.lru_cache(maxsize=1024)
    def render(*args: Any) -> NotStr:
        return NotStr(to_xml(component(*args)))

    return render


def CsrfField(req: Request):
    """Hidden input for plain (non-htmx) forms; htmx sends the header set on the page."""
    return Hidden(name=CSRF_FIELD, value=csrf_token(req))


def PostButton(req: Request, label: str, action: str, **kw: Any):
    """A one-button form, for actions that change state (never a GET link)."""
    return Form(CsrfField(req), Button(label, type="submit", **kw), method="post", action=action)


def Toasts(*messages: str, kind: str = "ok"):
    """The toast area. Returned from an HTMX handler, it swaps out-of-band into the page."""
    return Div(
        *[Div(m, cls=f"toast toast-{kind}", role="status") for m in messages],
        id="toasts",
        hx_swap_oob="true",
    )


def When(stamp: str | None):
    """A catalog timestamp for people: minutes, UTC."""
    if not stamp:
        return Small("—")
    return Time(stamp[:16].replace("T", " "), datetime=stamp)


SETTINGS_TABS = (
    ("General", "/settings"),
    ("Team", "/settings/team"),
    ("Webhooks", "/settings/webhooks"),
    ("Security", "/settings/security"),
    ("Danger zone", "/settings/danger"),
)


def SettingsTabs(current: str):
    """The settings sub-pages; each lives with its own area's routes."""
    return Nav(
        Ul(
            *[
                Li(A(label, href=href, aria_current="page" if href == current else None))
                for label, href in SETTINGS_TABS
            ]
        ),
        cls="tabs",
        aria_label="Settings",
    )


def DevSignInForm(req: Request, email: str = "", name: str = "", error: str = ""):
    """Development only: sign in as anyone by typing an email (see app/routes/dev_login.py)."""
    return Article(
        Header(
            Small("Development only", cls="badge badge-warn"),
            P(
                "No sign-in provider is configured, so you can sign in as anyone. "
                "This form does not exist in production."
            ),
        ),
        Form(
            CsrfField(req),
            Label(
                "Email",
                Input(
                    type="email",
                    name="email",
                    value=email,
                    required=True,
                    maxlength=254,
                    autocomplete="email",
                    placeholder="you@example.com",
                    aria_invalid="true" if error else None,
                ),
                Small(error, cls="error") if error else "",
            ),
            Label(
                "Name",
                Input(type="text", name="name", value=name, maxlength=100, placeholder="Optional"),
            ),
            Button("Sign in (development)", type="submit"),
            method="post",
            action="/login/dev",
        ),
        Footer(Small("Configure a sign-in provider (see .env.example) to use it instead.")),
        cls="dev-login",
    )
