"""The request path: CSRF check, then session -> user -> tenant -> membership -> tenant DB.

One Beforeware, `guard`, runs before every route and does what the route's access class
needs (app/access.py). For signed-in routes it makes one catalog query (session, user,
current tenant and membership joined), refuses anything not allowed, and puts an `Auth` with
a lazy tenant DB handle in `scope['auth']`, which FastHTML hands to any handler that takes
an `auth` argument.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from fasthtml.common import Redirect
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.security import CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, csrf_valid
from tenants.stamp import parse

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TOUCH_EVERY = timedelta(seconds=60)  # write last_seen at most once a minute per session


async def guard(req: Request, sess):
    """The one Beforeware: what a request needs depends on its route's access class."""
    access = req.app.state.access.of(req.scope)
    if access != "webhook":  # machines sign their requests instead
        await _check_csrf(req)
    if access in ("public", "webhook"):
        return None
    stop = await run_in_threadpool(_authenticate, req, sess, access)
    if stop is None and access == "tenant":
        await _refuse_foreign_tenant(req)
    return stop


async def _check_csrf(req: Request) -> None:
    """Every state-changing request carries the session's CSRF token, or gets 403.

    No route here takes uploads; a file posted where text is expected would reach handlers as
    an `UploadFile` instead of a `str`, so such requests are refused up front.
    """
    if req.method not in UNSAFE_METHODS:
        return
    submitted: object = req.headers.get(CSRF_HEADER)  # a str, or whatever the form held
    if req.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await req.form()
        if any(not isinstance(value, str) for _, value in form.multi_items()):
            raise HTTPException(400, "File uploads are not accepted here.")
        submitted = submitted or form.get(CSRF_FIELD)
    if not csrf_valid(req, submitted if isinstance(submitted, str) else None):
        raise HTTPException(
            403, "The form expired or did not come from this site. Reload and try again."
        )


def _authenticate(req: Request, sess, access: str):
    """Resolve the signed-in user and their current tenant, or stop the request."""
    state = req.app.state
    token = sess.get("sid")
    auth = (
        state.catalog.resolve(token, idle_minutes=state.settings.session_idle_minutes)
        if token
        else None
    )
    if auth is None:
        sess.pop("sid", None)
        return Redirect("/login")
    if datetime.now(UTC) - parse(auth.last_seen_at) > TOUCH_EVERY:
        state.catalog.touch_session(auth.session_hash)
    if access == "signed_in":
        req.scope["auth"] = auth
        return None
    if auth.role is None:  # membership revoked (or never existed): this tenant is gone for them
        others = state.catalog.memberships(auth.user_id)
        if not others:  # nowhere left to go: the workspaces page offers to create one
            return Redirect("/tenants")
        state.catalog.switch_session_tenant(auth.session_hash, others[0]["id"])
        return Redirect("/dashboard")
    if auth.tenant_status == "suspended":
        raise HTTPException(403, "This workspace is suspended. Contact its owner or support.")
    if auth.tenant_status != "active":
        raise HTTPException(404)
    req.scope["auth"] = dataclasses.replace(auth, db=state.databases.handle(auth.tenant_id))
    return None


async def _refuse_foreign_tenant(req: Request) -> None:
    """The tenant comes from the session only. A request that names another one is a probe: 404.

    Handlers never read a tenant id from input; this makes the refusal explicit and uniform.
    """
    auth = req.scope["auth"]
    named = req.query_params.getlist("tenant_id")
    if req.method in UNSAFE_METHODS and req.headers.get("content-type", "").startswith(FORM_TYPES):
        named += [v for v in (await req.form()).getlist("tenant_id") if isinstance(v, str)]
    if any(value != auth.tenant_id for value in named):
        raise HTTPException(404)


class ReleaseTenantDB:
    """Return the request's tenant connection to the pool when the request ends, error or not."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            auth = scope.get("auth")
            if auth is not None and auth.db is not None:
                auth.db.close()
