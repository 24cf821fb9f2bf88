"""Invitations to join a tenant: a link with a random token, a role and an expiry.

The token is shown once, in the link; the catalog keeps only its SHA-256, and looks it up by
hash. An invitation is single use (accepting marks it in the same transaction that adds the
membership), revocable, and can be sent again, which makes a new token and a new expiry so
an older link stops working. Its status follows from its timestamps (see `status`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tenants import members
from tenants.catalog import Catalog, token_hash
from tenants.stamp import from_now, new_id, now, parse

DEFAULT_DAYS = 7
MAX_OPEN = 100  # open invitations per tenant: enough for a team, not for a spam run
RESEND_PAUSE = timedelta(minutes=1)
TOKEN_MAX = 100  # longer "tokens" are not ours; don't even hash them

_SELECT = """SELECT i.id, i.tenant_id, i.email, i.role, i.invited_by, i.email_job_id,
                    i.created_at, i.sent_at, i.expires_at, i.accepted_at, i.revoked_at,
                    t.name AS tenant_name, t.status AS tenant_status,
                    u.name AS inviter_name, u.email AS inviter_email
             FROM core_invitations i
             JOIN core_tenants t ON t.id = i.tenant_id
             JOIN core_users u ON u.id = i.invited_by"""


class InvitationError(Exception):
    """An invitation the rules refuse; the message is fit to show."""


class AlreadyMember(InvitationError):
    pass


class AlreadyInvited(InvitationError):
    pass


class TooMany(InvitationError):
    pass


class TooSoon(InvitationError):
    pass


class NotAllowed(InvitationError):
    pass


class NotOpen(InvitationError):
    """Accepted, revoked, expired, or its tenant is gone."""


class NoSeat(InvitationError):
    """The tenant's plan has no seat left for another person (members + open invitations)."""

    def __init__(self, used: int):
        super().__init__(f"All {used} seats are taken.")
        self.used = used


def status(invitation: Mapping[Any, Any], at: str | None = None) -> str:
    """accepted | revoked | expired | pending."""
    if invitation["accepted_at"]:
        return "accepted"
    if invitation["revoked_at"]:
        return "revoked"
    if invitation["expires_at"] <= (at or now()):
        return "expired"
    return "pending"


def create(
    catalog: Catalog,
    tenant_id: str,
    email: str,
    role: str,
    invited_by: str,
    days: int = DEFAULT_DAYS,
    seats: int | None = None,
) -> tuple[str, str]:
    """A new invitation of `email` (lower-case) as `role`; returns (id, token). With `seats`,
    raises NoSeat if members and open invitations already fill that many."""
    token, invitation_id, stamp = secrets.token_urlsafe(32), new_id(), now()
    try:
        with catalog.begin() as conn:
            members.lock_tenant(conn, tenant_id)
            if _is_member(conn, tenant_id, email):
                raise AlreadyMember(f"{email} is already a member.")
            # An expired invitation to the same address makes way for this one.
            conn.execute(
                sa.text("""UPDATE core_invitations SET revoked_at = :now
                           WHERE tenant_id = :t AND email = :e AND accepted_at IS NULL
                             AND revoked_at IS NULL AND expires_at <= :now"""),
                {"now": stamp, "t": tenant_id, "e": email},
            )
            if _open_count(conn, tenant_id) >= MAX_OPEN:
                raise TooMany(f"There are {MAX_OPEN} open invitations; revoke some first.")
            if seats is not None and (used := _seats_used(conn, tenant_id, stamp)) >= seats:
                raise NoSeat(used)
            conn.execute(
                sa.text("""INSERT INTO core_invitations (id, tenant_id, email, role, token_hash,
                               invited_by, created_at, sent_at, expires_at)
                           VALUES (:id, :t, :e, :role, :h, :by, :now, :now, :exp)"""),
                {
                    "id": invitation_id,
                    "t": tenant_id,
                    "e": email,
                    "role": role,
                    "h": token_hash(token),
                    "by": invited_by,
                    "now": stamp,
                    "exp": from_now(days=days),
                },
            )
    except sa.exc.IntegrityError:  # the one-open-invitation-per-address index
        raise AlreadyInvited(
            f"{email} already has a pending invitation: send it again from the list."
        ) from None
    return invitation_id, token


def renew(
    catalog: Catalog,
    tenant_id: str,
    invitation_id: str,
    among: Sequence[str],
    days: int = DEFAULT_DAYS,
) -> tuple[dict[str, Any], str] | None:
    """Send again: a new token and expiry for a pending or expired invitation to one of the
    roles `among`. Returns the invitation and the new token, or None if this tenant has no
    such invitation."""
    token, stamp = secrets.token_urlsafe(32), now()
    with catalog.begin() as conn:
        members.lock_tenant(conn, tenant_id)
        found = _open_in_tenant(conn, tenant_id, invitation_id, among, stamp)
        if found is None:
            return None
        if parse(found["sent_at"]) + RESEND_PAUSE > parse(stamp):
            raise TooSoon("It was sent a moment ago. Give it a minute before sending again.")
        conn.execute(
            sa.text("""UPDATE core_invitations SET token_hash = :h, sent_at = :now,
                           expires_at = :exp, email_job_id = NULL
                       WHERE id = :id"""),
            {"h": token_hash(token), "now": stamp, "exp": from_now(days=days), "id": found["id"]},
        )
    return found, token


def revoke(
    catalog: Catalog, tenant_id: str, invitation_id: str, among: Sequence[str]
) -> dict[str, Any] | None:
    """Withdraw a pending or expired invitation to one of the roles `among`. Returns it, or
    None if this tenant has no such invitation."""
    stamp = now()
    with catalog.begin() as conn:
        members.lock_tenant(conn, tenant_id)
        found = _open_in_tenant(conn, tenant_id, invitation_id, among, stamp)
        if found is None:
            return None
        conn.execute(
            sa.text("UPDATE core_invitations SET revoked_at = :now WHERE id = :id"),
            {"now": stamp, "id": found["id"]},
        )
    return found


def set_email_job(catalog: Catalog, invitation_id: str, job_id: str) -> None:
    catalog.execute(
        "UPDATE core_invitations SET email_job_id = :j WHERE id = :id", j=job_id, id=invitation_id
    )


def listing(catalog: Catalog, tenant_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The tenant's invitations, newest first, each with how its email is doing: the status,
    attempts and last error of its job (`email_status` is None before it has one)."""
    return catalog.rows(
        f"""SELECT q.*, j.status AS email_status, j.attempts AS email_attempts,
                   j.error AS email_error
            FROM ({_SELECT}) q LEFT JOIN sys_jobs j ON j.id = q.email_job_id
            WHERE q.tenant_id = :t ORDER BY q.created_at DESC, q.id LIMIT :n""",
        t=tenant_id,
        n=limit,
    )


def find(catalog: Catalog, token: str) -> dict[str, Any] | None:
    """The invitation behind a link token (any status), with its tenant and inviter."""
    if not token or len(token) > TOKEN_MAX:
        return None
    return catalog.row(f"{_SELECT} WHERE i.token_hash = :h", h=token_hash(token))


def accept(catalog: Catalog, token: str, user_id: str) -> dict[str, Any]:
    """Use the invitation: the user joins its tenant with its role, once.

    The invitation is marked used and the membership added in one transaction; a second
    attempt, a revoked or expired invitation, or a tenant that is no longer active raises
    NotOpen, and an existing member raises AlreadyMember (the invitation stays unused).
    """
    stamp = now()
    with catalog.begin() as conn:
        used = (
            conn.execute(
                sa.text("""UPDATE core_invitations SET accepted_at = :now, accepted_by = :u
                           WHERE token_hash = :h AND accepted_at IS NULL
                             AND revoked_at IS NULL AND expires_at > :now
                             AND tenant_id IN (SELECT id FROM core_tenants
                                               WHERE status = 'active')
                           RETURNING id, tenant_id, email, role"""),
                {"now": stamp, "u": user_id, "h": token_hash(token)},
            )
            .mappings()
            .first()
        )
        if used is None:
            raise NotOpen("This invitation can no longer be used.")
        if not members.add(conn, used["tenant_id"], user_id, used["role"]):
            raise AlreadyMember("You are already a member of this workspace.")
    return dict(used)


def _open_in_tenant(
    conn: sa.Connection, tenant_id: str, invitation_id: str, among: Sequence[str], at: str
) -> dict[str, Any] | None:
    """The tenant's invitation with this id (None if there is none), if it is still open and
    for a role the caller may give; raises otherwise."""
    row = (
        conn.execute(
            sa.text(f"{_SELECT} WHERE i.tenant_id = :t AND i.id = :id"),
            {"t": tenant_id, "id": invitation_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["role"] not in among:
        raise NotAllowed(f"Only an owner can change an invitation to be {row['role']}.")
    if status(row, at) not in ("pending", "expired"):
        raise NotOpen(f"This invitation was already {status(row, at)}.")
    return dict(row)


def _is_member(conn: sa.Connection, tenant_id: str, email: str) -> bool:
    return (
        conn.execute(
            sa.text("""SELECT 1 FROM core_memberships m JOIN core_users u ON u.id = m.user_id
                       WHERE m.tenant_id = :t AND lower(u.email) = :e"""),
            {"t": tenant_id, "e": email},
        ).first()
        is not None
    )


def _seats_used(conn: sa.Connection, tenant_id: str, at: str) -> int:
    """Members plus invitations that can still be accepted."""
    return conn.execute(
        sa.text("""SELECT (SELECT COUNT(*) FROM core_memberships WHERE tenant_id = :t)
                        + (SELECT COUNT(*) FROM core_invitations WHERE tenant_id = :t
                           AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > :at)"""),
        {"t": tenant_id, "at": at},
    ).scalar_one()


def _open_count(conn: sa.Connection, tenant_id: str) -> int:
    return conn.execute(
        sa.text("""SELECT COUNT(*) FROM core_invitations
                   WHERE tenant_id = :t AND accepted_at IS NULL AND revoked_at IS NULL"""),
        {"t": tenant_id},
    ).scalar_one()
