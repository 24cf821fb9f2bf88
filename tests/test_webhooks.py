"""Inbound webhooks over HTTP: verified on raw bytes, stored once, handled once, isolated."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import pytest
from starlette.testclient import TestClient

from app.lib.signatures import sign_github, sign_timestamped
from app.settings import Settings
from app.webhooks.inbound import webhook_handler
from app.work.jobs import JobConfig, JobManager
from app.work.scheduler import Scheduler
from tests.conftest import dev_sign_in, page_csrf

MAX_BODY_BYTES = Settings().webhook_max_body_bytes  # the default the app runs with here

URL = re.compile(r"http://[^/\s<]+(/webhooks/[a-z]+/[A-Za-z0-9_-]{43})")
SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{43}")

handled: dict[str, int] = {}


@webhook_handler("demo", "test.flaky")
def flaky(ctx, event):
    handled[event["id"]] = handled.get(event["id"], 0) + 1
    if handled[event["id"]] <= event["data"]["failures"]:
        raise RuntimeError(f"downstream unavailable ({handled[event['id']]})")
    return {"ok": True}


@pytest.fixture
def web(app):
    """The app with a scheduler that only ticks when a test says so, and instant retries."""
    state = app.state
    config = JobConfig(retry_base_seconds=0, poll_seconds=3600)
    state.jobs = JobManager(state.catalog, state.databases, config)
    with TestClient(app, base_url="http://localhost") as client:
        yield client


def make_endpoint(client: TestClient, source: str = "demo") -> tuple[str, str]:
    """Create an endpoint through the settings page; returns (URL path, secret)."""
    response = client.post(
        "/settings/webhooks",
        data={"source": source},
        headers={"X-CSRF-Token": page_csrf(client), "HX-Request": "true"},
    )
    assert response.status_code == 200, response.text
    return URL.search(response.text).group(1), SECRET.search(response.text).group(0)


def event_body(event_id: str | None = None, kind: str = "demo.ping", **data) -> bytes:
    event = {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": kind, "data": data}
    return json.dumps(event).encode()


def deliver(client, path, secret, body, *, timestamp=None, headers=None):
    signed = {"Webhook-Signature": sign_timestamped(secret, body, timestamp)}
    signed = signed if headers is None else headers
    return client.post(path, content=body, headers={"Content-Type": "application/json", **signed})


def tenant_of(app, email: str) -> str:
    return app.state.catalog.row(
        """SELECT m.tenant_id FROM core_memberships m JOIN core_users u ON u.id = m.user_id
           WHERE u.email = :e""",
        e=email,
    )["tenant_id"]


def counts(app, tenant_id: str) -> dict[str, int]:
    with app.state.databases.handle(tenant_id) as db:
        return {
            "events": db.q("SELECT count(*) AS n FROM webhook_events")[0]["n"],
            "jobs": db.q("SELECT count(*) AS n FROM tenant_jobs")[0]["n"],
            "notes": db.q("SELECT count(*) AS n FROM notes WHERE author_id = 'webhook'")[0]["n"],
        }


def events(app, tenant_id: str) -> list[dict]:
    with app.state.databases.handle(tenant_id) as db:
        return db.q(
            """SELECT e.*, j.status AS job_status, j.attempts, j.error AS job_error
               FROM webhook_events e JOIN tenant_jobs j ON j.id = e.job_id"""
        )


def drain(app) -> None:
    asyncio.run(Scheduler(app.state.jobs).run_once())


@pytest.fixture
def ada(app, web):
    dev_sign_in(web, "ada@example.com")
    path, secret = make_endpoint(web)
    return web, path, secret, tenant_of(app, "ada@example.com")


def test_a_signed_delivery_is_stored_acknowledged_and_handled(app, ada):
    client, path, secret, tenant = ada
    response = deliver(client, path, secret, event_body("evt_1", message="Hello there"))
    assert response.status_code == 200
    assert response.json()["ok"] is True
    [event] = events(app, tenant)
    assert (event["event_key"], event["event_type"], event["status"]) == (
        "evt_1",
        "demo.ping",
        "processed",
    )
    assert (event["job_status"], event["attempts"]) == ("completed", 1)
    with app.state.databases.handle(tenant) as db:
        assert db.q("SELECT body FROM notes WHERE author_id = 'webhook'") == [
            {"body": "Webhook: Hello there"}
        ]
    assert "Webhook: Hello there" in client.get("/notes").text


def _refusals(path: str, secret: str):
    body = event_body("evt_refused")
    now = int(time.time())
    other = "whsec_" + "x" * 43
    token = path.rsplit("/", 1)[1]
    return {
        "bad signature": (401, path, body, {"Webhook-Signature": sign_timestamped(other, body)}),
        "missing header": (401, path, body, {}),
        "malformed header": (401, path, body, {"Webhook-Signature": "t=now,v1=nothex"}),
        "stale timestamp": (
            401,
            path,
            body,
            {"Webhook-Signature": sign_timestamped(secret, body, now - 301)},
        ),
        "future timestamp": (
            401,
            path,
            body,
            # well past the 300 s tolerance: the cases are built before the requests run,
            # and a loaded machine can take seconds to reach this one
            {"Webhook-Signature": sign_timestamped(secret, body, now + 900)},
        ),
        "tampered body": (
            401,
            path,
            body.replace(b"evt_refused", b"evt_refusee"),
            {"Webhook-Signature": sign_timestamped(secret, body)},
        ),
        "github header on a timestamped source": (
            401,
            path,
            body,
            {"X-Hub-Signature-256": sign_github(secret, body)},
        ),
        "unknown endpoint": (
            404,
            f"/webhooks/demo/{'A' * 43}",
            body,
            {"Webhook-Signature": sign_timestamped(secret, body)},
        ),
        "right token, wrong source": (
            404,
            f"/webhooks/github/{token}",
            body,
            {"X-Hub-Signature-256": sign_github(secret, body)},
        ),
        "unknown source": (
            404,
            f"/webhooks/nope/{token}",
            body,
            {"Webhook-Signature": sign_timestamped(secret, body)},
        ),
        "absurd token": (404, f"/webhooks/demo/{'x' * 3000}", body, {}),
        "oversize body": (
            413,
            path,
            b" " * MAX_BODY_BYTES + body,
            {"Webhook-Signature": sign_timestamped(secret, b" " * MAX_BODY_BYTES + body)},
        ),
    }


def _bad_bodies():
    return {
        "malformed JSON": (400, b'{"id": "evt_x", "type": '),
        "not an object": (400, b'["evt_x", "demo.ping"]'),
        "no id": (400, b'{"type": "demo.ping"}'),
        "no type": (400, b'{"id": "evt_x"}'),
        "id with spaces": (400, b'{"id": "evt x", "type": "demo.ping"}'),
        "id not a string": (400, b'{"id": 12, "type": "demo.ping"}'),
        "invalid UTF-8": (400, b'{"id": "evt_\xff", "type": "demo.ping"}'),
        "UTF-16 JSON": (400, '{"id": "evt_u", "type": "demo.ping"}'.encode("utf-16")),
        "absurd nesting": (400, b"[" * 200_000 + b"]" * 200_000),
        "empty body": (400, b""),
    }


@pytest.mark.parametrize(
    "case",
    [
        "bad signature",
        "missing header",
        "malformed header",
        "stale timestamp",
        "future timestamp",
        "tampered body",
        "github header on a timestamped source",
        "unknown endpoint",
        "right token, wrong source",
        "unknown source",
        "absurd token",
        "oversize body",
    ],
)
def test_refused_deliveries_store_and_run_nothing(app, ada, case):
    client, path, secret, tenant = ada
    status, target, body, headers = _refusals(path, secret)[case]
    response = deliver(client, target, secret, body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    assert counts(app, tenant) == {"events": 0, "jobs": 0, "notes": 0}


@pytest.mark.parametrize("case", list(_bad_bodies()))
def test_signed_but_unusable_bodies_are_refused(app, ada, case):
    client, path, secret, tenant = ada
    status, body = _bad_bodies()[case]
    response = deliver(client, path, secret, body)
    assert response.status_code == status, response.text
    assert counts(app, tenant) == {"events": 0, "jobs": 0, "notes": 0}


def test_a_chunked_oversize_body_is_refused_without_a_length(app, ada):
    client, path, _, tenant = ada
    chunks = (b" " * 65536 for _ in range(MAX_BODY_BYTES // 65536 + 2))
    response = client.post(path, content=chunks, headers={"Webhook-Signature": "t=1,v1=0"})
    assert response.status_code == 413
    assert counts(app, tenant)["events"] == 0


def test_a_redelivery_is_acknowledged_and_not_processed_again(app, ada):
    client, path, secret, tenant = ada
    body = event_body("evt_again", message="once")
    first = deliver(client, path, secret, body)
    time.sleep(1)  # a provider's retry: new timestamp, new signature, same event
    second = deliver(client, path, secret, body)
    assert (first.status_code, second.status_code) == (200, 200)
    assert "duplicate" in second.json()["message"]
    assert counts(app, tenant) == {"events": 1, "jobs": 1, "notes": 1}
    assert events(app, tenant)[0]["attempts"] == 1


def test_github_deliveries_use_the_hub_signature_and_delivery_headers(app, ada):
    client, _, _, tenant = ada
    path, secret = make_endpoint(client, "github")
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    headers = {
        "X-Hub-Signature-256": sign_github(secret, body),
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-GitHub-Event": "ping",
    }
    assert deliver(client, path, secret, body, headers=headers).status_code == 200
    bad = {**headers, "X-Hub-Signature-256": sign_github(secret, body + b" ")}
    assert deliver(client, path, secret, body, headers=bad).status_code == 401
    no_delivery_id = {k: v for k, v in headers.items() if k != "X-GitHub-Delivery"}
    assert deliver(client, path, secret, body, headers=no_delivery_id).status_code == 400
    [event] = events(app, tenant)
    assert (event["source"], event["event_type"], event["status"]) == ("github", "ping", "ignored")


def test_a_handler_failing_twice_then_succeeding_is_processed_once(app, ada):
    client, path, secret, tenant = ada
    event_id = f"evt_{uuid.uuid4().hex}"  # the handler counts calls per event id
    body = event_body(event_id, "test.flaky", failures=2)
    response = deliver(client, path, secret, body)
    assert response.status_code == 200
    [event] = events(app, tenant)
    assert (event["status"], event["job_status"]) == ("received", "pending")
    assert "downstream unavailable (1)" in event["error"]
    drain(app)
    drain(app)
    [event] = events(app, tenant)
    assert (event["status"], event["job_status"], event["attempts"]) == (
        "processed",
        "completed",
        3,
    )
    assert event["error"] is None
    assert handled[event_id] == 3


def test_a_handler_that_keeps_failing_leaves_the_event_failed_with_its_error(app, ada):
    client, path, secret, tenant = ada
    body = event_body(None, "test.flaky", failures=99)
    deliver(client, path, secret, body)
    for _ in range(4):
        drain(app)
    [event] = events(app, tenant)
    assert (event["status"], event["job_status"], event["attempts"]) == ("failed", "failed", 5)
    assert "downstream unavailable (5)" in event["error"]
    page = client.get("/settings/webhooks").text
    assert "downstream unavailable (5)" in page


def test_rotation_accepts_the_old_secret_until_it_is_revoked(app, ada):
    client, path, old, tenant = ada
    headers = {"X-CSRF-Token": page_csrf(client), "HX-Request": "true"}
    endpoint_id = app.state.catalog.row("SELECT id FROM core_webhook_endpoints")["id"]
    rotated = client.post(f"/settings/webhooks/{endpoint_id}/rotate", headers=headers)
    new = SECRET.search(rotated.text).group(0)
    assert new != old
    assert deliver(client, path, old, event_body()).status_code == 200
    assert deliver(client, path, new, event_body()).status_code == 200
    with app.state.databases.handle(tenant) as db:
        old_id = db.q("SELECT id FROM webhook_secrets WHERE secret = :s", s=old)[0]["id"]
    client.post(f"/settings/webhooks/secrets/{old_id}/revoke", headers=headers)
    assert deliver(client, path, old, event_body()).status_code == 401
    assert deliver(client, path, new, event_body()).status_code == 200


def test_a_revoked_endpoint_is_not_found(app, ada):
    client, path, secret, tenant = ada
    endpoint_id = app.state.catalog.row("SELECT id FROM core_webhook_endpoints")["id"]
    headers = {"X-CSRF-Token": page_csrf(client), "HX-Request": "true"}
    client.post(f"/settings/webhooks/{endpoint_id}/revoke", headers=headers)
    assert deliver(client, path, secret, event_body()).status_code == 404
    assert counts(app, tenant)["events"] == 0


def test_the_catalog_holds_no_live_url(app, ada):
    _, path, _, _ = ada
    token = path.rsplit("/", 1)[1]
    for row in app.state.catalog.rows("SELECT * FROM core_webhook_endpoints"):
        assert token not in json.dumps(row)


def test_a_tenants_webhook_never_touches_another_tenants_database(app, ada, new_client):
    client, a_path, a_secret, a_tenant = ada
    bob = new_client()
    dev_sign_in(bob, "bob@example.com")
    b_path, b_secret = make_endpoint(bob)
    b_tenant = tenant_of(app, "bob@example.com")
    assert deliver(client, a_path, a_secret, event_body(message="for A")).status_code == 200
    assert counts(app, b_tenant) == {"events": 0, "jobs": 0, "notes": 0}
    assert counts(app, a_tenant) == {"events": 1, "jobs": 1, "notes": 1}
    # each URL only takes its own tenant's secret
    assert deliver(client, a_path, b_secret, event_body()).status_code == 401
    assert deliver(client, b_path, a_secret, event_body()).status_code == 401
    assert counts(app, b_tenant)["events"] == 0
    # the same event id at both tenants is two separate events
    body = event_body("evt_shared")
    assert deliver(client, a_path, a_secret, body).status_code == 200
    assert deliver(client, b_path, b_secret, body).status_code == 200
    assert counts(app, a_tenant)["events"] == 2 and counts(app, b_tenant)["events"] == 1
