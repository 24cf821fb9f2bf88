"""The edge: the one middleware every request passes, in one pass, before and after the app.

In: a request id; the client's real address (X-Forwarded-For from TRUSTED_PROXIES only);
in production, only this site's host names; no control characters in the path or query; a
body no larger than MAX_BODY_BYTES (declared or streamed); the session from its cookie; the
rate limits. Out, on the response's first message: the request's tenant writes committed
(rolled back on an error) and its connection back in the pool, before the body is sent and
before any background task runs; security headers, the request id and, only if the session
changed, its cookie. On the last body message: the request counted in the metrics, by route
template and status, with its latency (app/telemetry/metrics.py).

It is one pure-ASGI layer instead of six because each layer costs a call chain per request
(the stack of six cost as much as a whole hello-world request).
"""

from __future__ import annotations

import logging
import math
import re
import time
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings
from app.telemetry.metrics import UNMATCHED, observe_request
from app.web.client_ip import client_ip
from app.web.ratelimit import RateLimits
from app.web.request_id import start_request
from app.web.security import security_headers
from app.web.sessions import SessionCookie

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ENCODED_CONTROL = re.compile(rb"[\x00-\x1f\x7f]|%(?:[01][0-9a-f]|7f)", re.IGNORECASE)
BODY_TOO_LARGE = "The request body is too large."


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, BODY_TOO_LARGE)


class Edge:
    def __init__(self, app: ASGIApp, settings: Settings, secret_key: str, limits: RateLimits):
        self.app = app
        self.proxies = settings.trusted_proxies
        self.max_body = settings.max_body_bytes
        self.hosts = allowed_hosts(settings) if settings.is_production else None
        self.limits = limits
        self.headers = security_headers(hsts=settings.is_production)
        self.sessions = SessionCookie(
            secret_key,
            name=settings.session_cookie,
            max_age=settings.session_absolute_hours * 3600,
            secure=settings.secure_cookies,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        arrived = time.perf_counter()
        wanted = {b"host": b"", b"cookie": b"", b"content-length": b"", b"x-request-id": b""}
        forwarded = []
        for key, value in scope["headers"]:
            if key in wanted:
                wanted[key] = value
            elif key == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
        request_id = start_request(wanted[b"x-request-id"].decode("latin-1") or None)
        own_id = (b"x-request-id", request_id.encode())
        if forwarded and self.proxies and scope.get("client"):
            peer, port = scope["client"]
            scope["client"] = (client_ip(peer, forwarded, self.proxies), port)
        session = self.sessions.load(self.sessions.value(wanted[b"cookie"].decode("latin-1")))
        before, scope["session"] = dict(session), session

        replaced = False  # the edge answered in the app's place (its commit failed)

        async def send_out(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            started = message["type"] == "http.response.start"
            if started and not await _end_unit_of_work(scope, message["status"]):
                replaced = True
                response = await error_response(Request(scope, receive), 500)
                return await response(scope, receive, with_headers)
            await with_headers(message)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                present = {key.lower() for key, _ in headers}
                headers.extend((k, v) for k, v in self.headers if k not in present)
                headers.append(own_id)
                message["headers"] = headers
                cookie = self.sessions.header(before, scope["session"])
                if cookie is not None:
                    headers.append((b"set-cookie", cookie))
                started.append(message["status"])
            elif not message.get("more_body"):  # the last of the body: the request is answered
                route = scope.get("route")
                status = started[0] if started else 500
                path = route.path if route is not None else UNMATCHED
                observe_request(path, scope["method"], status, time.perf_counter() - arrived)
            await send(message)

        started: list[int] = []  # the response's status, once it started
        refusal = self._refusal(scope, wanted[b"host"], wanted[b"content-length"])
        if refusal is None and (wait := await self.limits.check(scope, session)) > 0:
            seconds = math.ceil(wait)
            refusal = self._error(
                429, f"Too many requests. Try again in {seconds} seconds.", seconds
            )
        try:
            if refusal is not None:
                return await refusal(scope, receive, send_out)
            await self.app(scope, self._limited(receive), send_out)
        except Exception:
            if not started:
                raise
            # The response went out, so the app's 500 handler answered and logged this:
            # letting it reach the server would log the same traceback a second time.
        finally:
            _release(scope)

    def _refusal(self, scope: Scope, host: bytes, length: bytes):
        """An ASGI app answering a request refused at the edge (rate limits aside), or None."""
        if self.hosts is not None and _hostname(host) not in self.hosts:
            return self._error(400, "This server does not answer for that host name.")
        if CONTROL.search(scope["path"]) or ENCODED_CONTROL.search(scope["query_string"]):
            return self._error(400, "The address contains characters that are not allowed.")
        path = scope["path"]
        if len(path) > 1 and path.endswith("/") and not path.startswith("/static/"):
            # Starlette would redirect to the Host header's origin; stay on ours, path only.
            query = scope["query_string"].decode("latin-1")
            target = "/" + path.strip("/") + (f"?{query}" if query else "")
            return RedirectResponse(target, status_code=308)
        if length.isdigit() and int(length) > self.max_body:
            return self._error(413, BODY_TOO_LARGE)
        return None

    def _error(self, status: int, message: str, retry_after: int | None = None):
        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            await self._answer(scope, receive, send, status, message, retry_after)

        return answer

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str = "",
        retry_after: int | None = None,
    ) -> None:
        response = await error_response(Request(scope, receive), status, message)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        await response(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        """`receive`, refusing a body that grows past the limit while it streams in."""
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        return limited


async def error_response(req: Request, status: int, message: str = "") -> Response:
    """The app's own error page (a toast for HTMX) for `status`."""
    handler = req.app.exception_handlers.get(status)
    if handler is None:
        return PlainTextResponse(message, status_code=status)
    return await handler(req, HTTPException(status, message or None))


async def _end_unit_of_work(scope: Scope, status: int) -> bool:
    """Commit the request's tenant writes (roll back for a server error) and give the
    connection back; False if the commit failed."""
    auth = scope.get("auth")
    db = getattr(auth, "db", None)
    if db is None:
        return True
    try:
        if status >= 500:
            db.close()
        elif db.is_sqlite:  # local and quick: no thread hop
            db.commit()
            db.close()
        else:
            await run_in_threadpool(_commit_and_close, db)
    except Exception:
        log.exception("could not commit the request's writes")
        db.close()
        return False
    return True


def _commit_and_close(db) -> None:
    db.commit()
    db.close()


def _release(scope: Scope) -> None:
    """Roll back and return the connection if the response never started (error, disconnect)."""
    db = getattr(scope.get("auth"), "db", None)
    if db is not None:
        db.close()


def _hostname(host: bytes) -> str:
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text.split("]")[0] + "]"
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """The host names production answers for: BASE_URL's, ALLOWED_HOSTS, and loopback (for
    health checks from the same machine or container)."""
    names = {urlsplit(settings.base_url).hostname or "", *settings.allowed_hosts}
    return frozenset(name.lower() for name in names if name) | LOOPBACK_HOSTS
