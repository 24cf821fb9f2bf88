"""Who a sign-in is: the person behind an identity (issuer + subject), found, linked or made.

A person may sign in several ways (a provider, an email link, another provider): each way is
an identity in core_identities. A way seen before signs its person in. A new way whose email
the provider has verified (every way in here verifies it: providers that do not vouch for an
address are refused before this point, and an email link proves the inbox) joins the person
who already has that email, so "Ada through Google" and "Ada through a link" are one person.
Otherwise a new person is made, keyed by the identity, so two simultaneous first sign-ins of
one identity still make one person.
"""

from __future__ import annotations

import sqlalchemy as sa

from tenants.catalog import Catalog, add_identity
from tenants.stamp import now

_KNOWN = """
SELECT u.id FROM core_identities i JOIN core_users u ON u.id = i.user_id
WHERE i.issuer = :iss AND i.subject = :sub AND u.deleted_at IS NULL
"""
_SAME_EMAIL = """
SELECT id FROM core_users WHERE email = :email AND email <> '' AND deleted_at IS NULL
ORDER BY created_at, id LIMIT 1
"""


def person_for(
    catalog: Catalog, issuer: str, subject: str, email: str, name: str = "", avatar: str = ""
) -> tuple[str, bool]:
    """(user id, whether this sign-in made the person) for a verified sign-in."""
    with catalog.begin() as conn:
        params = {"iss": issuer, "sub": subject, "email": email}
        user_id = conn.execute(sa.text(_KNOWN), params).scalar()
        if user_id is None:
            user_id = conn.execute(sa.text(_SAME_EMAIL), params).scalar()
        if user_id is not None:
            add_identity(conn, user_id, issuer, subject, email)
            _refresh(conn, user_id, email, name, avatar)
            return user_id, False
    return catalog.upsert_user(issuer, subject, email, name, avatar), True


def _refresh(conn: sa.Connection, user_id: str, email: str, name: str, avatar: str) -> None:
    """The profile as the latest sign-in gave it; a way in that knows no name (an email link)
    keeps the one there is."""
    conn.execute(
        sa.text("""UPDATE core_users SET email = :email, last_login_at = :t,
                       name = CASE WHEN :name = '' THEN name ELSE :name END,
                       avatar_url = CASE WHEN :name = '' THEN avatar_url ELSE :avatar END
                   WHERE id = :u"""),
        {"email": email, "t": now(), "name": name, "avatar": avatar, "u": user_id},
    )


def identities_of(catalog: Catalog, user_id: str) -> list[dict]:
    return catalog.rows(
        """SELECT issuer, email, created_at, last_used_at FROM core_identities
           WHERE user_id = :u ORDER BY created_at, id""",
        u=user_id,
    )
