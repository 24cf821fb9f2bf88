"""One error format for the API: RFC 9457 problem details (`application/problem+json`).

Raise `Problem` anywhere in an API handler (or let the guard, the edge or the router refuse):
the app's error handlers (app/web/errors.py) answer every error on an `/api/` path with a
problem document, so a client parses one shape whatever went wrong:

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "There is no note with that id.", "instance": "/api/v1/notes/123"}

Validation errors add `errors`: a list of {"field", "message"}, one per bad field.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"
PREFIX = "/api/"


class Problem(HTTPException):
    """An HTTP error the API answers with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(status, detail, headers=headers)
        self.errors = errors


def is_api(path: str) -> bool:
    return path.startswith(PREFIX)


def problem_response(
    status: int,
    detail: str,
    instance: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def from_exception(path: str, status: int, exc: Exception, default: str) -> Response:
    """The problem document for an error raised while answering `path`."""
    detail = getattr(exc, "detail", None) if isinstance(exc, HTTPException) else None
    # Starlette's own detail is just the status phrase; say something a person can act on.
    if not detail or detail == _title(status):
        detail = default
    headers = dict(exc.headers) if isinstance(exc, HTTPException) and exc.headers else None
    errors = exc.errors if isinstance(exc, Problem) else None
    return problem_response(status, detail, path, errors=errors, headers=headers)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
