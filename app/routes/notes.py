"""Notes: the example of tenant data. They live in the tenant's own database (`auth.db`),
so a note id from another tenant simply does not exist here.

`/notes` is the page; with `HX-Request` it is just the list, for refreshing it in place.
Deleting marks the note (its toast offers Undo); the next deletion a day or more later
removes marked notes for good.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo

from fasthtml.common import APIRouter, Form, Li, NotStr, Span, Textarea, Ul
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import rendered_once
from app.ui.kit import Button, Card, EmptyState, Field, PageHeader, Toasts, When
from app.ui.layout import Page
from app.ui.time import moment, relative, workspace_zone
from tenants.stamp import from_now, new_id, now

rt = APIRouter()
NOTE_MAX = 2000
KEEP_DELETED = timedelta(days=1)
_LIST = """SELECT id, body, created_at FROM notes WHERE deleted_at IS NULL
           ORDER BY created_at DESC, id LIMIT 20"""


def NoteItem(note: dict, zone: tzinfo) -> NotStr:
    found = moment(note["created_at"])
    ago = relative(found) if found else ""
    return _note_item(note["id"], note["body"], note["created_at"], zone, ago)


@rendered_once
def _note_item(note_id: str, body: str, created_at: str, zone: tzinfo, ago: str):
    """One note, rendered once per content and relative time ("3 minutes ago" is part of the
    key, so a cached item never goes stale): twenty items built as FT were ~2 ms, most of
    the list's cost."""
    return Li(
        Span(
            Span(body),
            Span(When(created_at, zone), cls="note-meta"),
            cls="note-body",
        ),
        Button(
            "Delete",
            hx_delete=f"/notes/{note_id}",
            hx_target="closest li",
            hx_swap="outerHTML",
            variant="ghost",
            size="sm",
            icon="trash",
        ),
        id=f"note-{note_id}",
    )


def NoteForm(error: str = "", body: str = ""):
    return Form(
        Field(
            "New note",
            Textarea(
                body,
                name="body",
                placeholder="Write a note",
                required=True,
                maxlength=NOTE_MAX,
                rows=2,
            ),
            error or None,
        ),
        Button("Add note", type="submit", icon="plus"),
        hx_post="/notes",
        hx_target="#notes",
        hx_swap="afterbegin",
        id="note-form",
        cls="inline-form",
    )


@rendered_once
def NotesEmpty():
    return Li(
        EmptyState("No notes yet", "Notes live in this workspace's own database.", icon="notes"),
        cls="note-empty",
    )


def NoteList(auth, zone=None):
    """The newest notes; the empty state is the list's last item, shown (by CSS) only while
    no note comes before it, so adding and deleting need no extra request."""
    zone = zone or workspace_zone(auth.db)
    return Ul(
        *[NoteItem(n, zone) for n in auth.db.q(_LIST)],
        NotesEmpty(),
        id="notes",
        cls="note-list",
    )


@rt.get("/notes")
def notes(req: Request, auth):
    if "hx-request" in req.headers:
        return NoteList(auth)
    return Page(
        req,
        "Notes",
        PageHeader("Notes", "The example resource: each workspace's notes are its own."),
        Card(NoteForm(), NoteList(auth)),
    )


@rt.post("/notes")
def add_note(req: Request, auth, body: str = ""):
    text = body.strip()
    if not text or len(text) > NOTE_MAX:
        error = "Write something first." if not text else f"Keep it under {NOTE_MAX} characters."
        return NoteForm(error, body)(hx_swap_oob="true")  # keeps what was typed
    note = {"id": new_id(), "body": text, "author_id": auth.user_id, "created_at": now()}
    auth.db.t.notes.insert(note)
    zone = workspace_zone(auth.db)
    return NoteItem(note, zone), NoteForm()(hx_swap_oob="true"), Toasts("Note added.")


@rt.delete("/notes/{note_id}")
def delete_note(auth, note_id: str):
    deleted = auth.db.q(
        "UPDATE notes SET deleted_at = :t WHERE id = :id AND deleted_at IS NULL RETURNING id",
        id=note_id,
        t=now(),
    )
    if not deleted:
        raise HTTPException(404)
    auth.db.q(
        "DELETE FROM notes WHERE deleted_at < :before",
        before=from_now(seconds=-KEEP_DELETED.total_seconds()),
    )
    undo = Button(
        "Undo",
        hx_post=f"/notes/{note_id}/restore",
        hx_target="#notes",
        hx_swap="outerHTML",
        variant="outline",
        size="sm",
        icon="undo",
    )
    return "", Toasts("Note deleted.", action=undo)


@rt.post("/notes/{note_id}/restore")
def restore_note(auth, note_id: str):
    restored = auth.db.q(
        "UPDATE notes SET deleted_at = NULL WHERE id = :id AND deleted_at IS NOT NULL RETURNING id",
        id=note_id,
    )
    if not restored:
        raise HTTPException(404, "That note is no longer in the bin.")
    return NoteList(auth), Toasts("Note restored.")
