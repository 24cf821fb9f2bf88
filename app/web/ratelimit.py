"""Rate limits: 429 with `Retry-After` for sign-in attempts per IP, webhook deliveries per
endpoint, and state-changing requests per session.

Token buckets held in this process: with several app processes each one counts on its own, so
the effective limit is the configured one times the number of processes (docs/deploy.md).
"""

from __future__ import annotations

import inspect
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.settings import Rate, Settings
from app.web.security import UNSAFE_METHODS

SIGN_IN_PATHS = frozenset({"/login/dev", "/login/oidc", "/auth/callback"})
WEBHOOK_PREFIX = "/webhooks/"
MAX_KEYS = 100_000  # per limit; forgetting the oldest key only ever makes a limit more lenient


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One token bucket per key: `count` tokens, refilled evenly over `per_seconds`.

    Used from the event loop only (the middleware never awaits between reading and writing
    a bucket), so it needs no lock.
    """

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic):
        self.capacity, per_seconds = rate
        self.refill_per_second = self.capacity / per_seconds
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token for `key`: 0 if allowed, else the seconds until one is available."""
        now = self.clock()
        bucket = self._buckets.pop(key, None) or _Bucket(self.capacity, now)
        bucket.tokens = min(
            self.capacity, bucket.tokens + (now - bucket.updated) * self.refill_per_second
        )
        bucket.updated = now
        self._buckets[key] = bucket  # most recently used last
        if len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.refill_per_second


class RateLimit:
    """Pure ASGI middleware. It sits inside the session middleware: writes count per session."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.limits = {
            name: TokenBuckets(rate)
            for name, rate in (
                ("signin", settings.rate_limit_signin),
                ("webhooks", settings.rate_limit_webhooks),
                ("writes", settings.rate_limit_writes),
            )
            if rate is not None
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            wait = max(
                (self.limits[n].take(k) for n, k in self._keys(scope) if n in self.limits),
                default=0.0,
            )
            if wait > 0:
                response = await _too_many(Request(scope, receive), math.ceil(wait))
                return await response(scope, receive, send)
        await self.app(scope, receive, send)

    def _keys(self, scope: Scope) -> list[tuple[str, str]]:
        """The (limit, key) pairs this request counts against."""
        path, ip = scope["path"], (scope.get("client") or ("",))[0]
        keys = []
        if path in SIGN_IN_PATHS:
            keys.append(("signin", ip))
        if path.startswith(WEBHOOK_PREFIX):
            keys.append(("webhooks", path))  # machines: per endpoint, not per session
        elif scope["method"] in UNSAFE_METHODS:
            session = scope.get("session") or {}
            keys.append(("writes", session.get("sid") or session.get("anon") or f"ip:{ip}"))
        return keys


async def _too_many(req: Request, retry_after: int) -> Response:
    """The app's own 429 page (an HTMX toast for HTMX requests), with `Retry-After`."""
    message = f"Too many requests. Try again in {retry_after} seconds."
    handler = req.app.exception_handlers.get(429)
    response = handler(req, HTTPException(429, message)) if handler else None
    if inspect.isawaitable(response):
        response = await response
    response = response or PlainTextResponse(message, status_code=429)
    response.headers["Retry-After"] = str(retry_after)
    return response
