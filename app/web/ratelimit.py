"""Rate limits: 429 with `Retry-After` for sign-in attempts per IP (and sign-in links asked
for, per IP, by their route), webhook deliveries per
endpoint (verified and rejected ones counted apart), and state-changing requests per session.

Token buckets held in this process: with several app processes each one counts on its own, so
the effective limit is the configured one times the number of processes (docs/deploy.md).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Scope

from app.settings import Rate, Settings
from app.web.security import UNSAFE_METHODS

SIGN_IN_PREFIXES = ("/login/", "/auth/")  # every way in, its callbacks and its codes
WEBHOOK_PREFIX = "/webhooks/"
MAX_KEYS = 100_000  # per limit; forgetting the oldest key only ever makes a limit more lenient


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One token bucket per key: `count` tokens, refilled evenly over `per_seconds`.

    A lock makes `take` safe from the event loop and from worker threads alike.
    """

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic):
        self.capacity, per_seconds = rate
        self.refill_per_second = self.capacity / per_seconds
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token for `key`: 0 if allowed, else the seconds until one is available."""
        with self._lock:
            return self._take(key)

    def _take(self, key: str) -> float:
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


class RateLimits:
    """The app's limits. `wait()` is asked by the edge for every request; webhooks are limited
    by their route once the delivery's signature has been checked (`webhook()`), so that
    rejected deliveries count in a bucket of their own and cannot starve verified ones."""

    def __init__(self, settings: Settings):
        rates = {
            "signin": settings.rate_limit_signin,
            "writes": settings.rate_limit_writes,
            "webhooks": settings.rate_limit_webhooks,
            "webhook_failures": settings.rate_limit_webhooks,
            "email_links": settings.rate_limit_email_ip,
        }
        self.buckets = {name: TokenBuckets(rate) for name, rate in rates.items() if rate}

    def _take(self, name: str, key: str) -> float:
        bucket = self.buckets.get(name)
        return bucket.take(key) if bucket else 0.0

    def wait(self, scope: Scope, session: dict) -> float:
        """Seconds until this request may run (0: now). Webhook paths are left to their route."""
        path, ip = scope["path"], (scope.get("client") or ("",))[0]
        if path.startswith(WEBHOOK_PREFIX):
            return 0.0
        waits = [self._take("signin", ip)] if path.startswith(SIGN_IN_PREFIXES) else []
        if scope["method"] in UNSAFE_METHODS:
            key = session.get("sid") or session.get("anon") or f"ip:{ip}"
            waits.append(self._take("writes", key))
        return max(waits, default=0.0)

    def email_link(self, ip: str) -> float:
        """Take a token for asking for a sign-in link from `ip`."""
        return self._take("email_links", ip)

    def webhook(self, key: str, *, verified: bool) -> float:
        """Take a token for a delivery to the endpoint `key`, from the bucket of its kind."""
        return self._take("webhooks" if verified else "webhook_failures", key)
