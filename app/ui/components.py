"""Small components shared by several areas: forms that change state, toasts, times and the
settings tabs. Area-specific components live with their routes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fasthtml.common import A, Button, Div, Form, Hidden, Li, Nav, NotStr, Small, Time, Ul, to_xml
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
