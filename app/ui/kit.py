"""The design system's components. Build every page from these; the look is in
static/app.css (one class per component) and the behaviour in static/ui.js.

    PageHeader("Members", "The people of Acme.", Button("Invite", href="/settings/team"))
    Card(Table(("Person", "Role"), *rows, stack=True), title="Members")
    Field("Email", Input(name="email", value=typed), error=problem)
    Button("Remove", variant="danger-outline", size="sm", hx_post=path,
           **confirming("Remove ada@example.com?", action="Remove"))
    EmptyState("No notes yet", "Write the first one above.", action=Button(...))
    Toasts("Note added.")                      # from an HTMX handler: swaps in out of band
    StatusBadge("job", job["status"])          # job, sync, invitation, subscription, role

Components are small functions returning FT. Where a page many requests share would pay
for the same markup again and again, wrap the component that uses these in `rendered_once`
(app/ui/components.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, tzinfo
from typing import Any

from fasthtml.common import (
    H1,
    H2,
    A,
    Caption,
    Details,
    Dialog,
    Div,
    Form,
    Img,
    Label,
    Nav,
    P,
    Span,
    Summary,
    Tbody,
    Td,
    Th,
    Thead,
    Time,
    Tr,
)
from fasthtml.common import (
    Button as HtmlButton,
)
from fasthtml.common import (
    Table as HtmlTable,
)

from app.ui.icons import Icon
from app.ui.time import exact, moment, relative

__all__ = [
    "Avatar",
    "Badge",
    "Button",
    "Callout",
    "Card",
    "Cell",
    "ConfirmDialog",
    "Dropdown",
    "EmptyState",
    "Field",
    "MenuItem",
    "PageHeader",
    "StatCard",
    "StatusBadge",
    "Table",
    "Tabs",
    "Toast",
    "Toasts",
    "When",
    "confirming",
    "initials",
]

VARIANTS = ("primary", "secondary", "outline", "ghost", "danger", "danger-outline", "link")
SIZES = ("sm", "md", "lg", "icon", "icon-sm")
TONES = ("neutral", "success", "warning", "danger", "info", "primary")


def _classes(*names: str | None) -> str:
    return " ".join(n for n in names if n)


# -- actions ------------------------------------------------------------------------------


def Button(
    *content: Any,
    variant: str = "primary",
    size: str = "md",
    href: str | None = None,
    icon: str | None = None,
    cls: str = "",
    **attrs: Any,
):
    """A button, or with `href` a link that looks like one (still a link to assistive tech).

    Variants: primary, secondary, outline, ghost, danger, danger-outline, link. Sizes: sm,
    md, lg, icon (square; give it an aria_label). Inside an htmx request the button is busy
    and refuses a second click (static/ui.js).
    """
    if variant not in VARIANTS or size not in SIZES:
        raise ValueError(f"unknown button variant or size: {variant}, {size}")
    sizes = {"md": None, "icon-sm": "btn-icon btn-sm"}
    classes = _classes(
        "btn",
        f"btn-{variant}" if variant != "primary" else None,
        sizes.get(size, f"btn-{size}"),
        cls,
    )
    body = (Icon(icon), *content) if icon else content
    if href is not None:
        return A(*body, href=href, cls=classes, **attrs)
    attrs.setdefault("type", "button")  # a form's own button says type="submit"
    return HtmlButton(*body, cls=classes, **attrs)


def PanelAction(label: str, path: str, panel: str, **attrs: Any):
    """A small outline button that posts to `path` and swaps the panel it acts on, the row
    actions of the team, invitation and webhook panels."""
    return Button(
        label,
        hx_post=path,
        hx_target=panel,
        hx_swap="outerHTML",
        variant="outline",
        size="sm",
        **attrs,
    )


def confirming(
    question: str, *, title: str = "", action: str = "Confirm", tone: str = "danger"
) -> dict[str, str]:
    """Attributes that make an htmx request (or, on a plain <form>, its submission) ask first,
    in the page's dialog (ConfirmDialog), never the browser's confirm()."""
    return {
        "hx_confirm": question,
        "data_confirm": question,
        "data_confirm_title": title or "Are you sure?",
        "data_confirm_action": action,
        "data_confirm_tone": tone,
    }


def ConfirmDialog():
    """The one confirmation dialog of a page (in the shell); static/ui.js fills it in for
    whatever asks (`confirming`). Esc or Cancel backs out; focus starts on Cancel."""
    return Dialog(
        Form(
            H2("Are you sure?", id="confirm-title", data_confirm_title=True),
            P(id="confirm-text", data_confirm_text=True),
            Div(
                HtmlButton(
                    "Cancel", value="cancel", cls="btn btn-outline", data_confirm_cancel=True
                ),
                HtmlButton(
                    "Confirm", value="accept", cls="btn btn-danger", data_confirm_accept=True
                ),
                cls="dialog-actions",
            ),
            method="dialog",
        ),
        id="confirm-dialog",
        aria_labelledby="confirm-title",
        aria_describedby="confirm-text",
    )


# -- surfaces -----------------------------------------------------------------------------


def PageHeader(
    title: str, description: Any = "", *actions: Any, back: tuple[str, str] | None = None
):
    """The page's title (its one H1), a line about it, and its main actions on the right."""
    return Div(
        Div(
            A(Icon("arrow-left"), back[0], href=back[1], cls="back") if back else "",
            H1(title),
            P(description) if description else "",
        ),
        Div(*actions, cls="btn-group") if actions else "",
        cls="page-header",
    )


def Card(
    *content: Any,
    title: str = "",
    description: Any = "",
    actions: Sequence[Any] = (),
    footer: Any = None,
    tone: str = "",
    flush: bool = False,
    cls: str = "",
    **attrs: Any,
):
    """A bordered surface with an optional header (title, description, actions) and footer.
    `flush` lets a table run edge to edge; `tone="danger"` marks destructive settings."""
    header = (
        Div(
            Div(
                H2(title, cls="card-title"),
                P(description, cls="card-description") if description else "",
            ),
            Div(*actions, cls="btn-group") if actions else "",
            cls="card-header",
        )
        if title
        else ""
    )
    return Div(
        header,
        *content,
        Div(footer, cls="card-footer") if footer is not None else "",
        cls=_classes(
            "card", "card-flush" if flush else None, f"card-{tone}" if tone else None, cls
        ),
        **attrs,
    )


def StatCard(label: str, value: Any, href: str = "", detail: Any = "", icon: str = ""):
    """A number that matters, with what it is and where to see more."""
    return Div(
        Div(
            Span(label),
            Icon(icon) if icon else "",
            cls="stat-label",
        ),
        Div(str(value), cls="stat-value"),
        Div(detail, cls="stat-detail") if detail else "",
        A("View ", Span(label.lower(), cls="sr-only"), "→", href=href) if href else "",
        cls="card stat",
    )


def Callout(*content: Any, tone: str = "info", icon: str = ""):
    return Div(
        Icon(icon) if icon else "", Div(*content), cls=f"callout callout-{tone}", role="note"
    )


def EmptyState(title: str, text: Any = "", action: Any = None, icon: str = "inbox"):
    """What an empty list says instead of an empty table: what would be here, and how to
    get the first one."""
    return Div(
        Div(Icon(icon, large=True), cls="empty-icon"),
        P(title, cls="empty-title"),
        P(text) if text else "",
        action if action is not None else "",
        cls="empty",
    )


# -- status -------------------------------------------------------------------------------


def Badge(text: str, tone: str = "neutral", live: bool = False, dot: bool = True, **attrs: Any):
    if tone not in TONES:
        raise ValueError(f"unknown badge tone: {tone}")
    return Span(
        text,
        cls=_classes(
            "badge",
            f"badge-{tone}" if tone != "neutral" else None,
            "badge-live" if live else None,
            None if dot else "badge-plain",
        ),
        **attrs,
    )


# (label, tone, live) per state, per kind of thing.
STATES: dict[str, dict[str, tuple[str, str, bool]]] = {
    "job": {
        "pending": ("Queued", "neutral", False),
        "running": ("Running", "info", True),
        "completed": ("Completed", "success", False),
        "failed": ("Failed", "danger", False),
        "cancelled": ("Cancelled", "neutral", False),
    },
    "sync": {
        "idle": ("Never synced", "neutral", False),
        "syncing": ("Syncing", "info", True),
        "running": ("Interrupted", "warning", False),
        "succeeded": ("Synced", "success", False),
        "failed": ("Failed", "danger", False),
        "cancelled": ("Cancelled", "neutral", False),
    },
    "invitation": {
        "pending": ("Pending", "warning", False),
        "accepted": ("Accepted", "success", False),
        "revoked": ("Revoked", "neutral", False),
        "expired": ("Expired", "neutral", False),
    },
    "subscription": {
        "trialing": ("Trial", "info", False),
        "active": ("Active", "success", False),
        "past_due": ("Past due", "warning", False),
        "canceled": ("Cancelled", "neutral", False),
        "unpaid": ("Unpaid", "danger", False),
        "incomplete": ("Incomplete", "warning", False),
    },
    "delivery": {
        "received": ("Waiting", "info", True),
        "processed": ("Handled", "success", False),
        "ignored": ("Ignored", "neutral", False),
        "failed": ("Failed", "danger", False),
    },
    "email": {
        "sending": ("Sending", "info", True),
        "retrying": ("Retrying", "warning", True),
        "sent": ("Sent", "success", False),
        "failed": ("Failed", "danger", False),
    },
    "role": {
        "owner": ("Owner", "primary", False),
        "admin": ("Admin", "info", False),
        "member": ("Member", "neutral", False),
    },
}


def StatusBadge(kind: str, state: str):
    """A state as people say it ("Queued", "Synced", "Past due"), coloured by what it means."""
    label, tone, live = STATES[kind].get(
        state, (state.replace("_", " ").capitalize(), "neutral", False)
    )
    # data-state keeps the machine's word next to the person's (for scripts and tests).
    return Badge(label, tone, live=live, dot=kind != "role", data_state=state)


# -- people and times ---------------------------------------------------------------------


def initials(name: str, email: str = "") -> str:
    words = [w for w in (name or "").split() if w[:1].isalnum()]
    if len(words) >= 2:
        return (words[0][0] + words[-1][0]).upper()
    if words:
        return words[0][:2].upper()
    return (email[:1] or "?").upper()


def Avatar(name: str, email: str = "", url: str = "", size: str = "md"):
    """A photo where the provider gave one, the initials otherwise (decorative: the name is
    always written next to it)."""
    cls = _classes("avatar", f"avatar-{size}" if size != "md" else None)
    if url:
        return Img(src=url, alt="", cls=cls, referrerpolicy="no-referrer")
    return Span(initials(name, email), cls=cls, aria_hidden="true")


def When(stamp: str | None, where: tzinfo = UTC, relative_text: bool = True):
    """A stamp as "3 minutes ago" (or the exact time with `relative_text=False`), with the
    exact time in the workspace's timezone on hover."""
    found = moment(stamp)
    if found is None:
        return Span("—", cls="muted")
    full = exact(found, where)
    return Time(relative(found) if relative_text else full, datetime=stamp, title=full)


# -- tables -------------------------------------------------------------------------------


def Cell(*content: Any, label: str = "", cls: str = "", **attrs: Any):
    """A table cell; `label` names its column where rows stack on a phone."""
    return Td(*content, data_label=label or None, cls=cls or None, **attrs)


def Table(
    columns: Iterable[str | tuple[str, str]],
    *rows: Any,
    stack: bool = False,
    caption: str = "",
    body_id: str | None = None,
    **attrs: Any,
):
    """A table in a scrolling frame. `stack=True`: on a phone each row becomes a block and
    each cell shows its column's name (give cells a label with `Cell`). Columns are names, or
    (name, class) with classes like "num" or "actions"; a column of "" is for actions."""
    heads = []
    for column in columns:
        name, cls = column if isinstance(column, tuple) else (column, "")
        heads.append(Th(name or Span("Actions", cls="sr-only"), cls=cls or None, scope="col"))
    return Div(
        HtmlTable(
            Caption(caption, cls="sr-only") if caption else "",
            Thead(Tr(*heads)),
            Tbody(*rows, id=body_id),
            cls="table-stack" if stack else None,
        ),
        cls="table-wrap",
        **attrs,
    )


# -- navigation ---------------------------------------------------------------------------


def Tabs(items: Sequence[tuple[str, str]], current: str, label: str, danger: Iterable[str] = ()):
    """Links to sibling pages as tabs; `current` is the href of the page shown."""
    risky = set(danger)
    return Nav(
        *[
            A(
                text,
                href=href,
                aria_current="page" if href == current else None,
                cls="tab-danger" if href in risky else None,
            )
            for text, href in items
        ],
        cls="tabs",
        aria_label=label,
    )


def MenuItem(*content: Any, href: str | None = None, icon: str = "", **attrs: Any):
    """An entry of a Dropdown: a link, or (without href) a button, e.g. in a one-button form."""
    body = (Icon(icon), *content) if icon else content
    if href is not None:
        return A(*body, href=href, cls="menu-item", **attrs)
    attrs.setdefault("type", "submit")
    return HtmlButton(*body, cls="menu-item", **attrs)


def Dropdown(
    trigger: Any,
    *items: Any,
    label: str = "",
    align: str = "start",
    up: bool = False,
    cls: str = "",
    **attrs: Any,
):
    """A menu behind a button (<details>: works by keyboard without script; static/ui.js
    adds Esc, arrow keys and closing on a click elsewhere). `trigger` is what the button
    shows (a tuple for several parts)."""
    return Details(
        Summary(*(trigger if isinstance(trigger, tuple) else (trigger,)), aria_label=label or None),
        Div(
            *items,
            cls=_classes("menu", "menu-end" if align == "end" else None, "menu-up" if up else None),
        ),
        cls=_classes("dropdown", cls),
        **attrs,
    )


# -- forms --------------------------------------------------------------------------------


def Field(
    label: str,
    control: Any,
    error: str | None = None,
    hint: str = "",
    id: str = "",
    cls: str = "",
):
    """A visible label, the control, a hint, and the error right under it. The control keeps
    whatever value the caller gave it (on an error: what was typed)."""
    name = control.attrs.get("name", "field")
    control_id = id or control.attrs.get("id") or f"field-{name}"
    described = " ".join(
        part
        for part, present in ((f"{control_id}-hint", hint), (f"{control_id}-error", error))
        if present
    )
    control = control(
        id=control_id,
        aria_invalid="true" if error else None,
        aria_describedby=described or None,
    )
    return Div(
        Label(label, fr=control_id),
        control,
        P(hint, id=f"{control_id}-hint", cls="field-hint") if hint else "",
        P(error, id=f"{control_id}-error", cls="field-error", role="alert") if error else "",
        cls=_classes("field", cls),
    )


# -- feedback -----------------------------------------------------------------------------


def Toast(message: Any, kind: str = "ok", action: Any = None):
    """One notice in the corner: what just happened, an optional action (Undo), and a close
    button. It fades after a few seconds (longer for errors); hovering keeps it."""
    return Div(
        Span(Icon("alert-circle" if kind == "error" else "check-circle"), cls="toast-icon"),
        Span(message, cls="toast-message"),
        action if action is not None else "",
        HtmlButton(
            Icon("close"),
            type="button",
            cls="btn btn-ghost btn-icon btn-sm",
            aria_label="Dismiss",
            data_toast_close=True,
        ),
        cls=f"toast toast-{kind}",
        role="alert" if kind == "error" else "status",
    )


def Toasts(*messages: Any, kind: str = "ok", action: Any = None):
    """The toast area. Returned from an HTMX handler, it swaps out of band into the page."""
    return Div(
        *[Toast(m, kind, action) for m in messages],
        id="toasts",
        hx_swap_oob="true",
    )
