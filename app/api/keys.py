"""Who an API request is: the workspace behind its bearer key (the guard's `api` class).

Cookies play no part: a request is the key it carries or nothing, so a browser session can
never be used against the API (and CSRF cannot apply: no browser sends our keys by itself).
Refusals are problem documents: 401 for a missing, malformed, unknown, revoked or expired key
(a refused key also counts against the caller's address, so guessing is slow), 403 for a
suspended workspace, 429 beyond the key's rate limit. On the way in: the key's rate limit
(RateLimit headers on the answer), `last_used_at` (at most once a minute) and the
workspace's database handle, as on a signed-in request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app.api.problems import Problem
from app.billing.state import in_force
from app.web.ratelimit import Decision
from app.web.signin import client_ip
from tenants.api_keys import ApiKey
from tenants.routing import TenantDB

KEY = re.compile(r"sk_[A-Za-z0-9_-]{20,80}")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}


@dataclass(frozen=True)
class KeyAuth:
    """`auth` on an API request: the key (its workspace and scope) and the workspace's database.
    There is no person: what a key does is the workspace's doing, audited with the key's id."""

    key: ApiKey
    db: TenantDB

    @property
    def tenant_id(self) -> str:
        return self.key.tenant_id


def rate_headers(decision: Decision) -> dict[str, str]:
    """The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) for a decision."""
    reset = math.ceil(decision.reset)
    return {
        "RateLimit-Policy": f'"api";q={decision.limit};w={decision.window}',
        "RateLimit": f'"api";r={decision.remaining};t={reset}',
    }


async def authenticate_key(req: Request) -> None:
    """Put a `KeyAuth` in scope['auth'] or raise a Problem."""
    state = req.app.state
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    token = token.strip()
    ip = client_ip(req)
    if scheme.lower() != "bearer" or not KEY.fullmatch(token):
        await _refused(req, ip, "Send an API key: Authorization: Bearer sk_...")
    found, decision = await _run(req, _resolve, state, token)
    if found is None:
        await _refused(req, ip, "The API key is unknown, revoked or expired.")
    if found.tenant_status == "suspended":
        raise Problem(403, "This workspace is suspended.")
    if found.tenant_status != "active":
        await _refused(req, ip, "The API key is unknown, revoked or expired.")
    if decision is not None:
        req.scope["api_rate"] = decision
        if decision.wait > 0:
            seconds = math.ceil(decision.wait)
            headers = {**rate_headers(decision), "Retry-After": str(seconds)}
            raise Problem(
                429, f"Too many requests. Try again in {seconds} seconds.", headers=headers
            )
    if state.api_keys.touch_due(found):
        await run_in_threadpool(state.api_keys.touch, found)
    databases = state.databases
    if state.reads_on_loop and databases.is_open(found.tenant_id):
        db = databases.handle(found.tenant_id)
    else:  # the first open in this process migrates and reflects: not on the loop
        db = await run_in_threadpool(databases.handle, found.tenant_id)
    req.scope["auth"] = KeyAuth(found, db)


def _resolve(state, token: str) -> tuple[ApiKey | None, Decision | None]:
    found = state.api_keys.resolve(token)
    if found is None or found.tenant_status != "active":
        return found, None
    decision = state.limits.take("api", found.key_id)
    if decision is None or decision.wait == 0:
        _within_plan(state, found)
    return found, decision


def _within_plan(state, found: ApiKey) -> None:
    """Refuse (429) a call past the plan's API calls a day: a billing limit, so it holds
    even with the per-key rate limit turned off."""
    plan = in_force(found.plan_tier, found.plan_ends_at)
    allowed = plan.limit("api_calls_per_day")
    if allowed is None:
        return
    daily = state.limits.api_daily(found.tenant_id, allowed)
    if daily.wait > 0:
        seconds = math.ceil(daily.wait)
        raise Problem(
            429,
            f"The {plan.name} plan allows {allowed:,} API calls a day; this workspace has used "
            f"them. Try again in {seconds} seconds, or upgrade: "
            f"{state.settings.base_url}/settings/billing",
            headers={"Retry-After": str(seconds)},
        )


async def _run(req: Request, func, *args):
    """On the event loop where that is cheap and never waits (SQLite, in-process limits), else
    in a worker thread (PostgreSQL: the lookup or the shared limit is a round trip)."""
    state = req.app.state
    if state.reads_on_loop and not state.limits.shared:
        return func(*args)
    return await run_in_threadpool(func, *args)


async def _refused(req: Request, ip: str, detail: str) -> None:
    limits = req.app.state.limits
    decision = await _run(req, limits.take, "api_failures", ip)
    if decision is not None and decision.wait > 0:
        seconds = math.ceil(decision.wait)
        raise Problem(
            429,
            f"Too many refused requests. Try again in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
        )
    raise Problem(401, detail, headers=CHALLENGE)
