"""A person's own sessions, as they manage them: list, sign out one, sign out the others.

Sessions are named on pages by a public id derived from the stored hash (never the hash
itself, let alone the cookie's token), and looked up among the person's own sessions only,
so another person's id is simply not found.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tenants.catalog import Catalog
from tenants.stamp import now


def public_id(session_hash: str) -> str:
    return hashlib.sha256(f"session:{session_hash}".encode()).hexdigest()[:24]


def live_sessions(catalog: Catalog, user_id: str) -> list[dict[str, Any]]:
    """The person's sessions that still work, most recently seen first (impersonations by
    an operator included: the person should see them)."""
    rows = catalog.rows(
        """SELECT id_hash, created_at, last_seen_at, ip, user_agent, signed_in_with,
                  impersonator_id
           FROM core_sessions WHERE user_id = :u AND revoked_at IS NULL AND expires_at > :t
           ORDER BY last_seen_at DESC, id_hash""",
        u=user_id,
        t=now(),
    )
    return [{**row, "public_id": public_id(row["id_hash"])} for row in rows]


def revoke(catalog: Catalog, user_id: str, public: str) -> bool:
    """Sign out the person's session with this public id; False if they have none such."""
    found = next((s for s in live_sessions(catalog, user_id) if s["public_id"] == public), None)
    if found is None:
        return False
    catalog.revoke_session(found["id_hash"])
    return True


def revoke_others(catalog: Catalog, user_id: str, keep: str) -> int:
    return catalog.execute(
        """UPDATE core_sessions SET revoked_at = :t
           WHERE user_id = :u AND id_hash <> :keep AND revoked_at IS NULL""",
        t=now(),
        u=user_id,
        keep=keep,
    )
