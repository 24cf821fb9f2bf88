"""Invitations: owners and admins invite people by email; the link lets them join.

Three routers, one per access class (list them in app/routes/__init__.py):

- `rt` (tenant): the invitations panel, invite, send again, revoke. Needs members.manage;
  an admin may invite admins and members, only an owner may invite an owner.
- `link_rt` (public): `GET /invitations/{token}`, the page the email links to. Anyone may
  open it; a visitor who is not signed in is sent to sign in and brought back here.
- `accept_rt` (signed_in): `POST /invitations/{token}/accept`. The invitation binds to the
  signed-in account. If its address differs from the invitation's, the page says so plainly,
  and INVITE_EMAIL_MISMATCH decides: `confirm` (default) lets the invitee join as the account
  they are signed in with after confirming, `refuse` asks them to sign in with the invited
  address.

The email goes out as a background job after the response, so a slow or unreachable SMTP
server never holds up the request; the panel shows each invitation's delivery, retries and
errors included.
"""

from __future__ import annotations

from typing import Any, cast

from fasthtml.common import (
    H1,
    APIRouter,
    Div,
    Form,
    Hidden,
    Input,
    Option,
    P,
    Redirect,
    Select,
    Small,
    Span,
    Strong,
    Tr,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.billing.jobs import seats_changed
from app.billing.limits import over_limit, require_room_in
from app.billing.state import current_plan
from app.lib.email_send import normalize_address
from app.ui.components import CsrfField, PostButton, SettingsHeader, SettingsTabs
from app.ui.kit import (
    Badge,
    Button,
    Card,
    Cell,
    EmptyState,
    Field,
    PanelAction,
    StatusBadge,
    Table,
    Toasts,
    When,
    confirming,
)
from app.ui.layout import Brand, Page
from app.ui.time import workspace_zone
from app.web.audit import record
from app.web.permissions import can, manageable_roles, require
from app.web.signin import AFTER_SIGN_IN, client_ip
from app.webhooks.outbound import emit
from app.work.in_request import jobs_for
from app.work.jobs import job_manager
from tenants import billing, invitations, members
from tenants.catalog import ROLES, Auth
from tenants.jobs import FINISHED

rt = APIRouter()
link_rt = APIRouter()
accept_rt = APIRouter()

PANEL = "#invitations-panel"
EMAIL_MAX = 254
# A refused change answers 403 (not for your role), 410 (no longer open), else 409 (it
# clashes with the current state: already a member, already invited, too many, too soon).
_STATUS = {invitations.NotAllowed: 403, invitations.NotOpen: 410}
_GONE = {
    "accepted": "This invitation has already been used.",
    "revoked": "This invitation was withdrawn.",
    "expired": "This invitation has expired. Ask {inviter} to send a new one.",
}


def _refusal(error: invitations.InvitationError) -> HTTPException:
    return HTTPException(_STATUS.get(type(error), 409), str(error))


# -- the panel (settings) -----------------------------------------------------------------


def Delivery(invitation: dict):
    """How the email is doing: sending, retrying, sent, or failed. The mail server's own
    words (refused connections, error codes) are for the log, where the job system writes
    them with each failed attempt; people get what it means for them."""
    status, error = invitation["email_status"], invitation["email_error"]
    if status is None:
        return Span("—", cls="muted")
    if status == "completed":
        return StatusBadge("email", "sent")
    if status == "failed":
        return Div(
            StatusBadge("email", "failed"),
            Small("The email could not be sent. Try Send again later.", cls="error"),
        )
    if error:  # pending again after a failed attempt
        attempts = invitation["email_attempts"]
        return Div(
            Badge(f"retrying (attempt {attempts})", "warning", live=True),
            Small("The mail server could not take it yet; trying again shortly.", cls="error"),
        )
    return StatusBadge("email", "sending")


def InvitationRow(invitation: dict, among: tuple[str, ...], zone):
    state = invitations.status(invitation)
    can_act = state in ("pending", "expired") and invitation["role"] in among
    base = f"/invitations/{invitation['id']}"

    def action(label: str, path: str, **kw):
        return PanelAction(label, path, PANEL, **kw)

    return Tr(
        Cell(
            Div(
                Strong(invitation["email"], cls="truncate"),
                Small(f"by {invitation['inviter_email'] or 'a deleted account'}", cls="truncate"),
                cls="person-text",
            ),
            cls="primary-cell",
        ),
        Cell(StatusBadge("role", invitation["role"]), label="Role"),
        Cell(StatusBadge("invitation", state), label="Status"),
        Cell(When(invitation["expires_at"], zone), label="Expires"),
        Cell(Delivery(invitation) if state == "pending" else "", label="Email"),
        Cell(
            action("Send again", f"{base}/resend") if can_act else "",
            action(
                "Revoke",
                f"{base}/revoke",
                **confirming(
                    "The link in the email will stop working.",
                    title="Revoke this invitation?",
                    action="Revoke",
                ),
            )
            if can_act
            else "",
            cls="actions",
        ),
        id=f"invitation-{invitation['id']}",
    )


def InviteForm(among: tuple[str, ...], email: str = "", role: str = "member", error: str = ""):
    return Form(
        Field(
            "Email address",
            Input(
                type="email",
                name="email",
                value=email,
                placeholder="colleague@example.com",
                required=True,
                maxlength=EMAIL_MAX,
                autocomplete="off",
            ),
            error or None,
            id="invite-email",
        ),
        Field(
            "Role",
            Select(
                *[Option(r, value=r, selected=r == role) for r in among],
                name="role",
            ),
            id="invite-role",
            cls="field-narrow",
        ),
        Button("Invite", type="submit", icon="plus"),
        hx_post="/invitations",
        hx_target=PANEL,
        hx_swap="outerHTML",
        cls="inline-form invite-form",
    )


def InvitationsPanel(req: Request, auth: Auth, form=None):
    """The settings section: invite someone, and every invitation with its status and email
    delivery. Empty for roles that cannot manage members."""
    if not can(auth, "members", "manage"):
        return ""
    among = manageable_roles(auth.role)
    rows = invitations.listing(req.app.state.catalog, cast(str, auth.tenant_id))  # a tenant route
    # Poll while an email is still on its way, so a failure shows without a reload.
    waiting = any(
        r["email_status"] not in (None, *FINISHED) and invitations.status(r) == "pending"
        for r in rows
    )
    # Only the list polls (it picks its own part out of the panel): polling must never
    # replace the invite form, which may hold what someone is typing.
    poll = {
        "hx_get": "/invitations",
        "hx_trigger": "every 2s",
        "hx_select": "#invitations-list",
        "hx_target": "this",
        "hx_swap": "outerHTML",
        "hx_disinherit": "*",  # the rows' buttons keep their own target and selection
    }
    zone = workspace_zone(auth.db)
    table = (
        Table(
            ("Invited", "Role", "Status", "Expires", "Email", ""),
            *[InvitationRow(r, among, zone) for r in rows],
            stack=True,
        )
        if rows
        else EmptyState(
            "No invitations yet",
            "Invite a teammate above: they get an email with a link to join.",
            icon="mail",
        )
    )
    return Card(
        form or InviteForm(among),
        Div(table, id="invitations-list", **(poll if waiting else {})),
        title="Invitations",
        description="People you invite join with the role you choose. Links expire after "
        f"{invitations.DEFAULT_DAYS} days.",
        id="invitations-panel",
        hx_swap="outerHTML",
    )


def _send(req: Request, auth: Auth, email: str, role: str, token: str) -> tuple[str, object]:
    """Submit the invitation email as a background job; returns (job id, task).

    A system job, not one of the tenant's: a tenant job keeps a connection of the tenant's
    small pool for its whole run, so a few slow SMTP conversations would starve the tenant's
    own requests (bench/invite.py found it); a system job holds none while it sends.
    """
    url = f"{req.app.state.settings.base_url}/invitations/{token}"
    return jobs_for(req).submit_system(
        "email.send",
        template="invitation",
        to=email,
        workspace=auth.tenant_id,
        variables={
            "inviter_name": auth.name or auth.email,
            "tenant_name": auth.tenant_name,
            "role": role,
            "invitation_url": url,
            "expires_in": f"{invitations.DEFAULT_DAYS} days",
        },
    )


@rt.get("/settings/team")
def team_page(req: Request, auth):
    require(auth, "members", "manage")
    return Page(
        req,
        "Team",
        SettingsHeader(),
        SettingsTabs("/settings/team", auth),
        InvitationsPanel(req, auth),
    )


@rt.get("/invitations")
def invitations_panel(req: Request, auth):
    require(auth, "members", "manage")
    return InvitationsPanel(req, auth)


@rt.post("/invitations")
def invite(req: Request, auth, email: str = "", role: str = "member"):
    require(auth, "members", "manage")
    email = email if isinstance(email, str) else ""  # a file posted as `email` is no address
    among = manageable_roles(auth.role)
    if role not in ROLES:
        raise HTTPException(400, "Choose a role from the list.")
    if role not in among:
        raise HTTPException(403, f"Only an owner can invite an {role}.")
    try:
        address = normalize_address(email.strip())
    except ValueError as e:
        error = f"Enter one email address, like colleague@example.com. {e}"
        return InvitationsPanel(req, auth, InviteForm(among, email[:EMAIL_MAX], role, error))
    catalog = req.app.state.catalog
    try:
        invitation_id, token = invitations.create(
            catalog,
            auth.tenant_id,
            address,
            role,
            auth.user_id,
            seats=current_plan(auth).limit("members"),
        )
    except invitations.NoSeat as full:  # the plan's limit: say so, with the way to upgrade
        raise over_limit(auth, "members", full.used) from None
    except invitations.InvitationError as e:
        return InvitationsPanel(req, auth, InviteForm(among, address, role, str(e)))
    job_id, task = _send(req, auth, address, role, token)
    invitations.set_email_job(catalog, invitation_id, job_id)
    record(req, auth, "invitation.sent", invitation=invitation_id, email=address, role=role)
    return InvitationsPanel(req, auth), Toasts(f"Invitation sent to {address}."), task


@rt.post("/invitations/{invitation_id}/resend")
def resend(req: Request, auth, invitation_id: str):
    require(auth, "members", "manage")
    catalog = req.app.state.catalog
    try:
        renewed = invitations.renew(
            catalog, auth.tenant_id, invitation_id, manageable_roles(auth.role)
        )
    except invitations.InvitationError as e:
        raise _refusal(e) from None
    if renewed is None:
        raise HTTPException(404)
    invitation, token = renewed
    job_id, task = _send(req, auth, invitation["email"], invitation["role"], token)
    invitations.set_email_job(catalog, invitation["id"], job_id)
    record(req, auth, "invitation.resent", invitation=invitation["id"], email=invitation["email"])
    return InvitationsPanel(req, auth), Toasts(f"Sent again to {invitation['email']}."), task


@rt.post("/invitations/{invitation_id}/revoke")
def revoke(req: Request, auth, invitation_id: str):
    require(auth, "members", "manage")
    try:
        revoked = invitations.revoke(
            req.app.state.catalog, auth.tenant_id, invitation_id, manageable_roles(auth.role)
        )
    except invitations.InvitationError as e:
        raise _refusal(e) from None
    if revoked is None:
        raise HTTPException(404)
    record(req, auth, "invitation.revoked", invitation=revoked["id"], email=revoked["email"])
    return InvitationsPanel(req, auth), Toasts("Invitation revoked.")


# -- the link -----------------------------------------------------------------------------


def _open_invitation(req: Request, token: str) -> dict:
    """The invitation behind the link if it can still be accepted; 404 for a link that was
    never valid (mistyped, tampered), 410 with the reason for one that was."""
    invitation = invitations.find(req.app.state.catalog, token)
    if invitation is None:
        raise HTTPException(
            404, "This invitation link is not valid. Check that you copied all of it."
        )
    if invitation["tenant_status"] != "active":
        raise HTTPException(410, "The workspace of this invitation no longer exists.")
    state = invitations.status(invitation)
    if state != "pending":
        inviter = invitation["inviter_name"] or invitation["inviter_email"] or "the sender"
        raise HTTPException(410, _GONE[state].format(inviter=inviter))
    return invitation


def _signed_in(req: Request, sess) -> Auth | None:
    """Who is signed in on this public page (public routes do not look the session up)."""
    state = req.app.state
    token = sess.get("sid")
    if not token:
        return None
    return state.catalog.resolve(token, idle_minutes=state.settings.session_idle_minutes)


def InvitationCard(invitation: dict, *content):
    inviter = invitation["inviter_name"] or invitation["inviter_email"]
    return Div(
        Brand("/"),
        H1(f"Join {invitation['tenant_name']}"),
        P(
            Strong(inviter),
            f" invited {invitation['email']} to join as {invitation['role']}.",
            cls="lead",
        ),
        Div(*content, cls="stack"),
        P("The link expires ", When(invitation["expires_at"]), ".", cls="auth-foot"),
        cls="card auth-card",
    )


def AcceptForm(req: Request, token: str, label: str, other_email: bool = False):
    return Form(
        CsrfField(req),
        Hidden(name="other_email", value="yes") if other_email else "",
        Button(label, type="submit", cls="btn-block"),
        method="post",
        action=f"/invitations/{token}/accept",
    )


def MismatchNotice(req: Request, token: str, invitation: dict, who: Auth, policy: str):
    """The invitation is for another address than the signed-in account's: say so plainly."""
    notice = P(
        "This invitation was sent to ",
        Strong(invitation["email"]),
        ", but you are signed in as ",
        Strong(who.email),
        ".",
    )
    switch = Div(
        P("To use the invited address, sign out, sign in with it, then open the link again."),
        PostButton(req, "Sign out", "/logout", variant="outline", cls="btn-block"),
    )
    if policy == "refuse":
        return Div(notice, switch)
    return Div(
        notice,
        AcceptForm(req, token, f"Join as {who.email}", other_email=True),
        switch,
    )


@link_rt.get("/invitations/{token}")
def invitation_page(req: Request, sess, token: str):
    invitation = _open_invitation(req, token)
    who = _signed_in(req, sess)
    if who is None:
        sess[AFTER_SIGN_IN] = f"/invitations/{token}"  # come back here once signed in
        body: tuple[Any, ...] = (
            P("Sign in with ", Strong(invitation["email"]), " to accept."),
            Button("Sign in to accept", href="/login", cls="btn-block"),
        )
    elif any(
        m["id"] == invitation["tenant_id"] for m in req.app.state.catalog.memberships(who.user_id)
    ):
        body = (
            P("You are already a member of this workspace."),
            PostButton(
                req, "Open it", f"/tenants/{invitation['tenant_id']}/switch", cls="btn-block"
            ),
        )
    elif invitation["email"] == who.email.lower():
        body = (AcceptForm(req, token, f"Join {invitation['tenant_name']}"),)
    else:
        policy = req.app.state.settings.invite_email_mismatch
        body = (MismatchNotice(req, token, invitation, who, policy),)
    return Page(req, "Invitation", InvitationCard(invitation, *body), chrome="auth")


@accept_rt.post("/invitations/{token}/accept")
def accept(req: Request, auth, token: str, other_email: str = ""):
    invitation = _open_invitation(req, token)
    as_other = invitation["email"] != auth.email.lower()
    if as_other and req.app.state.settings.invite_email_mismatch == "refuse":
        raise HTTPException(
            403,
            f"This invitation is for {invitation['email']}. Sign in with that address to accept.",
        )
    if as_other and other_email != "yes":
        raise HTTPException(
            400,
            f"This invitation is for {invitation['email']}. "
            f"Confirm that you want to join as {auth.email}.",
        )
    state = req.app.state
    mine = state.catalog.memberships(auth.user_id)
    if not any(m["id"] == invitation["tenant_id"] for m in mine):
        # Invitations hold a seat, but the plan may have shrunk since this one was sent.
        seated, _ = billing.members_used(state.catalog, invitation["tenant_id"])
        require_room_in(state.catalog.tenant(invitation["tenant_id"]) or {}, "members", seated)
    try:
        used = invitations.accept(state.catalog, token, auth.user_id)
    except invitations.AlreadyMember:
        pass  # nothing to accept: take them there
    except invitations.InvitationError as e:
        raise _refusal(e) from None
    else:
        with state.databases.begin(used["tenant_id"]) as db:
            members.mirror(
                db, {"id": auth.user_id, "email": auth.email, "name": auth.name}, used["role"]
            )
            joined = {
                "id": auth.user_id,
                "email": auth.email,
                "name": auth.name,
                "role": used["role"],
            }
            emit(job_manager(req.app), db, "member.joined", joined)
        state.catalog.audit(  # in the workspace joined, not the one the session was in
            "invitation.accepted",
            actor=auth.user_id,
            tenant=used["tenant_id"],
            ip=client_ip(req),
            invitation=used["id"],
            role=used["role"],
            invited_email=used["email"],
            as_email=auth.email,
        )
        seats_changed(jobs_for(req), state.catalog, state.settings, used["tenant_id"])
    state.catalog.switch_session_tenant(auth.session_hash, invitation["tenant_id"])
    return Redirect("/dashboard")
