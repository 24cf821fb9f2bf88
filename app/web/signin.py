"""What happens once a person has proved who they are, whichever way they signed in.

The identity is matched to a person (tenants/identities.py: a way seen before, else the
person with the same verified email, else a new person), a fresh session starts, and mail
goes out as background jobs, so the sign-in never waits for a mail server and a failed send
is retried: the welcome email when this sign-in made the person, and the sign-in notice when
a known person signs in from a device (browser) none of their sessions has used before.
(Two first sign-ins of one person in the same instant could each send a welcome: no worse
than a duplicate email.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.lib.devices import device_name
from app.work.in_request import jobs_for
from tenants import invitations
from tenants.identities import person_for
from tenants.names import default_name
from tenants.provision import ProvisioningError, first_tenant
from tenants.stamp import now

log = logging.getLogger(__name__)
AFTER_SIGN_IN = "after_sign_in"  # session key: the path to land on once signed in


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    email: str
    name: str = ""
    avatar_url: str = ""
    method: str = ""  # how: a provider's slug, "email", "dev"


def client_ip(req: Request) -> str:
    return req.client.host if req.client else ""


def _email_job(req: Request, template: str, to: str, variables: dict) -> BackgroundTask:
    _, task = jobs_for(req).submit_system(
        "email.send", template=template, to=to, variables=variables
    )
    return task


def _welcome(req: Request, user: dict, workspace: str | None) -> BackgroundTask | None:
    """Queue the welcome email for a new person; the task sends it after the response."""
    if workspace is None:  # an invitee whose link no longer works: no workspace to name
        return None
    base = req.app.state.settings.base_url
    return _email_job(
        req,
        "welcome",
        user["email"],
        {
            "name": user["name"] or user["email"].split("@")[0],
            "tenant_name": workspace,
            "dashboard_url": f"{base}/dashboard",
        },
    )


def _notice(req: Request, user: dict) -> BackgroundTask:
    base = req.app.state.settings.base_url
    return _email_job(
        req,
        "sign_in_notice",
        user["email"],
        {
            "name": user["name"] or user["email"].split("@")[0],
            "signed_in_at": now()[:16].replace("T", " ") + " UTC",
            "ip_address": client_ip(req) or "unknown",
            "device": device_name(req.headers.get("user-agent", "")),
            "sessions_url": f"{base}/account#sessions",
        },
    )


def _invited_to(req: Request, landing: str) -> str | None:
    """The workspace an invitation link (the path to land on) invites to, if it is valid."""
    invitation = invitations.find(req.app.state.catalog, landing.removeprefix("/invitations/"))
    return invitation["tenant_name"] if invitation else None


def _new_device(catalog, user_id: str, agent: str) -> bool:
    return (
        catalog.row(
            "SELECT 1 AS seen FROM core_sessions WHERE user_id = :u AND user_agent = :ua LIMIT 1",
            u=user_id,
            ua=agent[:256],
        )
        is None
    )


def start_session(
    req: Request,
    sess: dict,
    user_id: str,
    *,
    created: bool,
    method: str,
    second_factor: str | None = None,
) -> tuple[str, BackgroundTask | None]:
    """Start a fresh session for the person; returns the path to land on, and the task that
    sends the welcome email (a new person) or the sign-in notice (a new device)."""
    state = req.app.state
    catalog, settings = state.catalog, state.settings
    user = catalog.user(user_id) or {}
    landing = sess.get(AFTER_SIGN_IN) or "/dashboard"  # set by our own pages only
    if landing.startswith("/invitations/") and not catalog.memberships(user_id):
        tenant_id = None  # an invitee joins the inviting workspace instead of getting one
        workspace = _invited_to(req, landing)
    else:
        workspace = default_name(user.get("name") or user.get("email", "").split("@")[0])
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
    agent = req.headers.get("user-agent", "")
    new_device = not created and _new_device(catalog, user_id, agent)
    token = catalog.create_session(
        user_id,
        tenant_id,
        absolute_hours=settings.session_absolute_hours,
        ip=client_ip(req),
        agent=agent,
        signed_in_with=method,
        second_factor=second_factor,
    )
    sess.clear()
    sess["sid"] = token
    catalog.audit("auth.sign_in", actor=user_id, tenant=tenant_id, ip=client_ip(req), via=method)
    if created:
        return landing, _welcome(req, user, workspace)
    return landing, _notice(req, user) if new_device else None


def _person_and_session(req: Request, sess: dict, who: Identity):
    user_id, created = person_for(
        req.app.state.catalog, who.issuer, who.subject, who.email, who.name, who.avatar_url
    )
    return start_session(req, sess, user_id, created=created, method=who.method)


async def sign_in(req: Request, sess: dict, who: Identity) -> RedirectResponse:
    """Find or make the person, provision their tenant, start a fresh session.
    (Sign-in is a plain form post or a provider's redirect, never an htmx request.)"""
    landing, mail = await run_in_threadpool(_person_and_session, req, sess, who)
    return RedirectResponse(landing, status_code=303, background=mail)
