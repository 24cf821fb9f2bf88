"""What audit entries mean, in words: "Signed in", "Invited ada@example.com as admin".

An action written anywhere with `record(req, auth, action, **details)` shows here by its
label; an action without one reads as its own name ("billing.plan_changed" -> "Billing:
plan changed"), so a new action never breaks a page. Add a line when you add an action.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Details = dict[str, Any]

_LABELS: dict[str, Callable[[Details], str]] = {
    "auth.sign_in": lambda d: "Signed in",
    "auth.sign_out": lambda d: "Signed out",
    "tenant.provisioned": lambda d: "Set up the workspace",
    "tenant.created": lambda d: f"Created the workspace {d.get('name', '')}".rstrip(),
    "tenant.deleted": lambda d: f"Deleted the workspace {d.get('name', '')}".rstrip(),
    "settings.changed": lambda d: "Changed the workspace settings",
    "invitation.sent": lambda d: (
        f"Invited {d.get('email', 'someone')}" + (f" as {d['role']}" if d.get("role") else "")
    ),
    "invitation.resent": lambda d: f"Sent the invitation to {d.get('email', 'someone')} again",
    "invitation.revoked": lambda d: f"Withdrew the invitation to {d.get('email', 'someone')}",
    "invitation.accepted": lambda d: "Joined" + (f" as {d['role']}" if d.get("role") else ""),
    "member.role_changed": lambda d: (
        f"Made {d.get('email', 'a member')} "
        + (f"{d['after']} (was {d.get('before', '?')})" if d.get("after") else "another role")
    ),
    "member.removed": lambda d: f"Removed {d.get('email', 'a member')}",
    "member.ownership_transferred": lambda d: f"Handed ownership to {d.get('email', 'a member')}",
    "member.left": lambda d: "Left the workspace",
    "account.export_requested": lambda d: "Asked for a data export",
    "account.export_downloaded": lambda d: "Downloaded a data export",
    "account.deleted": lambda d: "Deleted their account",
    "webhook.endpoint_created": lambda d: (
        f"Created a {d.get('source', '')} webhook endpoint".replace("  ", " ")
    ),
    "webhook.endpoint_revoked": lambda d: "Revoked a webhook endpoint",
    "webhook.secret_rotated": lambda d: "Rotated a webhook signing secret",
    "webhook.secret_revoked": lambda d: "Revoked a webhook signing secret",
}


def details_of(raw: str | None) -> Details:
    """An entry's details as a dict ({} for anything that is not a JSON object)."""
    try:
        found = json.loads(raw or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def action_name(action: str) -> str:
    """The action without its details ("Invited someone"), for lists of actions."""
    if action in _LABELS:
        return _LABELS[action]({})
    area, _, what = action.partition(".")
    return f"{area.capitalize()}: {what.replace('_', ' ')}" if what else action


def describe(action: str, details: Details) -> str:
    """One entry as a sentence without its subject (the person is shown next to it)."""
    label = _LABELS.get(action)
    return label(details) if label else action_name(action)
