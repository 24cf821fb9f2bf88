"""The request path: CSRF check, then session -> user -> tenant -> membership -> tenant DB.

One Beforeware, `guard`, runs before every route and does what the route's access class
needs (app/access.py). For signed-in routes it makes one catalog query (session, user,
current tenant and membership joined), refuses anything not allowed, and puts an `Auth` with
a lazy tenant DB handle in `scope['auth']`, which FastHTML hands to any handler that takes
an `auth` argument.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

from fasthtml.common import Redirect
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.api.keys import authenticate_key
from app.web import operators
from app.web.second_step import STEP_PATH, needs_second_step
from app.web.security import CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, csrf_valid

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, CR and LF are text
TOUCH_SECONDS = 60  # write last_seen at most once a minute per session


async def guard(req: Request, sess):
    """The one Beforeware: what a request needs depends on its route's access class."""
    access = req.app.state.access.of(req.scope)
    if access == "api":  # a key, never a cookie; no CSRF token (nothing a browser sends)
        await authenticate_key(req)
        return None
    if access != "webhook":  # machines sign their requests instead
        await _check_csrf(req)
    if access in ("public", "webhook"):
        return None
    stop = await _authenticate(req, sess, access)
    if stop is None and access == "tenant":
        await _refuse_foreign_tenant(req)
    return stop


# FastHTML reads a Beforeware's signature on every request; computing it once saves that.
guard.__signature__ = inspect.signature(guard, eval_str=True)  # type: ignore[attr-defined]


async def _check_csrf(req: Request) -> None:
    """Every state-changing request carries the session's CSRF token, or gets 403.

    No route here takes uploads; a file posted where text is expected would reach handlers as
    an `UploadFile` instead of a `str`, so such requests are refused up front. So is text with
    control characters (NUL makes PostgreSQL fail; none belongs in a form): the edge refuses
    them in paths and query strings, this check in form fields, one place each.
    """
    if req.method not in UNSAFE_METHODS:
        return
    submitted: object = req.headers.get(CSRF_HEADER)  # a str, or whatever the form held
    if req.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await req.form()
        for _, value in form.multi_items():
            if not isinstance(value, str):
                raise HTTPException(400, "File uploads are not accepted here.")
            if CONTROL.search(value):
                raise HTTPException(400, "The form contained characters that are not allowed.")
        submitted = submitted or form.get(CSRF_FIELD)
    if not csrf_valid(req, submitted if isinstance(submitted, str) else None):
        raise HTTPException(
            403, "The form expired or did not come from this site. Reload and try again."
        )


async def _authenticate(req: Request, sess, access: str):
    """Resolve the signed-in user and their current tenant, or stop the request.

    On SQLite the cached lookup runs right here on the event loop (no thread hop: a cache
    hit reads nothing, a miss one local query); writes, a first open of a tenant's database,
    and PostgreSQL go to a worker thread.
    """
    state = req.app.state
    token = sess.get("sid")
    if token is None:
        auth = None
    elif state.reads_on_loop:
        auth = state.catalog.resolve(token, idle_minutes=state.settings.session_idle_minutes)
    else:
        auth = await run_in_threadpool(
            state.catalog.resolve, token, idle_minutes=state.settings.session_idle_minutes
        )
    if auth is None:
        if token is not None and await run_in_threadpool(operators.ran_out, req, sess):
            return Redirect("/admin")  # an impersonation ran out: the superuser is back
        sess.pop("sid", None)
        if access == "superuser":  # the console does not even say it is there
            raise HTTPException(404)
        return Redirect("/login")
    if state.catalog.seen_since(auth) > TOUCH_SECONDS:
        await run_in_threadpool(state.catalog.touch_session, auth.session_hash)
    if access == "superuser":
        if auth.impersonator_id is not None:
            raise HTTPException(403, "Stop impersonating to use the operator console.")
        if not operators.is_superuser(state.settings, auth):
            raise HTTPException(404)
    if access in ("signed_in", "superuser"):
        req.scope["auth"] = auth
        return None
    if auth.role is None:  # membership revoked (or never existed): this tenant is gone for them
        return await run_in_threadpool(_elsewhere, state.catalog, auth)
    if auth.tenant_status == "suspended":
        raise HTTPException(403, "This workspace is suspended. Contact its owner or support.")
    if auth.tenant_status != "active":
        raise HTTPException(404)
    if needs_second_step(auth):  # the workspace asks for a passkey and this session has none
        return Redirect(STEP_PATH)
    databases = state.databases
    if state.reads_on_loop and databases.is_open(auth.tenant_id):
        db = databases.handle(auth.tenant_id)
    else:  # the first open in this process migrates and reflects: not on the loop
        db = await run_in_threadpool(databases.handle, auth.tenant_id)
    req.scope["auth"] = dataclasses.replace(auth, db=db)
    return None


def _elsewhere(catalog, auth) -> Redirect:
    """Somewhere to go for a person whose current workspace let them go."""
    others = catalog.memberships(auth.user_id)
    if not others:  # nowhere left to go: the workspaces page offers to create one
        return Redirect("/tenants")
    catalog.switch_session_tenant(auth.session_hash, others[0]["id"])
    return Redirect("/dashboard")


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
