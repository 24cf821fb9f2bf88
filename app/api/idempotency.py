"""`Idempotency-Key` on POST: the same key within 24 hours gets the first answer again.

The key's row is written first, in the request's own unit of work, and the answer is stored
in it before the request commits: the note and the stored answer land together or not at
all. A second request with the same key, even one sent at the same moment, meets the row's
unique key: the database makes it wait until the first commits (SQLite's writer lock,
PostgreSQL's uniqueness check on an uncommitted row), then it finds the answer and returns it
without doing anything (`Idempotent-Replayed: true`). Had the first rolled back, the second
simply goes ahead. Reusing a key for a different request (method, path or body) is refused
with 422, as the IETF draft on the header says.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from app.api.problems import Problem
from tenants.stamp import from_now, now

if TYPE_CHECKING:
    from app.api.routing import ApiCall

IDEMPOTENCY_HEADER = "idempotency-key"
KEEP = timedelta(hours=24)
KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, as the draft's examples (UUIDs)


def once(call: ApiCall, key: str, produce: Callable[[], tuple[int, str]]) -> tuple[int, str, bool]:
    """(status, body, replayed): the stored answer for `key`, or `produce()`'s, stored."""
    if not KEY.fullmatch(key):
        raise Problem(400, "Idempotency-Key must be 1 to 255 printable ASCII characters.")
    req, db = call.req, call.db
    fingerprint = hashlib.sha256(
        b"\n".join([req.method.encode(), req.url.path.encode(), call.raw])
    ).hexdigest()
    stamp = now()
    # Older answers are forgotten (one indexed statement; it usually deletes nothing).
    db.q(
        "DELETE FROM api_idempotency WHERE created_at < :cutoff",
        cutoff=from_now(seconds=-KEEP.total_seconds()),
    )
    fresh = db.q(
        """INSERT INTO api_idempotency (key, fingerprint, status, body, created_at)
           VALUES (:k, :f, 0, '', :t) ON CONFLICT (key) DO NOTHING RETURNING key""",
        k=key,
        f=fingerprint,
        t=stamp,
    )
    if not fresh:
        stored = db.q(
            "SELECT fingerprint, status, body FROM api_idempotency WHERE key = :k", k=key
        )[0]
        if stored["fingerprint"] != fingerprint:
            raise Problem(422, "This Idempotency-Key was used for a different request.")
        return stored["status"], stored["body"], True
    status, text = produce()
    db.q(
        "UPDATE api_idempotency SET status = :s, body = :b WHERE key = :k", s=status, b=text, k=key
    )
    return status, text, False
