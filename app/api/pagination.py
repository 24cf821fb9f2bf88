"""Cursor pagination, newest first: `?limit=` and `?cursor=`, and `next_cursor` in the answer.

A cursor is the (created_at, id) of the last row of a page, base64url-encoded JSON: opaque to
clients, stable while rows are added (no page shifts under a reader, unlike offsets), and one
indexed range condition for the database. A cursor that does not decode is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

LIMIT_MAX = 100
AFTER = "(created_at < :cursor_at OR (created_at = :cursor_at AND id < :cursor_id))"


class ListQuery(BaseModel):
    """The query every list takes; lists with filters extend it."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=LIMIT_MAX, description="Items per page (1-100).")
    cursor: str | None = Field(
        None, max_length=500, description="`next_cursor` of the previous page."
    )

    @field_validator("cursor")
    @classmethod
    def _decodes(cls, value: str | None) -> str | None:
        if value is not None:
            decode(value)
        return value

    def where(self) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions (fixed text) and their bound values for the page after the cursor."""
        if self.cursor is None:
            return [], {}
        at, row_id = decode(self.cursor)
        return [AFTER], {"cursor_at": at, "cursor_id": row_id}


def encode(at: str, row_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at, row_id]).encode()).decode().rstrip("=")


def decode(cursor: str) -> tuple[str, str]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise ValueError("not a cursor this API gave out") from None
    if not (isinstance(at, str) and isinstance(row_id, str)):
        raise ValueError("not a cursor this API gave out")
    return at, row_id


def page(rows: list[dict[str, Any]], limit: int, shown: Any) -> dict[str, Any]:
    """The answer for `rows` (fetched with LIMIT limit + 1): the first `limit`, each passed
    through `shown`, and the cursor of the next page if there is one."""
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return {
        "data": [shown(row) for row in rows],
        "next_cursor": encode(last["created_at"], last["id"]) if last else None,
    }
