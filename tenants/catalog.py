"""The host catalog: users, tenants, memberships, sessions and the audit log.

Plain SQL with bound parameters over a pooled engine; every function opens and returns its
own connection, so it is safe from any thread. Reads run on the driver's cursor
(tenants/raw.py); session lookups and membership lists are cached per process and kept
honest by the auth epoch (tenants/auth_cache.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenants import raw
from tenants.auth_cache import NO_BUMP, Epoch, EpochCache, bump_on_auth_writes, seconds
from tenants.engines import create_engine
from tenants.migrate import HOST_MIGRATIONS, migrate
from tenants.routing import TenantDB
from tenants.stamp import from_now, new_id, now

ROLES = ("owner", "admin", "member")


def add_identity(conn: sa.Connection, user_id: str, issuer: str, subject: str, email: str) -> None:
    """Record that (issuer, subject) signs `user_id` in (kept if it already does)."""
    stamp = now()
    conn.execute(
        sa.text("""
        INSERT INTO core_identities (id, user_id, issuer, subject, email, created_at, last_used_at)
        VALUES (:id, :u, :iss, :sub, :email, :t, :t)
        ON CONFLICT (issuer, subject) DO UPDATE SET email = excluded.email,
            last_used_at = excluded.last_used_at"""),
        dict(id=new_id(), u=user_id, iss=issuer, sub=subject, email=email, t=stamp),
    )


def _always(_: object) -> bool:
    return True


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Auth:
    """Who is asking and for which tenant: the result of one catalog lookup per request."""

    session_hash: str
    user_id: str
    email: str
    name: str
    avatar_url: str
    tenant_id: str | None
    tenant_name: str | None
    tenant_status: str | None
    plan_tier: str | None
    role: str | None
    last_seen_at: str
    expires_at: str = ""
    is_superuser: int = 0  # by the flag; SUPERUSER_EMAILS is the web app's to add
    require_passkey: int = 0  # the current tenant asks everyone for a passkey step
    second_factor: str | None = None  # how this session passed that step, if it did
    impersonator_id: str | None = None  # a superuser acting as this person
    db: TenantDB | None = None  # set by the web app for tenant-scoped requests
    # The plan's standing (app/billing/state.py): plan_tier applies until plan_ends_at.
    plan_status: str | None = None
    plan_ends_at: str | None = None

    def without_db(self) -> Auth:
        """Who and where, without the request's handle (hashable: a cache key)."""
        return dataclasses.replace(self, db=None) if self.db is not None else self


# One query per request: session, user, the session's current tenant and the membership in it.
# A tenant without a membership row comes back with role NULL, which the Beforeware refuses.
_RESOLVE = """
SELECT s.id_hash AS session_hash, s.last_seen_at, s.expires_at, u.id AS user_id, u.email, u.name,
       u.avatar_url, t.id AS tenant_id, t.name AS tenant_name, t.status AS tenant_status,
       t.plan_tier, t.plan_status, t.plan_ends_at, m.role, u.is_superuser,
       COALESCE(t.require_passkey, 0) AS require_passkey, s.second_factor, s.impersonator_id
FROM core_sessions s
JOIN core_users u ON u.id = s.user_id
LEFT JOIN core_tenants t ON t.id = s.tenant_id
LEFT JOIN core_memberships m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id
WHERE s.id_hash = :h AND s.revoked_at IS NULL AND s.expires_at > :now AND s.last_seen_at > :idle
"""


@dataclass
class _Session:
    auth: Auth
    expires: float  # seconds since the epoch
    seen: float


class Catalog:
    def __init__(self, url: str, *, pool_size: int = 10, pool_overflow: int = 20):
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_overflow)
        bump_on_auth_writes(self.engine)
        self.epoch = Epoch(self.engine)
        self._sessions = EpochCache(self.epoch)
        self._memberships = EpochCache(self.epoch)

    def migrate(self) -> list[str]:
        return migrate(self.engine, HOST_MIGRATIONS)

    def dispose(self) -> None:
        self.epoch.close()
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return raw.query(conn, sql, params)

    def row(self, sql: str, **params: Any) -> dict[str, Any] | None:
        found = self.rows(sql, **params)
        return found[0] if found else None

    def execute(self, sql: str, **params: Any) -> int:
        with self.engine.begin() as conn:
            return conn.execute(sa.text(sql), params).rowcount

    # -- users -------------------------------------------------------------------------------

    def upsert_user(self, issuer: str, subject: str, email: str, name: str, avatar: str) -> str:
        """The user id for (issuer, subject), created on first sight; profile refreshed."""
        stamp = now()
        with self.begin() as conn:
            conn.execute(
                sa.text("""
                INSERT INTO core_users (id, issuer, subject, email, name, avatar_url,
                                        created_at, last_login_at)
                VALUES (:id, :iss, :sub, :email, :name, :avatar, :t, :t)
                ON CONFLICT (issuer, subject) DO UPDATE SET email = excluded.email,
                    name = excluded.name, avatar_url = excluded.avatar_url,
                    last_login_at = excluded.last_login_at"""),
                dict(
                    id=new_id(),
                    iss=issuer,
                    sub=subject,
                    email=email,
                    name=name,
                    avatar=avatar,
                    t=stamp,
                ),
            )
            user_id = conn.execute(
                sa.text("SELECT id FROM core_users WHERE issuer = :iss AND subject = :sub"),
                {"iss": issuer, "sub": subject},
            ).scalar_one()
            add_identity(conn, user_id, issuer, subject, email)
            return user_id

    def user(self, user_id: str) -> dict[str, Any] | None:
        return self.row("SELECT * FROM core_users WHERE id = :id", id=user_id)

    # -- tenants and memberships -------------------------------------------------------------

    def tenant(self, tenant_id: str) -> dict[str, Any] | None:
        return self.row("SELECT * FROM core_tenants WHERE id = :id", id=tenant_id)

    def memberships(self, user_id: str) -> list[dict[str, Any]]:
        """The user's usable tenants, oldest first (cached; do not change the list)."""
        return self._memberships.get(user_id, lambda: self._memberships_of(user_id), _always)

    def _memberships_of(self, user_id: str) -> list[dict[str, Any]]:
        return self.rows(
            """SELECT t.id, t.name, t.status, m.role FROM core_memberships m
               JOIN core_tenants t ON t.id = m.tenant_id
               WHERE m.user_id = :u AND t.status IN ('active', 'suspended')
               ORDER BY m.created_at, t.id""",
            u=user_id,
        )

    def members(self, tenant_id: str) -> list[dict[str, Any]]:
        return self.rows(
            """SELECT u.id, u.email, u.name, m.role FROM core_memberships m
               JOIN core_users u ON u.id = m.user_id WHERE m.tenant_id = :t
               ORDER BY m.created_at, u.id""",
            t=tenant_id,
        )

    def rename_tenant(self, tenant_id: str, name: str) -> None:
        self.execute(
            "UPDATE core_tenants SET name = :n, updated_at = :t WHERE id = :id",
            n=name,
            t=now(),
            id=tenant_id,
        )

    def set_tenant_status(self, tenant_id: str, status: str) -> int:
        return self.execute(
            "UPDATE core_tenants SET status = :s, updated_at = :t WHERE id = :id",
            s=status,
            t=now(),
            id=tenant_id,
        )

    def remove_membership(self, user_id: str, tenant_id: str) -> int:
        return self.execute(
            "DELETE FROM core_memberships WHERE user_id = :u AND tenant_id = :t",
            u=user_id,
            t=tenant_id,
        )

    # -- sessions ----------------------------------------------------------------------------

    def create_session(
        self,
        user_id: str,
        tenant_id: str | None,
        *,
        absolute_hours: float,
        ip: str,
        agent: str,
        signed_in_with: str = "",
        second_factor: str | None = None,
        impersonator_id: str | None = None,
    ) -> str:
        """A new session; returns the raw token for the cookie (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        stamp = now()
        self.execute(
            """INSERT INTO core_sessions (id_hash, user_id, tenant_id, created_at, last_seen_at,
                                          expires_at, ip, user_agent, signed_in_with,
                                          second_factor, impersonator_id)
               VALUES (:h, :u, :tenant, :t, :t, :exp, :ip, :ua, :via, :second, :imp)""",
            h=token_hash(token),
            u=user_id,
            tenant=tenant_id,
            t=stamp,
            exp=from_now(seconds=absolute_hours * 3600),
            ip=ip[:64],
            ua=agent[:256],
            via=signed_in_with[:32],
            second=second_factor,
            imp=impersonator_id,
        )
        return token

    def resolve(self, token: str, *, idle_minutes: int) -> Auth | None:
        """The live session behind a cookie token, or None if unknown, revoked or expired."""
        digest, moment = token_hash(token), time.time()

        def live(found: _Session | None) -> bool:
            idle_since = moment - idle_minutes * 60
            return found is not None and found.expires > moment and found.seen > idle_since

        found = self._sessions.get(digest, lambda: self._session(digest, idle_minutes), live)
        return found.auth if live(found) else None

    def _session(self, digest: str, idle_minutes: int) -> _Session | None:
        params = {"h": digest, "now": now(), "idle": from_now(minutes=-idle_minutes)}
        found = self.rows(_RESOLVE, **params)
        if not found:
            return None
        row = found[0]
        expires = seconds(row["expires_at"])
        auth = Auth(**row)
        return _Session(auth, expires, seconds(auth.last_seen_at))

    def seen_since(self, auth: Auth) -> float:
        """Seconds since the session was last marked seen (by `touch_session`)."""
        found = self._sessions.peek(auth.session_hash)
        return time.time() - (found.seen if found else seconds(auth.last_seen_at))

    def touch_session(self, session_hash: str) -> None:
        """Mark the session seen now. Nobody's access changes, so the epoch stays put."""
        stamp = now()
        with self.engine.begin() as conn:
            conn.execution_options(**{NO_BUMP: True}).execute(
                sa.text("UPDATE core_sessions SET last_seen_at = :t WHERE id_hash = :h"),
                {"t": stamp, "h": session_hash},
            )
        found = self._sessions.peek(session_hash)
        if found is not None:
            found.seen = seconds(stamp)

    def switch_session_tenant(self, session_hash: str, tenant_id: str) -> None:
        self.execute(
            "UPDATE core_sessions SET tenant_id = :t WHERE id_hash = :h",
            t=tenant_id,
            h=session_hash,
        )

    def revoke_session(self, session_hash: str) -> None:
        self.execute(
            "UPDATE core_sessions SET revoked_at = :t WHERE id_hash = :h AND revoked_at IS NULL",
            t=now(),
            h=session_hash,
        )

    # -- audit log (append-only: there is deliberately no update or delete here) -----------

    def audit(
        self, action: str, *, actor: str | None, tenant: str | None, ip: str = "", **details: Any
    ) -> None:
        self.execute(
            """INSERT INTO sys_audit_logs (id, at, actor_user_id, tenant_id, action, ip, details)
               VALUES (:id, :at, :actor, :tenant, :action, :ip, :details)""",
            id=new_id(),
            at=now(),
            actor=actor,
            tenant=tenant,
            action=action,
            ip=ip[:64],
            details=json.dumps(details, sort_keys=True, default=str),
        )

    def recent_audit(self, tenant_id: str, limit: int = 10) -> list[dict[str, Any]]:
        return self.rows(
            """SELECT a.at, a.action, a.details, u.email AS actor FROM sys_audit_logs a
               LEFT JOIN core_users u ON u.id = a.actor_user_id
               WHERE a.tenant_id = :t ORDER BY a.at DESC, a.id LIMIT :n""",
            t=tenant_id,
            n=limit,
        )

    # -- OpenID state between /login and /auth/callback (authlib's cache protocol) ----------

    async def get(self, key: str) -> str | None:
        row = await asyncio.to_thread(
            self.row,
            "SELECT value FROM core_oauth_states WHERE key = :k AND expires_at > :t",
            k=key,
            t=now(),
        )
        return row["value"] if row else None

    async def set(self, key: str, value: str, expires_in: int | None = None) -> None:
        await asyncio.to_thread(self._set_state, key, value, expires_in or 600)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.execute, "DELETE FROM core_oauth_states WHERE key = :k", k=key)

    def _set_state(self, key: str, value: str, expires_in: int) -> None:
        with self.begin() as conn:
            conn.execute(
                sa.text("DELETE FROM core_oauth_states WHERE expires_at < :t"), {"t": now()}
            )
            conn.execute(
                sa.text(
                    "INSERT INTO core_oauth_states (key, value, expires_at) VALUES (:k, :v, :e)"
                ),
                {"k": key, "v": value, "e": from_now(seconds=expires_in)},
            )
