"""A request id on every response (`X-Request-ID`) and on every log line of that request.

An incoming `X-Request-ID` (from a proxy or load balancer that already assigned one) is kept
only if it is a short, safe token: anything else could forge or break log lines, so it is
replaced by a fresh id.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

HEADER = "x-request-id"
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled here, or None outside a request."""
    return _current.get()


def start_request(incoming: str | None) -> str:
    """The id of the request starting in this task (the edge calls this first thing)."""
    request_id = request_id_for(incoming)
    # Not reset afterwards on purpose: each request runs in its own task, whose context
    # dies with it, and the server logs a crash only after the request's call returned.
    _current.set(request_id)
    return request_id


def request_id_for(incoming: str | None) -> str:
    if incoming is not None and SAFE_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(8)
