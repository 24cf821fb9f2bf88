"""The page around the content: head tags, the app shell (sidebar, workspace switcher, user
menu), the public site's header and footer, the sign-in layout, and error pages.

The look is static/app.css (our own design system: app/ui/kit.py has its components).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from fasthtml.common import (
    H1,
    H2,
    A,
    Aside,
    Body,
    Div,
    Footer,
    Form,
    Header,
    Hidden,
    Li,
    Link,
    Main,
    Meta,
    Nav,
    NotStr,
    P,
    Safe,
    Script,
    Small,
    Span,
    Strong,
    Ul,
    to_xml,
)
from starlette.requests import Request

from app.billing.state import notice
from app.ui.icons import Icon
from app.ui.kit import Avatar, Button, Callout, ConfirmDialog, Dropdown, MenuItem
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
THEMES = (("system", "monitor", "System"), ("light", "sun", "Light"), ("dark", "moon", "Dark"))


def StaticHeaders() -> list:
    """Everything the <head> loads, all from /static: no CDN at run time.

    theme.js runs before the page paints (so a remembered dark theme never flashes light);
    the rest is deferred. Pages add these themselves rather than through the app's `hdrs`,
    which FastHTML deep-copies on every request, pages or not.
    """
    return [
        Meta(charset="utf-8"),
        Meta(name="viewport", content="width=device-width, initial-scale=1"),
        Meta(name="color-scheme", content="light dark"),
        Meta(name="htmx-config", content=json.dumps(HTMX_CONFIG)),
        Script(src="/static/theme.js"),
        Link(rel="stylesheet", href="/static/app.css"),
        Script(src="/static/htmx.min.js", defer=True),
        Script(src="/static/ui.js", defer=True),
        Link(rel="icon", href="/static/favicon.svg", type="image/svg+xml"),
    ]


@dataclass(frozen=True)
class Shell:
    """Everything the page around the content depends on. Pages with the same shell share
    one rendering of it (see `Page`)."""

    has_session: bool
    csrf: str | None = None  # only signed-in pages carry one (htmx sends it on every request)
    email: str | None = None
    name: str = ""
    avatar_url: str = ""
    tenant_name: str | None = None
    role: str | None = None
    others: tuple[tuple[str, str], ...] = ()  # (tenant id, name) of the other workspaces
    nav: tuple[tuple[str, str, str], ...] = ()  # (label, href, icon)
    tools: tuple[tuple[str, str, str], ...] = ()  # development-only pages, same shape
    notice: tuple[str, str] | None = None  # a banner on every page: (text, link), e.g. billing
    impersonating_until: str | None = None  # an operator acting as this person, until then


# -- pieces of the shell ------------------------------------------------------------------


def ImpersonationBanner(shell: Shell):
    """On every page of an impersonation: whose session it is, until when, and the way out."""
    return Div(
        Icon("shield"),
        Span(
            Strong("Support access: "),
            f"you are acting as {shell.email} (ends {shell.impersonating_until} UTC).",
        ),
        Form(
            Hidden(name=CSRF_FIELD, value=shell.csrf),
            Button("Stop impersonating", type="submit", variant="secondary", size="sm"),
            method="post",
            action="/impersonation/stop",
        ),
        cls="impersonation-banner",
        role="alert",
    )


def Brand(href: str = "/"):
    return A(Span(Icon("bolt"), cls="brand-mark"), APP_NAME, href=href, cls="brand")


def ThemeButtons():
    """System, light or dark: static/ui.js remembers the choice, static/theme.js applies it."""
    return Div(
        *[
            Button(
                Icon(icon),
                Span(label),
                variant="ghost",
                size="sm",
                data_theme_set=value,
                aria_pressed="true" if value == "system" else "false",
            )
            for value, icon, label in THEMES
        ],
        cls="segmented",
        role="group",
        aria_label="Theme",
    )


def SignOutForm(shell: Shell, *content, **attrs):
    return Form(
        Hidden(name=CSRF_FIELD, value=shell.csrf),
        *content,
        method="post",
        action="/logout",
        **attrs,
    )


def UserMenu(shell: Shell):
    """The person: avatar or initials, and Account, Workspaces, theme and Sign out."""
    name = shell.name or (shell.email or "").split("@")[0]
    return Dropdown(
        (
            Avatar(shell.name, shell.email or "", shell.avatar_url),
            Span(Strong(name), Small(shell.email), cls="user-name"),
            Icon("chevrons"),
        ),
        P(shell.email, cls="menu-label truncate"),
        MenuItem("Account", href="/account", icon="user"),
        MenuItem("Workspaces", href="/tenants", icon="workspace"),
        Div(cls="menu-sep"),
        P("Theme", cls="menu-label"),
        ThemeButtons(),
        Div(cls="menu-sep"),
        SignOutForm(shell, MenuItem("Sign out", icon="logout")),
        label=f"Account menu for {shell.email}",
        up=True,
        cls="user-menu",
    )


def TenantSwitcher(shell: Shell):
    """The current workspace, and the others to switch to. Its id lets an answer replace it
    out of band (after a rename)."""
    name = shell.tenant_name or "No workspace"
    switch_to = [
        Form(
            Hidden(name=CSRF_FIELD, value=shell.csrf),
            MenuItem(Span(other[:1], cls="workspace-mark avatar-sm"), Span(other, cls="truncate")),
            method="post",
            action=f"/tenants/{tenant_id}/switch",
        )
        for tenant_id, other in shell.others
    ]
    return Dropdown(
        (
            Span(name[:1], cls="workspace-mark", aria_hidden="true"),
            Span(
                Strong(name),
                Small((shell.role or "").capitalize() or "Choose one"),
                cls="switcher-name",
            ),
            Icon("chevrons"),
        ),
        P("Switch workspace", cls="menu-label") if switch_to else "",
        *switch_to,
        Div(cls="menu-sep") if switch_to else "",
        MenuItem("All workspaces", href="/tenants", icon="workspace"),
        MenuItem("Create a workspace", href="/tenants#create", icon="plus"),
        label=f"Workspace: {name}. Switch workspace",
        cls="switcher",
        id="tenant-switcher",
    )


def NavList(items: tuple[tuple[str, str, str], ...]):
    return Ul(
        *[Li(A(Icon(icon), label, href=href, cls="nav-link")) for label, href, icon in items],
        cls="nav",
    )


HELP_LINKS = (("Guides", "/blog", "book"),)


def Sidebar(shell: Shell):
    return Aside(
        Div(
            Brand("/dashboard"),
            Button(
                Icon("close"),
                variant="ghost",
                size="icon-sm",
                cls="sidebar-close",
                aria_label="Close menu",
                data_sidebar_close=True,
            ),
            cls="sidebar-head",
        ),
        TenantSwitcher(shell),
        Nav(
            NavList(shell.nav),
            *((P("Developer", cls="nav-heading"), NavList(shell.tools)) if shell.tools else ()),
            P("Help", cls="nav-heading"),
            NavList(HELP_LINKS),
            aria_label="Main",
        ),
        Div(UserMenu(shell), cls="sidebar-foot"),
        id="sidebar",
        cls="sidebar",
    )


def TopBar(shell: Shell):
    """Phones and narrow windows: the menu button, the brand, the person."""
    return Header(
        Button(
            Icon("menu"),
            variant="ghost",
            size="icon",
            aria_label="Open menu",
            aria_controls="sidebar",
            aria_expanded="false",
            data_sidebar_toggle=True,
        ),
        Brand("/dashboard"),
        A(
            Avatar(shell.name, shell.email or "", shell.avatar_url, size="sm"),
            href="/account",
            cls="btn btn-ghost btn-icon",
            aria_label="Your account",
        ),
        cls="topbar",
    )


PUBLIC_LINKS = (
    ("Features", "/#features"),
    ("Pricing", "/#pricing"),
    ("FAQ", "/#faq"),
    ("Blog", "/blog"),
)


def SiteHeader(shell: Shell):
    theme = Dropdown(
        Icon("sun"),
        P("Theme", cls="menu-label"),
        ThemeButtons(),
        label="Theme",
        align="end",
        cls="icon-menu",
    )
    if shell.has_session:  # public pages do not look the session up: a cookie is enough
        actions: tuple = (Button("Open dashboard", href="/dashboard", size="sm"),)
    else:
        actions = (
            Button("Sign in", href="/login", variant="ghost", size="sm"),
            Button("Get started", href="/login", size="sm"),
        )
    return Header(
        Div(
            Brand("/"),
            Nav(
                *[A(label, href=href) for label, href in PUBLIC_LINKS],
                cls="site-nav",
                aria_label="Site",
            ),
            Div(theme, *actions, cls="site-actions"),
            cls="inner",
        ),
        cls="site-header",
    )


FOOTER_LINKS = (
    ("Product", (("Features", "/#features"), ("Pricing", "/#pricing"), ("FAQ", "/#faq"))),
    (
        "Guides",
        (
            ("Getting started", "/blog/getting-started"),
            ("Architecture", "/blog/architecture"),
            ("Deploying", "/blog/deploying"),
        ),
    ),
    ("More", (("Blog", "/blog"), ("RSS feed", "/rss.xml"), ("Sign in", "/login"))),
)


def SiteFooter():
    return Footer(
        Div(
            Div(
                Div(
                    Brand("/"),
                    P("The multi-tenant SaaS starter for Python developers.", cls="muted"),
                ),
                *[
                    Nav(
                        H2(title),
                        Ul(*[Li(A(label, href=href)) for label, href in links]),
                        aria_label=title,
                    )
                    for title, links in FOOTER_LINKS
                ],
                cls="footer-grid",
            ),
            Div(
                Small(f"© {datetime.now(UTC).year} {APP_NAME} · built with FastHTML"),
                ThemeButtons(),
                cls="footer-bottom",
            ),
            cls="inner",
        ),
        cls="site-footer",
    )


# -- the shell, rendered once per Shell ---------------------------------------------------

CHROMES = ("app", "site", "auth")


def nav_items(req: Request, auth) -> tuple[tuple[str, str, str], ...]:
    if auth.tenant_id is None:
        return (("Workspaces", "/tenants", "workspace"), ("Account", "/account", "user"))
    items = [
        ("Dashboard", "/dashboard", "dashboard"),
        ("Notes", "/notes", "notes"),
        ("Jobs", "/jobs", "jobs"),
        ("Sync", "/sync", "sync"),
        ("Members", "/members", "members"),
    ]
    if can(auth, "audit", "view"):
        items.append(("Audit", "/audit", "audit"))
    items.append(("Settings", "/settings", "settings"))
    if is_superuser(req.app.state.settings, auth):
        items.append(("Admin", "/admin", "shield"))
    return tuple(items)


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
    tools: tuple[tuple[str, str, str], ...] = ()
    if not req.app.state.settings.is_production:  # these pages exist only outside production
        tools = (("Outbox", "/dev/outbox", "mail"),)
    if req.app.state.demo:
        tools = (("Demo", "/demo", "demo"), *tools)
    return Shell(
        has_session=True,
        csrf=csrf_token(req),
        email=auth.email,
        name=auth.name or "",
        avatar_url=auth.avatar_url,
        tenant_name=auth.tenant_name,
        role=auth.role,
        others=others,
        nav=nav_items(req, auth),
        tools=tools if auth.tenant_id is not None else (),
        notice=notice(auth),
        impersonating_until=auth.expires_at[11:16] if auth.impersonator_id else None,
    )


_CONTENT = "\x00content\x00"
_HEAD = "".join(to_xml(tag) for tag in StaticHeaders())


def Notice(notice: tuple[str, str]):
    """What every page of the workspace says while a payment has failed (app/billing/state)."""
    text, href = notice
    return Div(
        Callout(text, " ", A("Open billing", href=href), tone="warning", icon="alert-circle"),
        cls="notice-bar",
        role="alert",
    )


def _frame(shell: Shell, chrome: str):
    content = NotStr(_CONTENT)
    if chrome == "auth":
        return (Main(content, id="content", cls="auth-page"),)
    if chrome == "site":
        return (
            A("Skip to content", href="#content", cls="skip-link btn"),
            SiteHeader(shell),
            Main(content, id="content", cls="site-main"),
            SiteFooter(),
        )
    return (
        A("Skip to content", href="#content", cls="skip-link btn"),
        Div(
            Sidebar(shell),
            Div(cls="backdrop", data_sidebar_close=True),
            Div(
                TopBar(shell),
                Notice(shell.notice) if shell.notice else "",
                Main(content, id="content", cls="content"),
                cls="main",
            ),
            cls="app",
        ),
    )


@functools.lru_cache(maxsize=4096)
def _around(shell: Shell, chrome: str) -> tuple[str, str]:
    """The body of a page with `shell`, rendered once: (before the content, after it)."""
    body = Body(
        ImpersonationBanner(shell) if shell.impersonating_until else "",
        *_frame(shell, chrome),
        Div(id="toasts"),
        ConfirmDialog(),
        # htmx copies this header onto every request it makes: that is our CSRF token.
        # Visitors get none (public pages make no htmx writes), so public pages set no cookie.
        hx_headers=json.dumps({"X-CSRF-Token": shell.csrf}) if shell.csrf else None,
    )
    before, after = to_xml(body).split(_CONTENT)
    return before, after + "</html>"


def _current(shell: Shell, path: str) -> str:
    """The href of the sidebar entry the page at `path` belongs to ("" for none)."""
    best = ""
    for _, href, _ in (*shell.nav, *shell.tools):
        if (path == href or path.startswith(href + "/")) and len(href) > len(best):
            best = href
    if not best and path.startswith("/tenant/"):  # deleting the workspace is a setting
        best = "/settings"
    return best


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
    chrome: str = "",
) -> Document:
    """A full page: head tags, the shell, content. Handlers return this for GETs.

    `chrome` is "app" (the sidebar; the default for signed-in pages), "site" (the public
    header and footer; the default for everyone else) or "auth" (a centred card alone).
    The parts every page shares are rendered once (the head's static tags at import, the
    body around the content once per shell and chrome), so a page costs its own content, a
    few string joins and marking the current sidebar entry.
    """
    shell = shell_of(req)
    chrome = chrome or ("app" if shell.email is not None else "site")
    before, after = _around(shell, chrome)
    if chrome == "app" and (current := _current(shell, req.url.path)):
        link = f'<a href="{current}" class="nav-link">'
        before = before.replace(link, link[:-1] + ' aria-current="page">', 1)
    # Two tags as strings: built as FT they were a third of a small page's cost.
    full_title = f"{title} · {APP_NAME}" if title != APP_NAME else APP_NAME
    own_head = (
        f"<title>{escape(full_title)}</title>"
        f'<meta name="description" content="{escape(description or f"{APP_NAME}: {title}")}">'
        f"{to_xml(head) if head else ''}"
    )
    return Document(
        f'<!doctype html><html lang="en"><head>{_HEAD}{own_head}</head>'
        f"{before}{to_xml(content)}{after}"
    )


def SignInPage(req: Request, *body: Any) -> Document:
    """The sign-in page: a centred card on its own, no site navigation to wander off to."""
    card = Div(
        Brand("/"),
        H1("Sign in"),
        P(f"Welcome to {APP_NAME}. Sign in to open your workspace.", cls="lead"),
        *body,
        P(
            A("Home", href="/"),
            " · ",
            A("Getting started", href="/blog/getting-started"),
            cls="auth-foot",
        ),
        cls="card auth-card",
    )
    return Page(req, "Sign in", card, chrome="auth")


def ErrorPage(req: Request, status: int, heading: str, message: str):
    signed_in = req.scope.get("auth") is not None
    home = ("Back to the dashboard", "/dashboard") if signed_in else ("Back to the home page", "/")
    body = Div(
        Div(str(status), cls="error-code", aria_hidden="true"),
        H1(heading),
        P(message, cls="muted"),
        Button(home[0], href=home[1], variant="outline"),
        cls="error-page",
    )
    return Page(req, heading, body if signed_in else Div(body, cls="container"))
