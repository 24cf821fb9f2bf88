"""API keys: made per workspace, shown once, stored as a SHA-256, looked up per request.

A key is `sk_` and 43 random URL-safe characters (256 bits). Its first characters (`prefix`)
are kept in the clear so people can tell keys apart. A key acts as its workspace: `resolve`
answers with the tenant and the key's scope, never a person.

Lookups are cached per process like sessions (tenants/auth_cache.py): `core_api_keys` is one
of the auth tables, so making or revoking a key moves the catalog's auth epoch and every
process sees a revocation on its next request. Expiry is checked on every request against
the cached row. `last_used_at` is written at most once a minute per key, without moving the
epoch (nobody's access changed).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenants.auth_cache import NO_BUMP, EpochCache, seconds
from tenants.catalog import Catalog, token_hash
from tenants.stamp import new_id, now

SCOPES = ("read", "write")
KEY_PREFIX = "sk_"
PREFIX_SHOWN = 11  # "sk_" and 8 characters
TOUCH_SECONDS = 60
NAME_MAX = 100


@dataclass(frozen=True)
class ApiKey:
    """What a request with a valid key acts as: a workspace, with the key's scope."""

    key_id: str
    key_hash: str
    prefix: str
    name: str
    scope: str
    tenant_id: str
    tenant_status: str
    expires: float | None  # seconds since the epoch; None: never
    plan_tier: str | None = None  # the workspace's plan, until plan_ends_at (app/billing/state.py)
    plan_ends_at: str | None = None

    def allows(self, scope: str) -> bool:
        return scope == "read" or self.scope == "write"


@dataclass
class _Found:
    key: ApiKey
    used: float  # when last_used_at was last written (seconds since the epoch)


_RESOLVE = """
SELECT k.id AS key_id, k.key_hash, k.prefix, k.name, k.scope, k.tenant_id, k.expires_at,
       k.last_used_at, t.status AS tenant_status, t.plan_tier, t.plan_ends_at
FROM core_api_keys k JOIN core_tenants t ON t.id = k.tenant_id
WHERE k.key_hash = :h AND k.revoked_at IS NULL
"""


class ApiKeys:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._cache = EpochCache(catalog.epoch)

    def create(
        self, tenant_id: str, name: str, scope: str, created_by: str, expires_at: str | None
    ) -> tuple[str, str]:
        """A new key; returns (key id, the key itself), which is never shown again."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = new_id()
        self.catalog.execute(
            """INSERT INTO core_api_keys (id, tenant_id, name, prefix, key_hash, scope,
                                          created_by, created_at, expires_at)
               VALUES (:id, :t, :name, :prefix, :h, :scope, :by, :now, :exp)""",
            id=key_id,
            t=tenant_id,
            name=name,
            prefix=key[:PREFIX_SHOWN],
            h=token_hash(key),
            scope=scope,
            by=created_by,
            now=now(),
            exp=expires_at,
        )
        return key_id, key

    def listing(self, tenant_id: str) -> list[dict[str, Any]]:
        return self.catalog.rows(
            """SELECT k.id, k.name, k.prefix, k.scope, k.created_at, k.expires_at,
                      k.last_used_at, k.revoked_at, u.email AS created_by_email
               FROM core_api_keys k LEFT JOIN core_users u ON u.id = k.created_by
               WHERE k.tenant_id = :t ORDER BY k.created_at DESC, k.id""",
            t=tenant_id,
        )

    def revoke(self, tenant_id: str, key_id: str) -> bool:
        """Revoke one of the tenant's keys; False if it has no such live key."""
        return bool(
            self.catalog.execute(
                """UPDATE core_api_keys SET revoked_at = :now
                   WHERE id = :id AND tenant_id = :t AND revoked_at IS NULL""",
                now=now(),
                id=key_id,
                t=tenant_id,
            )
        )

    def resolve(self, key: str) -> ApiKey | None:
        """The live key behind a bearer token, or None (unknown, revoked or expired)."""
        digest = token_hash(key)
        found = self._cache.get(digest, lambda: self._lookup(digest))
        if found is None or (found.key.expires is not None and found.key.expires <= time.time()):
            return None
        return found.key

    def touch_due(self, key: ApiKey) -> bool:
        """Whether its `last_used_at` is over a minute old: then `touch` it (off the loop)."""
        found = self._cache.peek(key.key_hash)
        return found is None or time.time() - found.used > TOUCH_SECONDS

    def touch(self, key: ApiKey) -> None:
        """Mark the key used now. Nobody's access changes, so the epoch stays put."""
        found = self._cache.peek(key.key_hash)
        if found is not None:
            found.used = time.time()
        with self.catalog.engine.begin() as conn:
            conn.execution_options(**{NO_BUMP: True}).execute(
                sa.text("UPDATE core_api_keys SET last_used_at = :t WHERE id = :id"),
                {"t": now(), "id": key.key_id},
            )

    def _lookup(self, digest: str) -> _Found | None:
        row = self.catalog.row(_RESOLVE, h=digest)
        if row is None:
            return None
        expires, used = row.pop("expires_at"), row.pop("last_used_at")
        key = ApiKey(**row, expires=seconds(expires) if expires else None)
        return _Found(key, seconds(used) if used else 0.0)
