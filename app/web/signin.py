"""What happens once a person has proved who they are, whichever way they signed in.

A person's first sign-up also sends the welcome email, as a background job: the sign-in
never waits for a mail server, and a failed send is retried by the job system. It is sent
when this sign-in created the account, so later sign-ins send none (two first sign-ins of
one person in the same instant could each send one: no worse than a duplicate email).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.work.in_request import jobs_for
from tenants import invitations
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


def _welcome(req: Request, who: Identity, workspace: str | None) -> BackgroundTask | None:
    """Queue the welcome email for a new person; the task sends it after the response."""
    if workspace is None:  # an invitee whose link no longer works: no workspace to name
        return None
    settings = req.app.state.settings
    _, task = jobs_for(req).submit_system(
        "email.send",
        template="welcome",
        to=who.email,
        variables={
            "name": who.name or who.email.split("@")[0],
            "tenant_name": workspace,
            "dashboard_url": f"{settings.base_url}/dashboard",
        },
    )
    return task


def _invited_to(req: Request, landing: str) -> str | None:
    """The workspace an invitation link (the path to land on) invites to, if it is valid."""
    invitation = invitations.find(req.app.state.catalog, landing.removeprefix("/invitations/"))
    return invitation["tenant_name"] if invitation else None


def _start_session(req: Request, sess: dict, who: Identity) -> tuple[str, BackgroundTask | None]:
    """Start a fresh session for `who`; returns the path to land on, and the task that
    sends the welcome email if this sign-in created the account."""
    state = req.app.state
    catalog, settings = state.catalog, state.settings
    known = catalog.row(
        "SELECT id FROM core_users WHERE issuer = :i AND subject = :s",
        i=who.issuer,
        s=who.subject,
    )
    user_id = catalog.upsert_user(who.issuer, who.subject, who.email, who.name, who.avatar_url)
    landing = sess.get(AFTER_SIGN_IN) or "/dashboard"  # set by our own pages only
    if landing.startswith("/invitations/") and not catalog.memberships(user_id):
        tenant_id = None  # an invitee joins the inviting workspace instead of getting one
        workspace = _invited_to(req, landing)
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
    return landing, _welcome(req, who, workspace) if known is None else None


async def sign_in(req: Request, sess: dict, who: Identity) -> RedirectResponse:
    """Create the user on first sight, provision their tenant, start a fresh session.
    (Sign-in is a plain form post or a provider's redirect, never an htmx request.)"""
    landing, welcome = await run_in_threadpool(_start_session, req, sess, who)
    return RedirectResponse(landing, status_code=303, background=welcome)
