"""The development outbox: email the app "sent" while no SMTP server is configured.

Registered only outside production (see app/routes/__init__.py). Each signed-in person sees
only mail sent to them or from their current workspace: an invitation link is a way into a
workspace, so another workspace's mail is not found (404). A message's HTML part is
never put into our page: it is served on its own address with a CSP `sandbox`, so it runs
no script and gets a unique origin, and the page shows it in an iframe.
"""

from __future__ import annotations

import re

from fasthtml.common import (
    A,
    APIRouter,
    Dd,
    Details,
    Dl,
    Dt,
    Iframe,
    Nav,
    P,
    Pre,
    Small,
    Span,
    Summary,
    Tr,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.lib.email import Outbox, OutboxMessage, outbox_for
from app.ui.kit import Button, Card, Cell, EmptyState, PageHeader, Table
from app.ui.layout import Page
from tenants.catalog import Auth

rt = APIRouter()
PAGE_SIZE = 25
# The message's own styles may apply inside the frame; scripts, forms, fonts and
# connections may not, and only our own pages may frame it.
MESSAGE_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'"
)


def _outbox(req: Request) -> Outbox:
    return outbox_for(req.app.state.settings)


def _visible(message: OutboxMessage, auth: Auth) -> bool:
    workspace = auth.tenant_id if auth.role is not None else None  # still a member of it
    return message.visible_to(auth.email, workspace)


def _message(req: Request, auth: Auth, message_id: str) -> OutboxMessage:
    message = _outbox(req).get(message_id)  # None for anything but a real message's id
    if message is None or not _visible(message, auth):
        raise HTTPException(404, "There is no such message in the outbox.")
    return message


def _page_number(raw: str, pages: int) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= pages:
        raise HTTPException(404, "There is no such page.")
    return int(raw)


def MessageRow(message: OutboxMessage):
    subject = message.subject or "(no subject)"
    return Tr(
        Cell(Small(message.date), label="Date", cls="nowrap"),
        Cell(Span(message.to, cls="truncate"), label="To"),
        Cell(
            A(subject, href=f"/dev/outbox/{message.id}", cls="truncate", title=subject),
            label="Subject",
        ),
    )


def Pager(page: int, pages: int):
    if pages <= 1:
        return ""
    newer = (
        Button("← Newer", href=f"/dev/outbox?page={page - 1}", variant="outline", size="sm")
        if page > 1
        else Span()
    )
    older = (
        Button("Older →", href=f"/dev/outbox?page={page + 1}", variant="outline", size="sm")
        if page < pages
        else Span()
    )
    return Nav(
        newer, Small(f"Page {page} of {pages}", cls="muted"), older, aria_label="Pages", cls="pager"
    )


def HeaderTable(message: OutboxMessage):
    rows = [
        ("From", message.sender),
        ("To", message.to),
        ("Date", message.date),
        ("Message-ID", message.message_id),
    ]
    return Dl(*[part for name, value in rows for part in (Dt(name), Dd(value))], cls="kv")


@rt.get("/dev/outbox")
def outbox_index(req: Request, auth, page: str = "1"):
    outbox = _outbox(req)
    mine = [m for i in outbox.ids() if (m := outbox.get(i)) is not None and _visible(m, auth)]
    pages = max(1, -(-len(mine) // PAGE_SIZE))
    number = _page_number(page, pages)
    shown = mine[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    header = PageHeader(
        "Outbox",
        "Email the app sent in development without an SMTP server, newest first: what was "
        "sent to you or from your current workspace. Each message is also a file in "
        f"{outbox.directory} that any mail client can open.",
    )
    if not mine:
        return Page(
            req,
            "Outbox",
            header,
            EmptyState(
                "No messages yet",
                "Invite a teammate and the invitation lands here.",
                action=Button("Invite someone", href="/settings/team", variant="outline"),
                icon="mail",
            ),
        )
    return Page(
        req,
        "Outbox",
        header,
        Card(
            Table(("Date", "To", "Subject"), *[MessageRow(m) for m in shown], stack=True),
            flush=True,
        ),
        Pager(number, pages),
    )


@rt.get("/dev/outbox/{message_id}")
def outbox_message(req: Request, auth, message_id: str):
    message = _message(req, auth, message_id)
    return Page(
        req,
        message.subject or "Message",
        PageHeader(message.subject or "(no subject)", "", back=("Outbox", "/dev/outbox")),
        Card(HeaderTable(message)),
        Iframe(
            src=f"/dev/outbox/{message.id}/html",
            sandbox="",
            title="The message's HTML part",
            height="640",
            cls="wide",
        )
        if message.html
        else P("This message has no HTML part.", cls="muted"),
        Details(Summary("Plain-text part"), Pre(message.text), cls="disclosure"),
    )


@rt.get("/dev/outbox/{message_id}/html")
def outbox_message_html(req: Request, auth, message_id: str):
    message = _message(req, auth, message_id)
    return Response(
        message.html,
        media_type="text/html",
        # Replaces the app's CSP and DENY, which would stop our own page framing it.
        headers={"content-security-policy": MESSAGE_CSP, "x-frame-options": "SAMEORIGIN"},
    )
