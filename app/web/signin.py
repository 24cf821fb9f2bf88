"""What happens once a person has proved who they are, whichever way they signed in."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fasthtml.common import Redirect
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from tenants.names import default_name
from tenants.provision import ProvisioningError, first_tenant

log = logging.getLogger(__name__)
AFTER_SIGN_IN = "after_sign_in"  # session key: the path to land on once signed in


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    email: str
    name: str = ""
    avatar_url: str = ""


def client_ip(req: Request) -> str:
    return req.client.host if req.client else ""


def _start_session(req: Request, sess: dict, who: Identity) -> str:
    """Start a fresh session for `who`; returns the path to land on."""
    state = req.app.state
    catalog, settings = state.catalog, state.settings
    user_id = catalog.upsert_user(who.issuer, who.subject, who.email, who.name, who.avatar_url)
    landing = sess.get(AFTER_SIGN_IN) or "/dashboard"  # set by our own pages only
    if landing.startswith("/invitations/") and not catalog.memberships(user_id):
        tenant_id = None  # an invitee joins the inviting workspace instead of getting one
    else:
        workspace = default_name(who.name or who.email.split("@")[0])
        try:
            tenant_id = first_tenant(catalog, state.databases, user_id, workspace)
        except ProvisioningError:
            log.exception("provisioning failed for user %s", user_id)
            raise HTTPException(
                503, "We could not set up your workspace. Please try again."
            ) from None
    previous = sess.get("sid")
    if previous:  # never reuse a session id across a sign-in (session fixation)
        resolved = catalog.resolve(previous, idle_minutes=settings.session_idle_minutes)
        if resolved:
            catalog.revoke_session(resolved.session_hash)
    token = catalog.create_session(
        user_id,
        tenant_id,
        absolute_hours=settings.session_absolute_hours,
        ip=client_ip(req),
        agent=req.headers.get("user-agent", ""),
    )
    sess.clear()
    sess["sid"] = token
    catalog.audit(
        "auth.sign_in", actor=user_id, tenant=tenant_id, ip=client_ip(req), issuer=who.issuer
    )
    return landing


async def sign_in(req: Request, sess: dict, who: Identity) -> Redirect:
    """Create the user on first sight, provision their tenant, start a fresh session."""
    return Redirect(await run_in_threadpool(_start_session, req, sess, who))
