"""A person's sessions: sign out one of them, or all but this one (Account lists them).
An impersonation session can do neither: sessions are the person's own."""

from __future__ import annotations

from fasthtml.common import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.account import SessionsPanel
from app.ui.components import Toasts
from app.web.operators import refuse_if_impersonating
from app.web.signin import client_ip
from tenants import user_sessions

rt = APIRouter()


@rt.post("/account/sessions/{session_id}/revoke")
def revoke(req: Request, auth, session_id: str):
    refuse_if_impersonating(auth)
    catalog = req.app.state.catalog
    if session_id == user_sessions.public_id(auth.session_hash):
        raise HTTPException(400, "That is this session: use Sign out instead.")
    if not user_sessions.revoke(catalog, auth.user_id, session_id):
        raise HTTPException(404)
    catalog.audit("auth.session_revoked", actor=auth.user_id, tenant=None, ip=client_ip(req))
    return SessionsPanel(req, auth), Toasts("That session is signed out.")


@rt.post("/account/sessions/revoke-others")
def revoke_others(req: Request, auth):
    refuse_if_impersonating(auth)
    catalog = req.app.state.catalog
    count = user_sessions.revoke_others(catalog, auth.user_id, auth.session_hash)
    catalog.audit(
        "auth.sessions_revoked", actor=auth.user_id, tenant=None, ip=client_ip(req), count=count
    )
    return SessionsPanel(req, auth), Toasts(f"Signed out of {count} other session(s).")
