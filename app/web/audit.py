"""Writing the audit trail from a route: who did what, in which workspace, from where."""

from __future__ import annotations

from starlette.requests import Request

from app.web.signin import client_ip
from tenants.catalog import Auth


def record(req: Request, auth: Auth, action: str, **details: object) -> None:
    """Audit an action the signed-in person took in their current workspace."""
    req.app.state.catalog.audit(
        action, actor=auth.user_id, tenant=auth.tenant_id, ip=client_ip(req), **details
    )
