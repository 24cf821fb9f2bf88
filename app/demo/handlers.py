"""Demo handlers, wired end to end so a new install shows jobs and webhooks working.

- Job `demo.count`: counts slowly with a progress bar, then leaves a note on the dashboard.
  The "Run demo job" button on /demo starts it.
- Webhook `demo` / `demo.ping`: turns the event's `data.message` into a note. Send one with
  `uv run bench/send_webhook.py URL SECRET "Hello"` (see the README).

Both are idempotent the simple way: the note's id comes from the job or event id, and the
insert does nothing if that note exists, so a retried run cannot add a second note.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, cast

import sqlalchemy as sa

from app.webhooks.inbound import webhook_handler
from app.work.jobs import JobContext, job_handler
from tenants.routing import TenantDB
from tenants.stamp import now

NOTE_MAX = 2000


def _note_id(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def _add_note(ctx: JobContext, note_id: str, body: str, author: str) -> None:
    cast(TenantDB, ctx.db).execute(  # a tenant job: it has one
        sa.text("""INSERT INTO notes (id, body, author_id, created_at)
                   VALUES (:id, :body, :author, :t) ON CONFLICT (id) DO NOTHING"""),
        {"id": note_id, "body": body[:NOTE_MAX], "author": author, "t": now()},
    )


def count(ctx: JobContext, to: int = 10, pause: float = 0.5) -> dict[str, Any]:
    for n in range(1, to + 1):
        if ctx.cancelled():
            return {"counted": n - 1, "cancelled": True}
        time.sleep(pause)
        ctx.progress(n * 100 // to, f"Counted {n} of {to}")
    _add_note(ctx, _note_id("demo.count", ctx.job_id), f"A background job counted to {to}.", "job")
    return {"counted": to}


def note_from_ping(ctx: JobContext, event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    message = data.get("message") if isinstance(data, dict) else None
    note_id = _note_id("demo.ping", event["id"])
    _add_note(
        ctx, note_id, f"Webhook: {message if isinstance(message, str) else 'ping'}", "webhook"
    )
    return {"note": note_id}


def register() -> None:
    job_handler("demo.count")(count)
    webhook_handler("demo", "demo.ping")(note_from_ping)
