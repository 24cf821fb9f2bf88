"""Rate limits: 429 with `Retry-After` for sign-in attempts per IP (and sign-in links asked
for, per IP, by their route), webhook deliveries per endpoint (verified and rejected ones
counted apart), state-changing requests per session, and API requests per key (refused keys
counted apart, per IP).

Where the counts live: with PostgreSQL as the host database, the sign-in, write and API limits
are kept in the catalog (`sys_rate_limits`, one statement per limited request), so they hold
across every instance; otherwise (SQLite, one machine) each process counts on its own, in
memory. Webhook limits are always per process: a sender hits one endpoint, and its limit is
a guard against floods, not a quota.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from app.settings import Rate, Settings
from app.web.security import UNSAFE_METHODS

log = logging.getLogger(__name__)
_text = functools.lru_cache(maxsize=8)(sa.text)

SIGN_IN_PREFIXES = ("/login/", "/auth/")  # every way in, its callbacks and its codes
WEBHOOK_PREFIX = "/webhooks/"
API_PREFIX = "/api/"  # limited per key by the guard, once the key is known
MAX_KEYS = 100_000  # per limit; forgetting the oldest key only ever makes a limit more lenient
SHARED = ("signin", "writes", "api", "api_failures")
PURGE_SECONDS = 60.0


@dataclass(frozen=True)
class Decision:
    """One request against one limit: `wait` seconds until allowed (0: allowed now), what is
    left of the burst, and the seconds until the bucket is full again (RateLimit headers)."""

    wait: float
    limit: int
    remaining: int
    reset: float
    window: int


class Buckets(Protocol):
    def take(self, key: str) -> Decision: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One token bucket per key, in this process: `count` tokens, refilled evenly over
    `per_seconds`. A lock makes `take` safe from the event loop and from worker threads."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic):
        self.capacity, self.per_seconds = rate
        self.refill_per_second = self.capacity / self.per_seconds
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> Decision:
        """Take a token for `key`."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.pop(key, None) or _Bucket(self.capacity, now)
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.updated) * self.refill_per_second
            )
            bucket.updated = now
            self._buckets[key] = bucket  # most recently used last
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
            wait = 0.0
            if bucket.tokens >= 1:
                bucket.tokens -= 1
            else:
                wait = (1 - bucket.tokens) / self.refill_per_second
            reset = (self.capacity - bucket.tokens) / self.refill_per_second
            return Decision(wait, self.capacity, int(bucket.tokens), reset, self.per_seconds)


# GCRA: a key's row holds its "theoretical arrival time" (tat). A request is allowed when the
# new tat, max(tat, now) + interval, is at most one window ahead of now. One upsert decides and
# records it atomically, on the database's clock, so every instance agrees.
_TAKE = """
WITH clock AS (SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS ms)
INSERT INTO sys_rate_limits (name, key, tat_ms, refused)
SELECT :name, :key, ms + :interval, 0 FROM clock
ON CONFLICT (name, key) DO UPDATE SET
    tat_ms = CASE WHEN GREATEST(sys_rate_limits.tat_ms, (SELECT ms FROM clock)) + :interval
                       <= (SELECT ms FROM clock) + :window
                  THEN GREATEST(sys_rate_limits.tat_ms, (SELECT ms FROM clock)) + :interval
                  ELSE sys_rate_limits.tat_ms END,
    refused = CASE WHEN GREATEST(sys_rate_limits.tat_ms, (SELECT ms FROM clock)) + :interval
                        <= (SELECT ms FROM clock) + :window THEN 0 ELSE 1 END
RETURNING tat_ms, refused, (SELECT ms FROM clock) AS now_ms
"""
_PURGE = """DELETE FROM sys_rate_limits
WHERE tat_ms < CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"""


class SharedBuckets:
    """The same limit as TokenBuckets, kept in the host catalog (PostgreSQL) for every
    instance at once. If the database cannot be asked, the request is let through (and
    logged): a limiter must not turn a database hiccup into refusing everyone."""

    def __init__(self, engine: sa.Engine, name: str, rate: Rate):
        self.engine, self.name = engine, name
        self.capacity, self.per_seconds = rate
        self.interval_ms = round(self.per_seconds * 1000 / self.capacity)
        self.window_ms = self.per_seconds * 1000
        self._purged = 0.0

    def take(self, key: str) -> Decision:
        params = {
            "name": self.name,
            "key": key[:200],
            "interval": self.interval_ms,
            "window": self.window_ms,
        }
        try:
            with self.engine.begin() as conn:
                tat, refused, now = conn.execute(_text(_TAKE), params).one()
                if time.monotonic() - self._purged > PURGE_SECONDS:
                    self._purged = time.monotonic()
                    conn.execute(_text(_PURGE))  # a full bucket needs no row
        except sa.exc.SQLAlchemyError:
            log.warning("rate limit %s: the catalog could not be asked", self.name, exc_info=True)
            return Decision(0.0, self.capacity, self.capacity, 0.0, self.per_seconds)
        ahead = tat - now  # how far the key's tat runs ahead of now
        wait = (ahead + self.interval_ms - self.window_ms) / 1000 if refused else 0.0
        remaining = max(0, (self.window_ms - ahead) // self.interval_ms)
        return Decision(
            max(wait, 0.001) if refused else 0.0,
            self.capacity,
            int(remaining),
            ahead / 1000,
            self.per_seconds,
        )


class RateLimits:
    """The app's limits. The edge asks `check()` for every request; the guard limits API
    requests by key (`api()`); webhooks are limited by their route once the delivery's
    signature has been checked (`webhook()`), so that rejected deliveries count in a bucket of
    their own and cannot starve verified ones."""

    def __init__(self, settings: Settings, engine: sa.Engine | None = None):
        rates = {
            "signin": settings.rate_limit_signin,
            "writes": settings.rate_limit_writes,
            "api": settings.rate_limit_api,
            "api_failures": settings.rate_limit_api,
            "webhooks": settings.rate_limit_webhooks,
            "webhook_failures": settings.rate_limit_webhooks,
            "email_links": settings.rate_limit_email_ip,
        }
        self.shared = engine is not None and engine.dialect.name == "postgresql"
        self.engine = engine
        self._daily: dict[int, Buckets] = {}
        self.buckets: dict[str, Buckets] = {}
        for name, rate in rates.items():
            if rate is None:
                continue
            if self.shared and name in SHARED:
                self.buckets[name] = SharedBuckets(engine, name, rate)  # type: ignore[arg-type]
            else:
                self.buckets[name] = TokenBuckets(rate)

    def take(self, name: str, key: str) -> Decision | None:
        """A token from limit `name` for `key`; None when that limit is off."""
        bucket = self.buckets.get(name)
        return bucket.take(key) if bucket else None

    def api_daily(self, tenant_id: str, allowed: int) -> Decision:
        """A call from the workspace's daily API allowance (its plan's `api_calls_per_day`),
        refilled evenly over a rolling day; one count for every instance on PostgreSQL."""
        bucket = self._daily.get(allowed)
        if bucket is None:
            rate = (allowed, 86_400)
            if self.shared:
                bucket = SharedBuckets(self.engine, f"api_daily_{allowed}", rate)  # type: ignore[arg-type]
            else:
                bucket = TokenBuckets(rate)
            self._daily[allowed] = bucket
        return bucket.take(tenant_id)

    def _wait(self, name: str, key: str) -> float:
        decision = self.take(name, key)
        return decision.wait if decision else 0.0

    async def check(self, scope: Scope, session: dict) -> float:
        """Seconds until this request may run (0: now). API and webhook paths are left to the
        guard and their route. Shared limits are asked from a worker thread (a round trip to
        the database must not hold up the event loop), and only for requests they limit."""
        path = scope["path"]
        signin, write = path.startswith(SIGN_IN_PREFIXES), scope["method"] in UNSAFE_METHODS
        if path.startswith((WEBHOOK_PREFIX, API_PREFIX)) or not (signin or write):
            return 0.0
        if self.shared:
            return await run_in_threadpool(self.wait, scope, session)
        return self.wait(scope, session)

    def wait(self, scope: Scope, session: dict) -> float:
        path, ip = scope["path"], (scope.get("client") or ("",))[0]
        if path.startswith((WEBHOOK_PREFIX, API_PREFIX)):
            return 0.0
        waits = [self._wait("signin", ip)] if path.startswith(SIGN_IN_PREFIXES) else []
        if scope["method"] in UNSAFE_METHODS:
            key = session.get("sid") or session.get("anon") or f"ip:{ip}"
            waits.append(self._wait("writes", key))
        return max(waits, default=0.0)

    def email_link(self, ip: str) -> float:
        """Take a token for asking for a sign-in link from `ip`."""
        return self._wait("email_links", ip)

    def webhook(self, key: str, *, verified: bool) -> float:
        """Take a token for a delivery to the endpoint `key`, from the bucket of its kind."""
        return self._wait("webhooks" if verified else "webhook_failures", key)
