"""The dashboard: who you are, your workspace, recent activity and notes.

Notes are the example of tenant data: they live in the tenant's own database (`auth.db`),
so a note id from another tenant simply does not exist here.
"""

from __future__ import annotations

from fasthtml.common import (
    H1,
    H2,
    APIRouter,
    Article,
    Button,
    Div,
    Form,
    Input,
    Li,
    P,
    Small,
    Ul,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import Toasts
from app.ui.layout import Page
from tenants.stamp import new_id, now

rt = APIRouter()
NOTE_MAX = 2000


def ActivityList(events: list[dict]):
    if not events:
        return P("Nothing yet.", cls="muted")
    return Ul(
        *[
            Li(
                Small(e["at"][:16].replace("T", " ")),
                " ",
                e["action"],
                " ",
                Small(e["actor"] or ""),
            )
            for e in events
        ],
        cls="activity",
    )


def NoteItem(note: dict):
    return Li(
        note["body"],
        Button(
            "Delete",
            hx_delete=f"/notes/{note['id']}",
            hx_target="closest li",
            hx_swap="outerHTML",
            cls="secondary outline small",
        ),
        id=f"note-{note['id']}",
    )


def NoteForm(error: str = ""):
    return Form(
        Input(
            name="body",
            placeholder="Write a note",
            required=True,
            maxlength=NOTE_MAX,
            aria_invalid="true" if error else None,
        ),
        Small(error, cls="error") if error else "",
        Button("Add note", type="submit"),
        hx_post="/notes",
        hx_target="#notes",
        hx_swap="afterbegin",
        id="note-form",
        cls="inline-form",
    )


def NoteList(auth):
    notes = auth.db.q("SELECT id, body FROM notes ORDER BY created_at DESC, id LIMIT 20")
    return Ul(*[NoteItem(n) for n in notes], id="notes")


@rt.get("/dashboard")
def dashboard(req: Request, auth):
    catalog = req.app.state.catalog
    return Page(
        req,
        "Dashboard",
        H1(auth.tenant_name),
        P(
            f"Signed in as {auth.name or auth.email} ({auth.email}) · role: {auth.role} · "
            f"plan: {auth.plan_tier}"
        ),
        Div(
            Article(H2("Notes"), NoteForm(), NoteList(auth)),
            Article(H2("Recent activity"), ActivityList(catalog.recent_audit(auth.tenant_id))),
            cls="grid",
        ),
    )


@rt.get("/notes")
def notes(auth):
    """The latest notes as a fragment (for refreshing the list without a page load)."""
    return NoteList(auth)


@rt.post("/notes")
def add_note(req: Request, auth, body: str = ""):
    body = body.strip()
    if not body or len(body) > NOTE_MAX:
        error = "Write something first." if not body else f"Keep it under {NOTE_MAX} characters."
        return NoteForm(error=error)(hx_swap_oob="true")
    note = {"id": new_id(), "body": body, "author_id": auth.user_id, "created_at": now()}
    auth.db.t.notes.insert(note)
    return NoteItem(note), NoteForm()(hx_swap_oob="true"), Toasts("Note added.")


@rt.delete("/notes/{note_id}")
def delete_note(auth, note_id: str):
    deleted = auth.db.q("DELETE FROM notes WHERE id = :id RETURNING id", id=note_id)
    if not deleted:
        raise HTTPException(404)
    return "", Toasts("Note deleted.")
