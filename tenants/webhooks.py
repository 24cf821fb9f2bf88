"""Inbound webhook data: endpoints in the host catalog; secrets and events in each tenant.

An endpoint is a URL `/webhooks/<source>/<token>`. The catalog keeps only the token's SHA-256
(so a catalog leak reveals no live URL) and maps it to the tenant; the raw token is returned
once, when the endpoint is created. Signing secrets live in the tenant's own database, and a
tenant has at most one live endpoint per source.

Events are stored under a unique (source, event_key) before a delivery is acknowledged, so a
redelivery is recognised however often it comes. Tenant functions run on a connection you
pass, inside a transaction you control (see `tenants.jobs.writing`).
"""

from __future__ import annotations

import functools
import secrets
from typing import Any

import sqlalchemy as sa

from tenants import raw
from tenants.catalog import Catalog, token_hash
from tenants.stamp import from_now, new_id, now

_text = functools.lru_cache(maxsize=64)(sa.text)  # build each statement once (hot path)
SECRET_PREFIX = "whsec_"  # noqa: S105 (a label, not a secret)
TOKEN_HINT_LENGTH = 6


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# -- endpoints (host catalog) -----------------------------------------------------------------


def create_endpoint(catalog: Catalog, tenant_id: str, source: str) -> tuple[str, str] | None:
    """A new endpoint: (endpoint id, raw URL token), or None if the tenant already has a live
    endpoint for `source`. The raw token is not stored anywhere; show it once."""
    token, endpoint_id = secrets.token_urlsafe(32), new_id()
    try:
        catalog.execute(
            """INSERT INTO core_webhook_endpoints (id, token_hash, token_hint, tenant_id, source,
                                                   created_at)
               VALUES (:id, :hash, :hint, :tenant, :source, :t)""",
            id=endpoint_id,
            hash=token_hash(token),
            hint=token[:TOKEN_HINT_LENGTH],
            tenant=tenant_id,
            source=source,
            t=now(),
        )
    except sa.exc.IntegrityError:  # the partial unique index: one live endpoint per source
        return None
    return endpoint_id, token


_LIVE_ENDPOINT = """
    SELECT e.id, e.tenant_id, e.source FROM core_webhook_endpoints e
    JOIN core_tenants t ON t.id = e.tenant_id
    WHERE e.token_hash = :hash AND e.revoked_at IS NULL AND t.status = 'active'"""


def endpoint_for_token(catalog: Catalog, token: str) -> dict[str, Any] | None:
    """The live endpoint behind a URL token, if its tenant is active; else None."""
    return catalog.row(_LIVE_ENDPOINT, hash=token_hash(token))


def tenant_endpoints(catalog: Catalog, tenant_id: str) -> list[dict[str, Any]]:
    return catalog.rows(
        """SELECT id, source, token_hint, created_at FROM core_webhook_endpoints
           WHERE tenant_id = :tenant AND revoked_at IS NULL ORDER BY source, created_at""",
        tenant=tenant_id,
    )


def tenant_endpoint(catalog: Catalog, tenant_id: str, endpoint_id: str) -> dict[str, Any] | None:
    """A live endpoint of this tenant; another tenant's id is simply not found."""
    return catalog.row(
        """SELECT id, source, token_hint, created_at FROM core_webhook_endpoints
           WHERE id = :id AND tenant_id = :tenant AND revoked_at IS NULL""",
        id=endpoint_id,
        tenant=tenant_id,
    )


def revoke_endpoint(catalog: Catalog, tenant_id: str, endpoint_id: str) -> bool:
    revoked = catalog.execute(
        """UPDATE core_webhook_endpoints SET revoked_at = :t
           WHERE id = :id AND tenant_id = :tenant AND revoked_at IS NULL""",
        t=now(),
        id=endpoint_id,
        tenant=tenant_id,
    )
    return revoked == 1


# -- signing secrets (tenant database) --------------------------------------------------------


def add_secret(conn: sa.Connection, endpoint_id: str) -> tuple[str, str]:
    """A new secret for the endpoint: (secret id, secret). Show the secret once."""
    secret_id, secret = new_id(), new_secret()
    conn.execute(
        _text("""INSERT INTO webhook_secrets (id, endpoint_id, secret, created_at)
                   VALUES (:id, :endpoint, :secret, :t)"""),
        {"id": secret_id, "endpoint": endpoint_id, "secret": secret, "t": now()},
    )
    return secret_id, secret


def rotate_secret(conn: sa.Connection, endpoint_id: str, grace_seconds: float) -> tuple[str, str]:
    """A new secret; the live ones keep verifying for `grace_seconds` more, then expire."""
    conn.execute(
        _text("""UPDATE webhook_secrets SET expires_at = :until
                   WHERE endpoint_id = :endpoint AND revoked_at IS NULL
                     AND (expires_at IS NULL OR expires_at > :until)"""),
        {"endpoint": endpoint_id, "until": from_now(seconds=grace_seconds)},
    )
    return add_secret(conn, endpoint_id)


def revoke_secret(conn: sa.Connection, secret_id: str) -> bool:
    result = conn.execute(
        _text("UPDATE webhook_secrets SET revoked_at = :t WHERE id = :id AND revoked_at IS NULL"),
        {"t": now(), "id": secret_id},
    )
    return result.rowcount == 1


def revoke_endpoint_secrets(conn: sa.Connection, endpoint_id: str) -> None:
    conn.execute(
        _text("""UPDATE webhook_secrets SET revoked_at = :t
                   WHERE endpoint_id = :endpoint AND revoked_at IS NULL"""),
        {"t": now(), "endpoint": endpoint_id},
    )


_LIVE = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now)"
_LIVE_SECRETS = f"""SELECT secret FROM webhook_secrets WHERE endpoint_id = :endpoint AND {_LIVE}
                    ORDER BY created_at DESC, id"""


def live_secrets(conn: sa.Connection, endpoint_id: str) -> list[str]:
    """Secrets that verify deliveries right now, newest first."""
    rows = raw.query(conn, _LIVE_SECRETS, {"endpoint": endpoint_id, "now": now()})
    return [r["secret"] for r in rows]


def secret_overview(conn: sa.Connection, endpoint_id: str) -> list[dict[str, Any]]:
    """The endpoint's live secrets without their values, newest first."""
    rows = conn.execute(
        _text(f"""SELECT id, created_at, expires_at FROM webhook_secrets
                    WHERE endpoint_id = :endpoint AND {_LIVE} ORDER BY created_at DESC, id"""),
        {"endpoint": endpoint_id, "now": now()},
    )
    return [dict(r) for r in rows.mappings()]


def secret_endpoint(conn: sa.Connection, secret_id: str) -> str | None:
    """The endpoint a live secret belongs to, or None if this tenant has no such secret."""
    return conn.execute(
        _text(f"SELECT endpoint_id FROM webhook_secrets WHERE id = :id AND {_LIVE}"),
        {"id": secret_id, "now": now()},
    ).scalar()


# -- events (tenant database) -----------------------------------------------------------------


def store_event(
    conn: sa.Connection,
    *,
    endpoint_id: str,
    source: str,
    event_key: str,
    event_type: str,
    payload: str,
    job_id: str,
) -> str | None:
    """Store a verified delivery; its id, or None if this event was stored before."""
    rows = raw.query(
        conn,
        """INSERT INTO webhook_events (id, endpoint_id, source, event_key, event_type,
                                       payload, status, job_id, received_at)
           VALUES (:id, :endpoint, :source, :key, :type, :payload, 'received', :job, :t)
           ON CONFLICT (source, event_key) DO NOTHING RETURNING id""",
        {
            "id": new_id(),
            "endpoint": endpoint_id,
            "source": source,
            "key": event_key,
            "type": event_type,
            "payload": payload,
            "job": job_id,
            "t": now(),
        },
    )
    return rows[0]["id"] if rows else None


def get_event(conn: sa.Connection, event_id: str) -> dict[str, Any] | None:
    rows = raw.query(conn, "SELECT * FROM webhook_events WHERE id = :id", {"id": event_id})
    return rows[0] if rows else None


def mark_event(conn: sa.Connection, event_id: str, status: str, error: str | None = None) -> None:
    """Record what handling did: processed, ignored (no handler) or failed; or, with status
    'received', an error from an attempt that will be retried."""
    raw.query(
        conn,
        """UPDATE webhook_events SET status = :status, error = :error, processed_at = :t
           WHERE id = :id""",
        {
            "status": status,
            "error": error,
            "t": None if status == "received" else now(),
            "id": event_id,
        },
    )


def recent_events(conn: sa.Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        _text("""SELECT e.id, e.source, e.event_key, e.event_type, e.status, e.error,
                          e.received_at, e.processed_at, j.attempts
                   FROM webhook_events e LEFT JOIN tenant_jobs j ON j.id = e.job_id
                   ORDER BY e.received_at DESC, e.id LIMIT :n"""),
        {"n": limit},
    )
    return [dict(r) for r in rows.mappings()]
