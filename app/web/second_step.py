"""The passkey step a workspace can require, and its recovery through an email link.

An owner turns it on for the workspace (app/routes/security.py). From then on a session of
any member reaches that workspace only once it has passed the step: it signed in with a
passkey, or used one since, or (passkey lost) opened a recovery link sent to the person's
address, which is audited in the workspace's trail and the host's. The guard sends sessions
that have not passed it to /login/second-step.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.web.email_links import Link
from app.web.signin import client_ip
from tenants.catalog import Auth, Catalog

STEP_PATH = "/login/second-step"


def needs_second_step(auth: Auth) -> bool:
    return bool(auth.require_passkey) and not auth.second_factor


def pass_second_step(catalog: Catalog, session_hash: str, how: str) -> None:
    catalog.execute(
        "UPDATE core_sessions SET second_factor = :how WHERE id_hash = :h", how=how, h=session_hash
    )


def complete_recovery(req: Request, sess: dict, link: Link) -> RedirectResponse:
    """A recovery link opened by the session that asked for it: the step counts as passed
    for this session, and the person is sent to register a new passkey."""
    state = req.app.state
    token = sess.get("sid")
    auth = (
        state.catalog.resolve(token, idle_minutes=state.settings.session_idle_minutes)
        if token
        else None
    )
    if auth is None or auth.user_id != link.user_id:
        raise HTTPException(403, "Open the recovery link while signed in as the person who asked.")
    pass_second_step(state.catalog, auth.session_hash, "recovery")
    for tenant in {None, auth.tenant_id}:  # the host's trail and the workspace's
        state.catalog.audit(
            "auth.passkey_recovered", actor=auth.user_id, tenant=tenant, ip=client_ip(req)
        )
    return RedirectResponse("/account#passkeys", status_code=303)
