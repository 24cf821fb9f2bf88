"""A request id on every response (`X-Request-ID`) and on every log line of that request.

An incoming `X-Request-ID` (from a proxy or load balancer that already assigned one) is kept
only if it is a short, safe token: anything else could forge or break log lines, so it is
replaced by a fresh id.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled here, or None outside a request."""
    return _current.get()


def request_id_for(incoming: str | None) -> str:
    if incoming is not None and SAFE_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(8)


class RequestId:
    """Pure ASGI middleware; outermost, so even the last-resort 500 carries the id."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = request_id_for(Headers(scope=scope).get(HEADER))
        # Not reset afterwards on purpose: each request runs in its own task, whose context
        # dies with it, and the server logs a crash only after this call has returned.
        _current.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                message["headers"] = [*headers, (HEADER.encode(), request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)
