"""50 concurrent deliveries of one event: all acknowledged, stored once, processed once."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from app.lib.signatures import sign_timestamped
from app.webhooks.inbound import accept, find_endpoint, webhook_handler
from app.work.jobs import job_manager
from tests.conftest import dev_sign_in, page_csrf
from tests.support.server import AppServer, env_for, sign_in_over_http

COPIES = 50
URL = re.compile(r"http://[^/\s<]+(/webhooks/demo/[A-Za-z0-9_-]{43})")
SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{43}")

processed: list[str] = []
processed_lock = threading.Lock()


@webhook_handler("demo", "test.count")
def count(ctx, event):
    time.sleep(0.05)  # widen the window for a second processing, if one could happen
    with processed_lock:
        processed.append(event["id"])


def body_of(event_id: str, kind: str) -> bytes:
    return json.dumps({"id": event_id, "type": kind, "data": {"message": "once"}}).encode()


async def deliver_copies(
    base_url: str, path: str, secret: str, body: bytes
) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def one() -> httpx.Response:
            signature = sign_timestamped(secret, body)
            return await client.post(path, content=body, headers={"Webhook-Signature": signature})

        return await asyncio.gather(*[one() for _ in range(COPIES)])


def test_concurrent_copies_against_the_real_server_are_processed_once(settings):
    with (
        AppServer(env_for(settings)) as server,
        httpx.Client(base_url=server.url, follow_redirects=True) as browser,
    ):
        token = sign_in_over_http(browser, "ada@example.com")
        created = browser.post(
            "/settings/webhooks",
            data={"source": "demo"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        path, secret = URL.search(created.text).group(1), SECRET.search(created.text).group(0)
        body = body_of("evt_many_copies", "demo.ping")
        responses = asyncio.run(deliver_copies(server.url, path, secret, body))
        assert [r.status_code for r in responses] == [200] * COPIES
        messages = sorted(r.json()["message"] for r in responses)
        assert messages.count("received") == 1
        deadline = time.monotonic() + 20
        while "Webhook: once" not in browser.get("/dashboard").text:
            assert time.monotonic() < deadline, "the event was never handled"
            time.sleep(0.1)

    from tenants.catalog import Catalog
    from tenants.routing import TenantDatabases

    catalog = Catalog(settings.database_url)
    databases = TenantDatabases(settings.tenant_database_url)
    tenant_id = catalog.row("SELECT id FROM core_tenants")["id"]
    with databases.handle(tenant_id) as db:
        events = db.q("SELECT status FROM webhook_events")
        jobs = db.q("SELECT status, attempts FROM tenant_jobs")
        notes = db.q("SELECT body FROM notes WHERE author_id = 'webhook'")
    databases.dispose()
    catalog.dispose()
    assert events == [{"status": "processed"}]
    assert jobs == [{"status": "completed", "attempts": 1}]
    assert notes == [{"body": "Webhook: once"}]


def test_concurrent_copies_call_the_handler_once(app, client):
    dev_sign_in(client, "ada@example.com")
    created = client.post(
        "/settings/webhooks",
        data={"source": "demo"},
        headers={"X-CSRF-Token": page_csrf(client), "HX-Request": "true"},
    )
    path, secret = URL.search(created.text).group(1), SECRET.search(created.text).group(0)
    manager = job_manager(app)
    endpoint = find_endpoint(manager, "demo", path.rsplit("/", 1)[1])
    event_id = f"evt_{uuid.uuid4().hex}"
    body = body_of(event_id, "test.count")
    barrier = threading.Barrier(COPIES)

    def deliver():
        barrier.wait()
        headers = {"Webhook-Signature": sign_timestamped(secret, body)}
        receipt = accept(manager, endpoint, headers, body)
        if receipt.task is not None:
            asyncio.run(receipt.task())
        return receipt.status

    with ThreadPoolExecutor(COPIES) as pool:
        statuses = list(pool.map(lambda _: deliver(), range(COPIES)))
    assert statuses == [200] * COPIES
    assert processed.count(event_id) == 1
