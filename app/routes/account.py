"""Routes for any signed-in person, whatever tenant they are in."""

from __future__ import annotations

from fasthtml.common import APIRouter, Redirect
from starlette.requests import Request

from app.web.signin import client_ip

rt = APIRouter()


@rt.post("/logout")
def logout(req: Request, sess, auth):
    """Revoke the session server-side, so a copied cookie is dead too."""
    catalog = req.app.state.catalog
    catalog.revoke_session(auth.session_hash)
    catalog.audit("auth.sign_out", actor=auth.user_id, tenant=auth.tenant_id, ip=client_ip(req))
    sess.clear()
    return Redirect("/")
