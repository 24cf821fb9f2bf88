"""The account page's security panels: ways in, passkeys, sessions and support access."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from fasthtml.common import A, Div, Form, Input, Li, P, Small, Strong, Tr, Ul

from app.lib.devices import device_name, place
from app.ui.kit import Button, Card, Cell, EmptyState, Field, Table, When, confirming
from app.web.passkeys import NAME_MAX, passkeys_of
from app.web.security import csrf_token
from tenants.catalog import Auth
from tenants.identities import identities_of
from tenants.user_sessions import live_sessions

ISSUERS = {"email": "Email link", "urn:dev-sign-in": "Development sign-in"}


def may_change_passkeys(auth: Auth, count: int) -> bool:
    """Adding a first passkey is open; after that, changing them takes a session that has
    used a passkey (or a recovery link), so a stolen first factor cannot swap them."""
    if auth.impersonator_id is not None:
        return False
    return count == 0 or auth.second_factor in ("passkey", "recovery")


def issuer_name(issuer: str) -> str:
    if issuer in ISSUERS:
        return ISSUERS[issuer]
    host = urlsplit(issuer).hostname or issuer
    return "GitHub" if host == "github.com" else host


def SignInMethodsPanel(catalog, auth: Auth):
    ways = identities_of(catalog, auth.user_id)
    return Card(
        Ul(
            *[
                Li(
                    issuer_name(w["issuer"]),
                    Small(" · ", w["email"], " · last used "),
                    When(w["last_used_at"]),
                )
                for w in ways
            ]
        ),
        title="Ways you sign in",
        description="Every way below signs you in to this same account. A provider joins it"
        " only when it has verified your email address.",
        id="sign-in-methods",
    )


def PasskeyRow(passkey: dict, editable: bool):
    controls = (
        Div(
            Form(
                Input(
                    name="name",
                    value=passkey["name"],
                    maxlength=NAME_MAX,
                    required=True,
                    aria_label=f"Name of {passkey['name']}",
                ),
                Button("Rename", type="submit", variant="outline", size="sm"),
                hx_post=f"/account/passkeys/{passkey['id']}/rename",
                hx_target="#passkeys",
                hx_swap="outerHTML",
                cls="inline-form",
            ),
            Button(
                "Remove",
                variant="danger-outline",
                size="sm",
                icon="trash",
                hx_post=f"/account/passkeys/{passkey['id']}/remove",
                hx_target="#passkeys",
                hx_swap="outerHTML",
                **confirming(f"Remove the passkey {passkey['name']}?", action="Remove"),
            ),
            cls="btn-group",
        )
        if editable
        else ""
    )
    return Tr(
        Cell(Strong(passkey["name"]), label="Name"),
        Cell(When(passkey["created_at"]), label="Added"),
        Cell(When(passkey["last_used_at"]), label="Last used"),
        Cell(controls, cls="actions"),
        id=f"passkey-{passkey['id']}",
    )


def PasskeysPanel(req, auth: Auth, error: str = ""):
    passkeys = passkeys_of(req.app.state.catalog, auth.user_id)
    editable = may_change_passkeys(auth, len(passkeys))
    if auth.impersonator_id is not None:
        adding = P("Passkeys cannot be changed while impersonating.", cls="muted")
    elif editable:
        adding = Div(
            Field(
                "Name for a new passkey",
                Input(
                    name="passkey_name",
                    id="passkey-name",
                    maxlength=NAME_MAX,
                    placeholder="Laptop, phone…",
                ),
            ),
            Button(
                "Add a passkey",
                icon="plus",
                id="passkey-register",
                data_kind="create",
                data_csrf=csrf_token(req),
                data_options="/account/passkeys/options",
                data_verify="/account/passkeys",
            ),
        )
    else:
        adding = P(
            "To add, rename or remove passkeys, ",
            A("confirm with one of them", href="/login/second-step"),
            " first (lost it? that page can email you a recovery link).",
            cls="muted",
        )
    return Card(
        Table(
            ("Name", "Added", "Last used", ("", "actions")),
            *[PasskeyRow(p, editable) for p in passkeys],
            stack=True,
        )
        if passkeys
        else EmptyState(
            "No passkeys yet.",
            "Add one below: your device's screen lock signs you in.",
            icon="shield",
        ),
        adding,
        Small(error, cls="field-error", id="passkey-error", role="alert"),
        title="Passkeys",
        description="Sign in with your device's screen lock instead of an email link.",
        id="passkeys",
    )


def SessionRow(session: dict, current: str):
    here = session["id_hash"] == current
    how = "operator (impersonation)" if session["impersonator_id"] else session["signed_in_with"]
    return Tr(
        Cell(
            device_name(session["user_agent"]),
            Small(" (this browser)") if here else "",
            label="Device",
        ),
        Cell(place(session["ip"]), label="Approximate place"),
        Cell(When(session["last_seen_at"]), label="Last seen"),
        Cell(Small(how or "—"), label="How"),
        Cell(
            ""
            if here
            else Button(
                "Sign out",
                variant="outline",
                size="sm",
                hx_post=f"/account/sessions/{session['public_id']}/revoke",
                hx_target="#sessions",
                hx_swap="outerHTML",
            ),
            cls="actions",
        ),
        id=f"session-{session['public_id']}",
    )


def SessionsPanel(req, auth: Auth):
    sessions = live_sessions(req.app.state.catalog, auth.user_id)
    others = [s for s in sessions if s["id_hash"] != auth.session_hash]
    return Card(
        Table(
            ("Device", "Approximate place", "Last seen", "How", ("", "actions")),
            *[SessionRow(s, auth.session_hash) for s in sessions],
            stack=True,
        ),
        title="Where you are signed in",
        description="Places are read from the address alone (no lookup service): private and"
        " local networks are named as such, other addresses are shown as they are.",
        actions=(
            Button(
                "Sign out all other sessions",
                variant="outline",
                icon="logout",
                hx_post="/account/sessions/revoke-others",
                hx_target="#sessions",
                hx_swap="outerHTML",
                **confirming("Sign out every other session?", action="Sign out", tone="warning"),
            ),
        )
        if others
        else (),
        flush=True,
        id="sessions",
    )


def SupportAccessPanel(entries: list[dict]):
    """When the service's operators opened a workspace as this person."""
    if not entries:
        return ""

    def line(entry: dict):
        details = json.loads(entry["details"] or "{}")
        verb = "started" if entry["action"].endswith("started") else "ended"
        why = f" ({details['reason']})" if details.get("reason") else ""
        return Li(
            When(entry["at"]),
            f" · support access {verb}{why} in {entry['workspace'] or 'a workspace'}",
        )

    return Card(
        Ul(*[line(e) for e in entries]),
        title="Support access",
        description="An operator of the service opened a workspace as you:",
        id="support-access",
    )
