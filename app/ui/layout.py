"""The page layout: head tags, navigation, footer and error pages. Pico CSS does most of the styling."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from fasthtml.common import (
    A,
    Body,
    Button,
    Details,
    Div,
    Footer,
    Form,
    Header,
    Hidden,
    Img,
    Li,
    Link,
    Main,
    Meta,
    Nav,
    NotStr,
    Safe,
    Script,
    Small,
    Strong,
    Summary,
    Title,
    Ul,
    to_xml,
)
from starlette.requests import Request

from app.ui.components import Toasts
from app.web.operators import is_superuser
from app.web.permissions import can
from app.web.security import CSRF_FIELD, csrf_token

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


def UserMenu(shell: Shell):
    if shell.email is None:
        # Public pages do not look the session up; a session cookie is enough to offer the way in.
        label = "Open dashboard" if shell.has_session else "Sign in"
        href = "/dashboard" if shell.has_session else "/login"
        return Ul(Li(A(label, href=href, role="button")))
    avatar = Img(src=shell.avatar_url, alt="", cls="avatar") if shell.avatar_url else ""
    return Ul(
        *[Li(A(label, href=href)) for label, href in shell.nav],
        Li(A(avatar, Small(shell.email), href="/account")),
        Li(
            Form(
                Hidden(name=CSRF_FIELD, value=shell.csrf),
                Button("Sign out", type="submit", cls="secondary outline"),
                method="post",
                action="/logout",
            )
        ),
    )


def TenantSwitcher(shell: Shell):
    """The current workspace, and the others to switch to. Its id lets an answer replace it
    out of band (after a rename)."""
    return Details(
        Summary(shell.tenant_name or "Workspaces"),
        Ul(
            *[
                Li(
                    Form(
                        Hidden(name=CSRF_FIELD, value=shell.csrf),
                        Button(name, type="submit", cls="outline"),
                        method="post",
                        action=f"/tenants/{tenant_id}/switch",
                    )
                )
                for tenant_id, name in shell.others
            ],
            Li(A("All workspaces", href="/tenants")),
        ),
        cls="dropdown",
        id="tenant-switcher",
    )


def ImpersonationBanner(shell: Shell):
    """On every page of an impersonation: whose session it is, until when, and the way out."""
    return Div(
        Strong("Support access: "),
        f"you are acting as {shell.email} (ends {shell.impersonating_until} UTC). ",
        Form(
            Hidden(name=CSRF_FIELD, value=shell.csrf),
            Button("Stop impersonating", type="submit", cls="secondary small"),
            method="post",
            action="/impersonation/stop",
            cls="inline-form",
        ),
        cls="impersonation-banner",
        role="alert",
    )


def SiteNav(shell: Shell):
    return Nav(
        Ul(
            Li(A(Strong(APP_NAME), href="/")),
            Li(TenantSwitcher(shell)) if shell.email is not None else "",
            Li(A("Blog", href="/blog")),
        ),
        UserMenu(shell),
    )


@dataclass(frozen=True)
class Shell:
    """Everything the page around the content depends on. Pages with the same shell share
    one rendering of it (see `Page`)."""

    has_session: bool
    csrf: str | None = None  # only signed-in pages carry one (htmx sends it on every request)
    email: str | None = None
    avatar_url: str = ""
    tenant_name: str | None = None
    others: tuple[tuple[str, str], ...] = ()  # (tenant id, name) of the other workspaces
    nav: tuple[tuple[str, str], ...] = ()  # (label, href)
    impersonating_until: str | None = None  # an operator acting as this person, until then


def shell_of(req: Request) -> Shell:
    auth = req.scope.get("auth")
    session = req.scope.get("session", {})
    if auth is None:
        return Shell(has_session="sid" in session)
    others = tuple(
        (m["id"], m["name"])
        for m in req.app.state.catalog.memberships(auth.user_id)
        if m["id"] != auth.tenant_id
    )
    nav = [("Dashboard", "/dashboard"), ("Members", "/members")]
    if can(auth, "audit", "view"):
        nav.append(("Audit", "/audit"))
    nav.append(("Settings", "/settings"))
    if is_superuser(req.app.state.settings, auth):
        nav.append(("Admin", "/admin"))
    return Shell(
        has_session=True,
        csrf=csrf_token(req),
        email=auth.email,
        avatar_url=auth.avatar_url,
        tenant_name=auth.tenant_name,
        others=others,
        nav=tuple(nav),
        impersonating_until=auth.expires_at[11:16] if auth.impersonator_id else None,
    )


_CONTENT = "\x00content\x00"
_HEAD = "".join(to_xml(tag) for tag in StaticHeaders())


@functools.lru_cache(maxsize=4096)
def _around(shell: Shell) -> tuple[str, str]:
    """The body of a page with `shell`, rendered once: (before the content, after it)."""
    body = Body(
        ImpersonationBanner(shell) if shell.impersonating_until else "",
        Header(SiteNav(shell), cls="container"),
        Main(NotStr(_CONTENT), cls="container"),
        Footer(Small(f"{APP_NAME} · built with FastHTML"), cls="container"),
        Toasts(),
        # htmx copies this header onto every request it makes: that is our CSRF token.
        # Visitors get none (public pages make no htmx writes), so public pages set no cookie.
        hx_headers=json.dumps({"X-CSRF-Token": shell.csrf}) if shell.csrf else None,
    )
    before, after = to_xml(body).split(_CONTENT)
    return before, after + "</html>"


class Document(Safe):
    """A whole page, already HTML. FastHTML sends it as it is, also inside an FtResponse
    (which looks for an `html` tag to tell a page from a fragment)."""

    tag = "html"


def Page(
    req: Request,
    title: str,
    *content: Any,
    description: str = "",
    head: tuple = (),
) -> Document:
    """A full page: head tags, navigation, content, footer. Handlers return this for GETs.

    The parts every page shares are rendered once (the head's static tags at import, the
    body around the content once per shell: who, which workspace, which menu), so a page
    costs its own content plus a few string joins.
    """
    before, after = _around(shell_of(req))
    title_tag = Title(f"{title} · {APP_NAME}" if title != APP_NAME else APP_NAME)
    meta = Meta(name="description", content=description or f"{APP_NAME}: {title}")
    own_head = to_xml((title_tag, meta, *head))
    return Document(
        f"<!doctype html><html><head>{_HEAD}{own_head}</head>{before}{to_xml(content)}{after}"
    )


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
