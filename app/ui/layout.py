"""The page layout: head tags, navigation, footer and error pages. Pico CSS does most of the styling."""

from __future__ import annotations

import json
from typing import Any

from fasthtml.common import (
    A,
    Div,
    Footer,
    Header,
    Img,
    Li,
    Link,
    Main,
    Meta,
    Nav,
    Script,
    Small,
    Strong,
    Title,
    Ul,
)
from starlette.requests import Request

from app.ui.components import PostButton, TenantSwitcher, Toasts
from app.web.permissions import can
from app.web.security import csrf_token

APP_NAME = "FastHTML SaaS"
HTMX_CONFIG = {
    # The CSP forbids inline styles and eval, so htmx must not rely on either.
    "includeIndicatorStyles": False,
    "allowEval": False,
    # Swap 4xx/5xx responses too: validation errors and error toasts are HTML fragments.
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "[45]..", "swap": True, "error": True},
    ],
}


def UserMenu(req: Request, auth: Any):
    if auth is None:
        # Public pages do not look the session up; a session cookie is enough to offer the way in.
        signed_in = "sid" in req.scope.get("session", {})
        label = "Open dashboard" if signed_in else "Sign in"
        return Ul(Li(A(label, href="/dashboard" if signed_in else "/login", role="button")))
    avatar = Img(src=auth.avatar_url, alt="", cls="avatar") if auth.avatar_url else ""
    return Ul(
        Li(A("Dashboard", href="/dashboard")),
        Li(A("Members", href="/members")),
        Li(A("Audit", href="/audit")) if can(auth, "audit", "view") else "",
        Li(A("Settings", href="/settings")),
        Li(A(avatar, Small(auth.email), href="/account")),
        Li(PostButton(req, "Sign out", "/logout", cls="secondary outline")),
    )


def SiteNav(req: Request, auth: Any = None):
    tenant = TenantSwitcher(req, auth) if auth else ""
    return Nav(
        Ul(Li(A(Strong(APP_NAME), href="/")), Li(tenant), Li(A("Blog", href="/blog"))),
        UserMenu(req, auth),
    )


def Page(
    req: Request,
    title: str,
    *content: Any,
    description: str = "",
    head: tuple = (),
):
    """A full page: head tags, navigation, content, footer. Handlers return this for GETs."""
    auth = req.scope.get("auth")
    session = req.scope.get("session", {})
    return (
        *StaticHeaders(),
        Title(f"{title} · {APP_NAME}" if title != APP_NAME else APP_NAME),
        Meta(name="description", content=description or f"{APP_NAME}: {title}"),
        *head,
        Div(
            Header(SiteNav(req, auth), cls="container"),
            Main(*content, cls="container"),
            Footer(Small(f"{APP_NAME} · built with FastHTML"), cls="container"),
            Toasts(),
            # htmx copies this header onto every request it makes: that is our CSRF token.
            # Visitors get none (public pages make no htmx writes), so public pages set no cookie.
            hx_headers=json.dumps({"X-CSRF-Token": csrf_token(req)}) if "sid" in session else None,
        ),
    )


def StaticHeaders() -> list:
    """Everything the <head> loads, all from /static: no CDN at run time.

    Pages add these themselves rather than through the app's `hdrs`, which FastHTML
    deep-copies on every request, pages or not (measured: most of a small request's cost).
    """
    return [
        Meta(charset="utf-8"),
        Meta(name="viewport", content="width=device-width, initial-scale=1"),
        Meta(name="color-scheme", content="light dark"),
        Meta(
            name="htmx-config",
            content=json.dumps(HTMX_CONFIG),
        ),
        Script(src="/static/htmx.min.js", defer=True),
        Link(rel="stylesheet", href="/static/pico.min.css"),
        Link(rel="stylesheet", href="/static/app.css"),
        Link(rel="icon", href="/static/favicon.svg", type="image/svg+xml"),
    ]


def ErrorPage(req: Request, status: int, heading: str, message: str):
    return Page(
        req,
        heading,
        Div(
            Header(f"{status}", cls="error-code"),
            Strong(heading),
            Div(message),
            A("Back to the home page", href="/", role="button", cls="secondary"),
            cls="error-page",
        ),
    )
