"""Notes: the example of tenant data. They live in the tenant's own database (`auth.db`),
so a note id from another tenant simply does not exist here.

`/notes` is the page; with `HX-Request` it is just the list, for refreshing it in place.
"""

from __future__ import annotations

from fasthtml.common import H1, APIRouter, Article, Button, Form, Input, Li, Small, Ul
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import Toasts
from app.ui.layout import Page
from app.webhooks.outbound import emit
from app.work.jobs import job_manager
from tenants.stamp import new_id, now

rt = APIRouter()
NOTE_MAX = 2000


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


def NoteForm(error: str = "", body: str = ""):
    return Form(
        Input(
            name="body",
            value=body,
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


@rt.get("/notes")
def notes(req: Request, auth):
    if "hx-request" in req.headers:
        return NoteList(auth)
    return Page(req, "Notes", H1("Notes"), Article(NoteForm(), NoteList(auth)))


@rt.post("/notes")
def add_note(req: Request, auth, body: str = ""):
    text = body.strip()
    if not text or len(text) > NOTE_MAX:
        error = "Write something first." if not text else f"Keep it under {NOTE_MAX} characters."
        return NoteForm(error, body)(hx_swap_oob="true")  # keeps what was typed
    note = {"id": new_id(), "body": text, "author_id": auth.user_id, "created_at": now()}
    auth.db.t.notes.insert(note)
    shown = {
        "id": note["id"],
        "body": text,
        "author_id": auth.user_id,
        "created_at": note["created_at"],
    }
    emit(job_manager(req.app), auth.db, "note.created", shown)
    return NoteItem(note), NoteForm()(hx_swap_oob="true"), Toasts("Note added.")


@rt.delete("/notes/{note_id}")
def delete_note(auth, note_id: str):
    deleted = auth.db.q("DELETE FROM notes WHERE id = :id RETURNING id", id=note_id)
    if not deleted:
        raise HTTPException(404)
    return "", Toasts("Note deleted.")
