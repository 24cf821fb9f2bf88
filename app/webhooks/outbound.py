"""Outbound webhooks: tell a workspace's own URLs when something happens in it.

Event types are a registry other areas add to (billing registers `subscription.updated`):

    from app.webhooks.outbound import emit, register_event

    register_event("invoice.paid", "An invoice was paid")
    ...
    emit(job_manager(req.app), auth.db, "invoice.paid", {"id": invoice_id, "total": cents})

`emit` writes one delivery per enabled endpoint subscribed to the type, and its job, in the
caller's unit of work (a request's or a job's `ctx.db`): an event that rolls back is never
sent, and one that commits is sent at least once. Each delivery is the job "webhooks.deliver":
signed per Standard Webhooks (`webhook-id` is the delivery's id, the same on every attempt;
`webhook-timestamp`; `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>` with
the endpoint's `whsec_` secret), POSTed through app/lib/safe_http.py (SSRF checks at connect
time; no redirects; a capped read; OUTBOUND_WEBHOOK_TIMEOUT_SECONDS). A non-2xx answer or a
network error fails the attempt; the job system retries it after
OUTBOUND_WEBHOOK_RETRY_BASE_SECONDS * 4^(n-1) (with jitter), OUTBOUND_WEBHOOK_ATTEMPTS times
in all (about a day with the defaults), then the delivery is `failed`. An endpoint whose
deliveries failed for good OUTBOUND_WEBHOOK_DISABLE_AFTER times in a row is disabled, and
the workspace's owners are emailed. Every attempt is logged (status, code, duration); a
delivery can be sent again from the log (`replay`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import httpcore

from app.lib import safe_http
from app.telemetry.metrics import WEBHOOKS_OUT
from tenants.routing import TenantDB
from tenants.stamp import new_id, now

if TYPE_CHECKING:
    from app.settings import Settings
    from app.work.jobs import JobContext, JobManager

log = logging.getLogger(__name__)

DELIVER_JOB = "webhooks.deliver"
EXCERPT = 500  # characters of a receiver's answer kept in the log
URL_MAX = 2000
DESCRIPTION_MAX = 200


@dataclass(frozen=True)
class EventType:
    name: str
    description: str


EVENTS: dict[str, EventType] = {}


def register_event(name: str, description: str) -> None:
    """Make `name` an event type workspaces can subscribe to (once, at import)."""
    EVENTS[name] = EventType(name, description)


register_event("note.created", "A note was added (in the app or through the API)")
register_event("member.joined", "Someone joined the workspace by accepting an invitation")
register_event("sync.completed", "A data sync finished successfully")


def policy_for(settings: Settings | None) -> safe_http.AddressPolicy:
    """Production refuses loopback too; development and tests have receivers on 127.0.0.1."""
    return safe_http.AddressPolicy(allow_loopback=not (settings and settings.is_production))


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The Standard Webhooks `webhook-signature` value for one attempt."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# -- endpoints (the tenant's own table) ----------------------------------------------------


def create_endpoint(db: TenantDB, url: str, event_types: list[str], description: str) -> str:
    endpoint_id, stamp = new_id(), now()
    db.q(
        """INSERT INTO outbound_endpoints (id, url, description, event_types, secret,
                                           created_at, updated_at)
           VALUES (:id, :url, :d, :types, :secret, :t, :t)""",
        id=endpoint_id,
        url=url,
        d=description,
        types=json.dumps(sorted(event_types)),
        secret=new_secret(),
        t=stamp,
    )
    return endpoint_id


def endpoints(db: TenantDB) -> list[dict[str, Any]]:
    rows = db.q("SELECT * FROM outbound_endpoints ORDER BY created_at, id")
    for row in rows:
        row["event_types"] = json.loads(row["event_types"])
    return rows


def endpoint(db: TenantDB, endpoint_id: str) -> dict[str, Any] | None:
    rows = db.q("SELECT * FROM outbound_endpoints WHERE id = :id", id=endpoint_id)
    if not rows:
        return None
    rows[0]["event_types"] = json.loads(rows[0]["event_types"])
    return rows[0]


def set_status(db: TenantDB, endpoint_id: str, status: str, reason: str | None = None) -> None:
    db.q(
        """UPDATE outbound_endpoints SET status = :s, disabled_reason = :r, updated_at = :t,
               failed_in_a_row = CASE WHEN :s = 'enabled' THEN 0 ELSE failed_in_a_row END
           WHERE id = :id""",
        s=status,
        r=reason,
        t=now(),
        id=endpoint_id,
    )


def delete_endpoint(db: TenantDB, endpoint_id: str) -> None:
    db.q(
        "DELETE FROM outbound_attempts WHERE delivery_id IN "
        "(SELECT id FROM outbound_deliveries WHERE endpoint_id = :id)",
        id=endpoint_id,
    )
    db.q("DELETE FROM outbound_deliveries WHERE endpoint_id = :id", id=endpoint_id)
    db.q("DELETE FROM outbound_endpoints WHERE id = :id", id=endpoint_id)


def deliveries(db: TenantDB, limit: int = 20) -> list[dict[str, Any]]:
    return db.q(
        """SELECT d.id, d.endpoint_id, d.event_type, d.status, d.attempts, d.response_status,
                  d.duration_ms, d.error, d.created_at, d.updated_at, e.url
           FROM outbound_deliveries d JOIN outbound_endpoints e ON e.id = d.endpoint_id
           ORDER BY d.created_at DESC, d.id LIMIT :n""",
        n=limit,
    )


def delivery(db: TenantDB, delivery_id: str) -> dict[str, Any] | None:
    rows = db.q("SELECT * FROM outbound_deliveries WHERE id = :id", id=delivery_id)
    return rows[0] if rows else None


def attempts(db: TenantDB, delivery_id: str) -> list[dict[str, Any]]:
    return db.q(
        "SELECT * FROM outbound_attempts WHERE delivery_id = :id ORDER BY attempt", id=delivery_id
    )


# -- sending -------------------------------------------------------------------------------


def emit(manager: JobManager, db: TenantDB, event_type: str, data: dict[str, Any]) -> int:
    """Queue `event_type` for every enabled endpoint subscribed to it, in `db`'s unit of
    work; returns how many deliveries were made."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown event type {event_type!r}; register_event() it first")
    targets = [
        e for e in endpoints(db) if e["status"] == "enabled" and event_type in e["event_types"]
    ]
    if not targets:
        return 0
    body = json.dumps({"type": event_type, "timestamp": now(), "data": data}, sort_keys=True)
    for target in targets:
        _queue(manager, db, target["id"], event_type, body)
    return len(targets)


def _queue(manager: JobManager, db: TenantDB, endpoint_id: str, event_type: str, body: str) -> str:
    settings = manager.settings
    attempts = settings.outbound_attempts if settings else 8
    delivery_id = "msg_" + new_id()
    job = manager.new_job(DELIVER_JOB, {"delivery_id": delivery_id}, attempts)
    stamp = now()
    db.q(
        """INSERT INTO outbound_deliveries (id, endpoint_id, event_type, payload, job_id,
                                            created_at, updated_at)
           VALUES (:id, :e, :type, :body, :job, :t, :t)""",
        id=delivery_id,
        e=endpoint_id,
        type=event_type,
        body=body,
        job=job.job_id,
        t=stamp,
    )
    manager.create_pending(db.conn, db.tenant_id, job, None)
    return delivery_id


def replay(manager: JobManager, db: TenantDB, delivery_id: str) -> str | None:
    """Send a delivery's event again, as a new delivery; None if there is no such delivery."""
    found = delivery(db, delivery_id)
    if found is None:
        return None
    return _queue(manager, db, found["endpoint_id"], found["event_type"], found["payload"])


class DeliveryFailed(Exception):
    """An attempt that did not get a 2xx: the job system retries it (see `retry_delay`)."""


def retry_delay(attempt: int, settings: Settings | None) -> float:
    """Seconds before attempt `attempt + 1`: base * 4^(attempt-1), jittered down to half."""
    base = settings.outbound_retry_base_seconds if settings else 15.0
    return base * 4 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311 (jitter)


def deliver(ctx: JobContext, delivery_id: str) -> dict[str, Any]:
    """The job: one attempt at one delivery (see the module docstring)."""
    db = cast(TenantDB, ctx.db)
    found = delivery(db, delivery_id)
    if found is None or found["status"] != "pending":
        return {"status": found["status"] if found else "gone"}
    target = endpoint(db, found["endpoint_id"])
    if target is None or target["status"] != "enabled":
        _finish(db, delivery_id, "failed", error="The endpoint is disabled.")
        return {"status": "failed", "reason": "endpoint disabled"}
    code, error, seconds = _attempt(ctx, target, found)
    ok = code is not None and 200 <= code < 300
    attempt = found["attempts"] + 1
    db.q(
        """INSERT INTO outbound_attempts (id, delivery_id, attempt, at, response_status,
                                          duration_ms, error)
           VALUES (:id, :d, :n, :t, :code, :ms, :error)""",
        id=new_id(),
        d=delivery_id,
        n=attempt,
        t=now(),
        code=code,
        ms=round(seconds * 1000),
        error=error,
    )
    if ok:
        _finish(db, delivery_id, "succeeded", attempt, code, seconds)
        db.q("UPDATE outbound_endpoints SET failed_in_a_row = 0 WHERE id = :id", id=target["id"])
        WEBHOOKS_OUT.labels(found["event_type"], "succeeded").inc()
        return {"status": "succeeded", "response_status": code, "attempt": attempt}
    given_up = ctx.last_attempt
    _finish(db, delivery_id, "failed" if given_up else "pending", attempt, code, seconds, error)
    WEBHOOKS_OUT.labels(found["event_type"], "failed" if given_up else "retrying").inc()
    if given_up:
        _count_failure(ctx, target)
    db.commit()  # the attempt's record stays, although the job's attempt fails
    raise DeliveryFailed(error or f"HTTP {code}")


deliver.retry_delay = retry_delay  # type: ignore[attr-defined]  # read by app/work/jobs.py


def _attempt(
    ctx: JobContext, target: dict[str, Any], found: dict[str, Any]
) -> tuple[int | None, str | None, float]:
    """(response status or None, error or None, seconds) of one signed POST."""
    settings = ctx.settings
    timestamp = int(time.time())
    body = found["payload"]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "fasthtml-saas-webhooks/1",
        "webhook-id": found["id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(target["secret"], found["id"], timestamp, body),
    }
    started = time.monotonic()
    try:
        reply = safe_http.post(
            target["url"],
            body.encode(),
            headers,
            policy=policy_for(settings),
            timeout=settings.outbound_timeout_seconds if settings else 10.0,
        )
    except safe_http.Refused as e:
        return None, f"Refused: {e}", time.monotonic() - started
    except httpcore.TimeoutException:
        return None, "Timed out", time.monotonic() - started
    except (httpcore.NetworkError, httpcore.ProtocolError) as e:
        return None, f"{type(e).__name__}: {e}"[:EXCERPT], time.monotonic() - started
    error = None
    if not 200 <= reply.status < 300:
        excerpt = reply.body.decode("utf-8", "replace")[:EXCERPT]
        kind = "redirect (not followed)" if 300 <= reply.status < 400 else "answer"
        error = f"HTTP {reply.status} {kind}: {excerpt}".strip()
    return reply.status, error, reply.seconds


def _finish(
    db: TenantDB,
    delivery_id: str,
    status: str,
    attempts: int | None = None,
    code: int | None = None,
    seconds: float | None = None,
    error: str | None = None,
) -> None:
    db.q(
        """UPDATE outbound_deliveries SET status = :s, updated_at = :t, error = :error,
               attempts = COALESCE(:n, attempts), response_status = :code, duration_ms = :ms
           WHERE id = :id""",
        s=status,
        t=now(),
        error=error,
        n=attempts,
        code=code,
        ms=round(seconds * 1000) if seconds is not None else None,
        id=delivery_id,
    )


def _count_failure(ctx: JobContext, target: dict[str, Any]) -> None:
    """One more delivery failed for good: disable the endpoint after enough in a row."""
    db = cast(TenantDB, ctx.db)
    row = db.q(
        """UPDATE outbound_endpoints SET failed_in_a_row = failed_in_a_row + 1
           WHERE id = :id RETURNING failed_in_a_row""",
        id=target["id"],
    )
    limit = ctx.settings.outbound_disable_after if ctx.settings else 5
    if not row or row[0]["failed_in_a_row"] < limit or target["status"] != "enabled":
        return
    reason = f"{row[0]['failed_in_a_row']} deliveries in a row failed."
    set_status(db, target["id"], "disabled", reason)
    _tell_owners(ctx, target, reason)


def _tell_owners(ctx: JobContext, target: dict[str, Any], reason: str) -> None:
    owners = ctx.catalog.rows(
        """SELECT u.email, u.name FROM core_memberships m JOIN core_users u ON u.id = m.user_id
           WHERE m.tenant_id = :t AND m.role = 'owner' AND u.deleted_at IS NULL""",
        t=ctx.tenant_id,
    )
    tenant = ctx.catalog.tenant(cast(str, ctx.tenant_id)) or {"name": ""}
    recipients = [
        {
            "to": o["email"],
            "variables": {
                "name": o["name"] or o["email"],
                "tenant_name": tenant["name"],
                "url": target["url"],
                "reason": reason,
            },
        }
        for o in owners
        if o["email"]
    ]
    if recipients and ctx.manager is not None:
        ctx.manager.enqueue(
            None, "email.send_batch", template="webhook_disabled", recipients=recipients
        )
    log.warning("outbound webhook endpoint %s disabled: %s", target["id"], reason)
