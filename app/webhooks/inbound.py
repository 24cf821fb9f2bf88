"""Inbound webhooks: the sources we understand, the handler registry, and the two halves of a
delivery: accepting it on the request, processing it as a job.

Accepting (`receive`: `find_endpoint`, then `accept`): the URL token names the endpoint and
so the tenant; the raw body is verified against the endpoint's live secrets before anything
parses it; then the event is stored under its unique (source, event id) together with the
job that will handle it, in one transaction, and acknowledged. A redelivery finds the id taken and is
acknowledged without a job, so it is never processed again.

Processing (the job `webhooks.process`) calls the handler registered for the event:

    from app.webhooks.inbound import webhook_handler

    @webhook_handler("github", "push")                # event type "*" catches the rest
    def record_push(ctx, event: dict) -> dict | None:
        ctx.db.execute(sa.text("INSERT INTO pushes (sha) VALUES (:sha)"), {...})

Write through `ctx.db` and do not commit: your writes, the event's `processed` mark and the
job's completion are committed together, so a crash can't apply them twice and a retry sees a
processed event and skips it. Effects outside the tenant database (email, HTTP) are at least once: make them
idempotent (most providers take an idempotency key; the event id is a good one). Handlers are
synchronous, run in a worker thread, and should be short (no `ctx.progress`): on SQLite their
uncommitted writes hold the tenant's write lock until the processor commits. Events without a handler are stored
and marked `ignored`. A handler that keeps failing leaves the event `failed` with its error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import sqlalchemy as sa
from starlette.background import BackgroundTask
from starlette.datastructures import Headers

from app.lib.signatures import (
    SignatureError,
    sign_github,
    sign_timestamped,
    verify_github,
    verify_timestamped,
)
from app.work.jobs import JobContext, JobManager
from tenants import webhooks as store
from tenants.routing import TenantDB
from tenants.sql import savepoint
from tenants.stamp import new_id

PROCESS_JOB = "webhooks.process"
PROCESS_ATTEMPTS = 5
TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")
EVENT_FIELD = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces


@dataclass(frozen=True)
class Source:
    """A kind of sender: how it signs and where it puts the event's id and type.

    Without `id_header`/`type_header` they come from the JSON body's "id" and "type".
    """

    name: str
    scheme: Literal["timestamped", "github"]
    signature_header: str
    id_header: str | None = None
    type_header: str | None = None
    test_type: str = "ping"  # the event type of the settings page's "send test event"

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: list[str]) -> None:
        """Raise `SignatureError` unless one of `secrets` signed `body`."""
        header = headers.get(self.signature_header)
        if self.scheme == "timestamped":
            verify_timestamped(header, body, secrets)
        else:
            verify_github(header, body, secrets)

    def signed_headers(
        self, secret: str, body: bytes, event_id: str, event_type: str
    ) -> dict[str, str]:
        """The headers a sender would add to `body`: what the test button and scripts use."""
        sign = sign_timestamped if self.scheme == "timestamped" else sign_github
        headers = {"Content-Type": "application/json", self.signature_header: sign(secret, body)}
        if self.id_header:
            headers[self.id_header] = event_id
        if self.type_header:
            headers[self.type_header] = event_type
        return headers

    def identify(self, headers: Mapping[str, str], event: dict[str, Any]) -> tuple[str, str]:
        """(event id, event type), or ValueError if either is missing or not a short token."""
        key = headers.get(self.id_header) if self.id_header else event.get("id")
        kind = headers.get(self.type_header) if self.type_header else event.get("type")
        if not (isinstance(key, str) and EVENT_FIELD.fullmatch(key)):
            raise ValueError("the event has no usable id")
        if not (isinstance(kind, str) and EVENT_FIELD.fullmatch(kind)):
            raise ValueError("the event has no usable type")
        return key, kind


SOURCES = {
    s.name: s
    for s in (
        # Stripe is not a tenant's source: it has one endpoint per account (app/billing).
        Source("demo", "timestamped", "Webhook-Signature", test_type="demo.ping"),
        Source(
            "github",
            "github",
            "X-Hub-Signature-256",
            id_header="X-GitHub-Delivery",
            type_header="X-GitHub-Event",
        ),
    )
}

WebhookHandler = Callable[[JobContext, dict[str, Any]], Any]
HANDLERS: dict[tuple[str, str], WebhookHandler] = {}


def webhook_handler(source: str, event_type: str) -> Callable[[WebhookHandler], WebhookHandler]:
    """Register `def handler(ctx, event: dict) -> dict | None` for one source and type."""
    if source not in SOURCES:
        raise ValueError(f"unknown webhook source {source!r}; add it to SOURCES")

    def register(handler: WebhookHandler) -> WebhookHandler:
        HANDLERS[(source, event_type)] = handler
        return handler

    return register


@dataclass(frozen=True)
class Receipt:
    """The answer to a delivery: an HTTP status, a short reason, and the job to run."""

    status: int
    message: str
    event_id: str | None = None
    task: BackgroundTask | None = None
    retry_after: int | None = None  # seconds, with 429


NOT_FOUND = Receipt(404, "not found")


def find_endpoint(manager: JobManager, source: str, token: str) -> dict[str, Any] | None:
    """The live endpoint for this URL, or None: one answer for every way of being wrong."""
    if source not in SOURCES or not TOKEN.fullmatch(token):
        return None
    endpoint = store.endpoint_for_token(manager.catalog, token)
    return endpoint if endpoint and endpoint["source"] == source else None


def receive(
    manager: JobManager,
    source: str,
    token: str,
    headers: Mapping[str, str],
    body: bytes,
    admit: Callable[[], float] = lambda: 0.0,
) -> Receipt:
    """A delivery to `/webhooks/<source>/<token>`, start to end (one trip to a worker thread).

    `admit()` is asked once the signature checked out: the seconds to wait before another
    verified delivery may be stored (the endpoint's rate limit), 0 to go ahead."""
    endpoint = find_endpoint(manager, source, token)
    return accept(manager, endpoint, headers, body, admit) if endpoint else NOT_FOUND


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def verified_event(
    source: Source, headers: Mapping[str, str], body: bytes, secrets: list[str]
) -> tuple[str, str, str]:
    """(body text, event id, event type) of a delivery signed by one of `secrets`.

    Raises `Refused`. The signature is checked on the raw bytes before anything parses them.
    """
    try:
        source.verify(headers, body, secrets)
    except SignatureError as error:
        raise Refused(401, str(error)) from None
    try:
        text = body.decode("utf-8")  # json.loads would also take UTF-16/32; we store UTF-8
        event = json.loads(text)
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, absurd nesting
        raise Refused(400, "the body is not valid JSON") from None
    if not isinstance(event, dict):
        raise Refused(400, "the body must be a JSON object")
    try:
        event_key, event_type = source.identify(headers, event)
    except ValueError as error:
        raise Refused(400, str(error)) from None
    return text, event_key, event_type


def accept(
    manager: JobManager,
    endpoint: dict[str, Any],
    headers: Mapping[str, str],
    body: bytes,
    admit: Callable[[], float] = lambda: 0.0,
    db: TenantDB | None = None,
) -> Receipt:
    """Verify, store once, and hand back the job to run after the response.

    A delivery from outside gets a connection and a transaction of its own. Pass `db`, a
    request's own handle on the endpoint's tenant (the settings page's test event), to store
    it in that request's unit of work instead of checking out a second connection."""
    source, headers = SOURCES[endpoint["source"]], Headers(headers=dict(headers))
    if db is not None:
        return _accept(manager, endpoint, source, headers, body, admit, db.conn, savepoint(db))
    engine = manager.databases.handle(endpoint["tenant_id"]).engine  # cached: no connection
    with engine.connect() as conn:
        writing = conn.execution_options(sqlite_immediate=True).begin
        return _accept(manager, endpoint, source, headers, body, admit, conn, writing, own=True)


def _accept(
    manager: JobManager,
    endpoint: dict[str, Any],
    source: Source,
    headers: Mapping[str, str],
    body: bytes,
    admit: Callable[[], float],
    conn: sa.Connection,
    writing: Any,
    own: bool = False,
) -> Receipt:
    secrets = store.live_secrets(conn, endpoint["id"])
    if own:
        conn.rollback()  # end the read's transaction: the write below begins its own
    try:
        text, event_key, event_type = verified_event(source, headers, body, secrets)
    except Refused as refused:
        return Receipt(refused.status, str(refused))
    if (wait := admit()) > 0:
        return Receipt(429, "too many deliveries", retry_after=math.ceil(wait))
    job_id = new_id()
    with writing() if own else writing:
        event_id = store.store_event(
            conn,
            endpoint_id=endpoint["id"],
            source=source.name,
            event_key=event_key,
            event_type=event_type,
            payload=text,
            job_id=job_id,
        )
        if event_id is None:
            return Receipt(200, "duplicate: already received")
        job = manager.new_job(PROCESS_JOB, {"event_id": event_id}, PROCESS_ATTEMPTS, job_id=job_id)
        # Its due-work entry is written (and committed) here, before this transaction is.
        claim = manager.create_claimed(conn, endpoint["tenant_id"], job)
    return Receipt(200, "received", event_id, manager.background(endpoint["tenant_id"], claim))


def test_delivery(source_name: str, secret: str) -> tuple[dict[str, str], bytes]:
    """A signed sample delivery for `source_name`: (headers, body)."""
    source = SOURCES[source_name]
    event_id, event_type = f"evt_test_{new_id()}", source.test_type
    body = json.dumps(
        {"id": event_id, "type": event_type, "data": {"message": "Test event from settings"}}
    ).encode()
    return source.signed_headers(secret, body, event_id, event_type), body


def process_event(ctx: JobContext, event_id: str) -> dict[str, Any]:
    """Run the event's handler once in effect (see the module docstring)."""
    db = cast(TenantDB, ctx.db)  # a tenant job: it has one
    conn = db.conn
    event = store.get_event(conn, event_id)
    if event is None:
        raise LookupError(f"webhook event {event_id} does not exist")
    if event["status"] in ("processed", "ignored"):
        return {"status": event["status"], "repeat": True}
    handler = HANDLERS.get((event["source"], event["event_type"])) or HANDLERS.get(
        (event["source"], "*")
    )
    if handler is None:
        store.mark_event(conn, event_id, "ignored")
        return {"status": "ignored"}
    try:
        result = handler(ctx, json.loads(event["payload"]))
    except Exception as error:
        db.rollback()
        status = "failed" if ctx.last_attempt else "received"
        store.mark_event(conn, event_id, status, f"{type(error).__name__}: {error}"[:2000])
        db.commit()
        raise
    store.mark_event(conn, event_id, "processed")
    return {"status": "processed", "result": result}
