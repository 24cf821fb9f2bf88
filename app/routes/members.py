"""The people of the current workspace: roles, last activity, and the changes owners and admins
make (role, removal, handing over ownership). Anyone may leave.

Every member id in a path is looked up within the session's tenant, so another tenant's id
is simply not found (404). The rules (only an owner touches an owner; there is always an
owner) are checked in the same transaction as the change, in tenants/members.py.
"""

from __future__ import annotations

import dataclasses
from typing import cast

from fasthtml.common import APIRouter, Div, HtmxResponseHeaders, Option, Select, Small, Strong, Tr
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.billing.jobs import seats_changed
from app.ui.kit import (
    Avatar,
    Button,
    Card,
    Cell,
    PageHeader,
    PanelAction,
    StatusBadge,
    Table,
    Toasts,
    When,
    confirming,
)
from app.ui.layout import Page
from app.ui.time import workspace_zone
from app.web.audit import record
from app.web.permissions import can, manageable_roles, require
from app.work.in_request import jobs_for
from tenants import members
from tenants.catalog import ROLES, Auth

rt = APIRouter()
PANEL = "#members-panel"
_STATUS = {members.NoSuchMember: 404, members.NotAllowed: 403, members.LastOwner: 409}


def _refusal(error: members.MembershipError) -> HTTPException:
    return HTTPException(_STATUS[type(error)], str(error))


def ActionButton(label: str, path: str, question: str, action: str):
    return PanelAction(label, path, PANEL, **confirming(question, action=action))


def RoleControl(member: dict, among: tuple[str, ...]):
    """The member's role; a select that saves on change where the viewer may change it."""
    if member["role"] not in among:
        return StatusBadge("role", member["role"])
    return Select(
        *[Option(r.capitalize(), value=r, selected=r == member["role"]) for r in among],
        name="role",
        aria_label=f"Role of {member['email']}",
        hx_post=f"/members/{member['id']}/role",
        hx_trigger="change",
        hx_target=PANEL,
        hx_swap="outerHTML",
        cls="role-select",
    )


def MemberRow(member: dict, auth: Auth, among: tuple[str, ...], zone):
    me = member["user_id"] == auth.user_id
    actions = []
    if me:
        actions.append(
            ActionButton("Leave", "/members/leave", "You lose access to this workspace.", "Leave")
        )
    elif member["role"] in among:
        actions.append(
            ActionButton(
                "Remove",
                f"/members/{member['id']}/remove",
                f"Remove {member['email']} from this workspace?",
                "Remove",
            )
        )
    if auth.role == "owner" and member["role"] != "owner" and among:
        actions.append(
            ActionButton(
                "Make owner",
                f"/members/{member['id']}/transfer",
                f"Hand ownership to {member['email']}? You become an admin.",
                "Hand over",
            )
        )
    name = member["name"] or member["email"]
    return Tr(
        Cell(
            Div(
                Avatar(member["name"], member["email"]),
                Div(
                    Strong(name, " ", Small("(you)") if me else "", cls="truncate"),
                    Small(member["email"], cls="truncate") if member["name"] else "",
                ),
                cls="person",
            ),
            cls="primary-cell",
        ),
        Cell(RoleControl(member, among), label="Role"),
        Cell(When(member["last_active_at"], zone), label="Last active"),
        Cell(*actions, cls="actions"),
        id=f"member-{member['id']}",
    )


def MembersPanel(req: Request, auth: Auth):
    """Everyone in the workspace with role and last activity, and the actions the viewer's
    role allows (for the dashboard or the settings page)."""
    among = manageable_roles(auth.role) if can(auth, "members", "manage") else ()
    people = members.listing(req.app.state.catalog, cast(str, auth.tenant_id))  # a tenant route
    zone = workspace_zone(auth.db)
    return Card(
        Table(
            ("Person", "Role", "Last active", ""),
            *[MemberRow(m, auth, among, zone) for m in people],
            stack=True,
        ),
        title="Members",
        description=f"{len(people)} {'person' if len(people) == 1 else 'people'} in {auth.tenant_name}.",
        flush=True,
        id="members-panel",
    )


@rt.get("/members")
def members_page(req: Request, auth):
    invite = (
        Button("Invite people", href="/settings/team", icon="plus")
        if can(auth, "members", "manage")
        else ""
    )
    return Page(
        req,
        "Members",
        PageHeader("Members", f"The people of {auth.tenant_name} and what they may do.", invite),
        MembersPanel(req, auth),
    )


@rt.post("/members/{membership_id}/role")
def change_role(req: Request, auth, membership_id: str, role: str = ""):
    require(auth, "members", "manage")
    if role not in ROLES:
        raise HTTPException(400, "Choose a role from the list.")
    try:
        before = members.set_role(
            req.app.state.catalog, auth.tenant_id, membership_id, role, manageable_roles(auth.role)
        )
    except members.MembershipError as e:
        raise _refusal(e) from None
    members.set_mirror_role(auth.db, before["user_id"], role)
    record(
        req,
        auth,
        "member.role_changed",
        member=before["user_id"],
        email=before["email"],
        before=before["role"],
        after=role,
    )
    if before["user_id"] == auth.user_id:  # the viewer's own role changed: show what it allows now
        auth = dataclasses.replace(auth, role=role)
    return MembersPanel(req, auth), Toasts(f"{before['email']} is now {role}.")


@rt.post("/members/{membership_id}/remove")
def remove(req: Request, auth, membership_id: str):
    require(auth, "members", "manage")
    try:
        removed = members.remove(
            req.app.state.catalog, auth.tenant_id, membership_id, manageable_roles(auth.role)
        )
    except members.MembershipError as e:
        raise _refusal(e) from None
    members.unmirror(auth.db, removed["user_id"])
    seats_changed(jobs_for(req), req.app.state.catalog, req.app.state.settings, auth.tenant_id)
    record(
        req,
        auth,
        "member.removed",
        member=removed["user_id"],
        email=removed["email"],
        role=removed["role"],
    )
    return MembersPanel(req, auth), Toasts(f"{removed['email']} was removed.")


@rt.post("/members/{membership_id}/transfer")
def transfer(req: Request, auth, membership_id: str):
    require(auth, "members", "manage")
    try:
        target = members.transfer_ownership(
            req.app.state.catalog, auth.tenant_id, auth.user_id, membership_id
        )
    except members.MembershipError as e:
        raise _refusal(e) from None
    members.set_mirror_role(auth.db, target["user_id"], "owner")
    members.set_mirror_role(auth.db, auth.user_id, "admin")
    record(
        req, auth, "member.ownership_transferred", member=target["user_id"], email=target["email"]
    )
    auth = dataclasses.replace(auth, role="admin")
    return MembersPanel(req, auth), Toasts(f"{target['email']} is now the owner.")


@rt.post("/members/leave")
def leave(req: Request, auth):
    catalog = req.app.state.catalog
    try:
        members.leave(catalog, auth.tenant_id, auth.user_id)
    except members.MembershipError as e:
        raise _refusal(e) from None
    members.unmirror(auth.db, auth.user_id)
    seats_changed(jobs_for(req), catalog, req.app.state.settings, auth.tenant_id)
    record(req, auth, "member.left")
    remaining = catalog.memberships(auth.user_id)
    if remaining:
        catalog.switch_session_tenant(auth.session_hash, remaining[0]["id"])
    return HtmxResponseHeaders(redirect="/dashboard" if remaining else "/tenants")
