"""Superusers (the service's operators) and impersonation.

A superuser is promoted in the catalog (`main.py users promote EMAIL`) or named by
SUPERUSER_EMAILS. Only they reach /admin (access class `superuser`), and never from an
impersonation session.

Impersonation: a superuser opens a workspace as one of its members. It is a session of its
own (the member's, marked with the superuser as impersonator) that ends after 30 minutes;
the superuser's own session waits in the cookie and comes back when it stops, by the stop
button or by running out. Superusers cannot be impersonated. Start and stop are written to
the host's audit trail and the workspace's, and the person sees them under Account.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.settings import Settings
from app.web.signin import client_ip
from tenants.catalog import Auth, Catalog, token_hash

IMPERSONATION_MINUTES = 30
OPERATOR_KEY = "operator_sid"  # session key: the superuser's own session while impersonating
STARTED, STOPPED = "admin.impersonation_started", "admin.impersonation_stopped"


def is_superuser(settings: Settings, auth: Auth | None) -> bool:
    if auth is None or auth.impersonator_id is not None:
        return False
    return bool(auth.is_superuser) or auth.email.lower() in settings.superuser_emails


def refuse_if_impersonating(auth: Auth) -> None:
    """Sign-in methods (passkeys, sessions, the account itself) stay the person's own."""
    if auth.impersonator_id is not None:
        raise HTTPException(403, "Not while impersonating: sign-in methods are the person's own.")


def _audit_both(catalog: Catalog, action: str, operator: str, tenant: str, ip: str, **details):
    for where in (None, tenant):  # the host's trail and the workspace's
        catalog.audit(action, actor=operator, tenant=where, ip=ip, workspace=tenant, **details)


def start(req: Request, sess: dict, operator: Auth, tenant_id: str, user_id: str) -> None:
    state = req.app.state
    catalog = state.catalog
    member = catalog.row(
        """SELECT u.id, u.email, u.is_superuser, t.status FROM core_memberships m
           JOIN core_users u ON u.id = m.user_id JOIN core_tenants t ON t.id = m.tenant_id
           WHERE m.tenant_id = :t AND m.user_id = :u AND u.deleted_at IS NULL""",
        t=tenant_id,
        u=user_id,
    )
    if member is None:
        raise HTTPException(404)
    if member["is_superuser"] or member["email"].lower() in state.settings.superuser_emails:
        raise HTTPException(403, "Superusers cannot be impersonated.")
    if member["status"] != "active":
        raise HTTPException(409, "Only an active workspace can be opened.")
    token = catalog.create_session(
        user_id,
        tenant_id,
        absolute_hours=IMPERSONATION_MINUTES / 60,
        ip=client_ip(req),
        agent=req.headers.get("user-agent", ""),
        signed_in_with="impersonation",
        second_factor="impersonation",  # the operator's own sign-in stands for it
        impersonator_id=operator.user_id,
    )
    _audit_both(catalog, STARTED, operator.user_id, tenant_id, client_ip(req), target=user_id)
    sess[OPERATOR_KEY], sess["sid"] = sess["sid"], token


def stop(req: Request, sess: dict, auth: Auth, reason: str = "stopped") -> None:
    """End the impersonation `auth` is, and give the superuser their own session back."""
    catalog = req.app.state.catalog
    catalog.revoke_session(auth.session_hash)
    if auth.impersonator_id and auth.tenant_id:
        _audit_both(
            catalog,
            STOPPED,
            auth.impersonator_id,
            auth.tenant_id,
            client_ip(req),
            target=auth.user_id,
            reason=reason,
        )
    _restore(sess)


def ran_out(req: Request, sess: dict) -> bool:
    """Called when the session in the cookie is no longer live: if it was an impersonation
    that ran out, record its end and give the superuser their session back."""
    operator_sid, token = sess.get(OPERATOR_KEY), sess.get("sid")
    if not isinstance(operator_sid, str) or not isinstance(token, str):
        return False
    catalog = req.app.state.catalog
    row = catalog.row(
        """SELECT user_id, tenant_id, impersonator_id, revoked_at FROM core_sessions
           WHERE id_hash = :h AND impersonator_id IS NOT NULL""",
        h=token_hash(token),
    )
    if row and row["revoked_at"] is None and row["tenant_id"]:
        catalog.revoke_session(token_hash(token))
        _audit_both(
            catalog,
            STOPPED,
            row["impersonator_id"],
            row["tenant_id"],
            client_ip(req),
            target=row["user_id"],
            reason="time limit",
        )
    _restore(sess)
    return True


def _restore(sess: dict) -> None:
    operator_sid = sess.pop(OPERATOR_KEY, None)
    sess.clear()
    if isinstance(operator_sid, str):
        sess["sid"] = operator_sid


def seen_by(catalog: Catalog, user_id: str, limit: int = 20) -> list[dict]:
    """Impersonations of this person (the workspace-side entries), newest first."""
    return catalog.rows(
        """SELECT a.at, a.action, a.tenant_id, t.name AS workspace, a.details
           FROM sys_audit_logs a LEFT JOIN core_tenants t ON t.id = a.tenant_id
           WHERE a.action IN (:started, :stopped) AND a.tenant_id IS NOT NULL
             AND a.details LIKE :target
           ORDER BY a.at DESC, a.id LIMIT :n""",
        started=STARTED,
        stopped=STOPPED,
        target=f'%"target": "{user_id}"%',
        n=limit,
    )
