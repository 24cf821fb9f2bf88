"""The sync panel end to end: Sync now runs the demo sync as a job, the status and rows
fragments show it, the schedule can be set, and another tenant's ids are not found."""

from __future__ import annotations

import dataclasses
import re

import pytest

from app.demo import routes as demo_routes
from app.demo.graphql import DemoStore
from app.demo.sync import DEMO, in_process_client
from app.factory import create_app
from app.routes import ROUTERS, sync
from app.syncs.sources import SPECS
from tests.conftest import dev_sign_in, page_csrf

ORDERS = 120
SOURCE = re.compile(r'id="sync-source-([0-9a-f]{32})"')


@pytest.fixture
def store(monkeypatch):
    """A small demo store of this test's own, so tests do not share upstream state."""
    store = DemoStore(count=ORDERS)
    spec = dataclasses.replace(DEMO, connect=lambda: in_process_client(store), page_size=50)
    monkeypatch.setitem(SPECS, DEMO.kind, spec)
    return store


def signed_in(client, email: str) -> tuple[dict, str]:
    """Sign in; return htmx headers and the tenant's demo source id (created on first view)."""
    dev_sign_in(client, email)
    page = client.get("/sync")
    assert page.status_code == 200
    headers = {"X-CSRF-Token": page_csrf(client, "/sync"), "HX-Request": "true"}
    return headers, SOURCE.search(page.text).group(1)


def state(app, email: str) -> dict:
    tenant = app.state.catalog.row(
        """SELECT m.tenant_id FROM core_memberships m JOIN core_users u ON u.id = m.user_id
           WHERE u.email = :e""",
        e=email,
    )["tenant_id"]
    with app.state.databases.handle(tenant) as db:
        source = db.q("SELECT * FROM sync_sources JOIN sync_state ON source_id = id")[0]
        rows = db.q("SELECT id, status, total_cents FROM demo_orders ORDER BY id")
    return {"tenant_id": tenant, "source": source, "rows": rows}


def test_first_view_offers_the_demo_source(client, store):
    dev_sign_in(client, "ada@example.com")
    page = client.get("/sync").text
    assert "Demo orders" in page and "Sync now" in page and "Never synced" in page
    assert "No rows yet" in page
    assert len(SOURCE.findall(client.get("/sync").text)) == 1  # created once


def test_sync_now_runs_the_job_and_the_panel_shows_the_rows(app, client, store):
    headers, source_id = signed_in(client, "ada@example.com")
    started = client.post(f"/sync/{source_id}/run", data={"mode": "full"}, headers=headers)
    assert started.status_code == 200 and "Syncing" in started.text
    assert 'hx-trigger="every 1s"' in started.text
    # The job ran after the response (the test client waits for it).
    after = state(app, "ada@example.com")
    assert after["source"]["status"] == "succeeded" and len(after["rows"]) == ORDERS
    [job] = app.state.jobs.list_jobs(after["tenant_id"], job_type="sync.run")
    assert job["status"] == "completed" and job["progress"] == 100
    status = client.get(f"/sync/{source_id}/status", headers=headers).text
    assert "Synced" in status and "120 rows fetched" in status and "every 1s" not in status
    assert 'hx-swap-oob="true"' in status and "Synced rows (120)" in status
    rows = client.get(f"/sync/{source_id}/rows?page=2", headers=headers).text
    assert "Page 2 of 6" in rows and "<svg" in rows and "<rect" in rows
    assert re.search(r"\$\d+\.\d\d", rows)  # money formatted from cents


def test_incremental_after_upstream_changes(app, client, store):
    headers, source_id = signed_in(client, "ada@example.com")
    client.post(f"/sync/{source_id}/run", data={"mode": "full"}, headers=headers)
    changed = client.post("/demo/changes", headers=headers)
    assert "5 demo orders changed upstream" in changed.text
    client.post(f"/sync/{source_id}/run", data={"mode": "incremental"}, headers=headers)
    source = state(app, "ada@example.com")["source"]
    assert (source["status"], source["run_written"]) == ("succeeded", 5)


@pytest.mark.parametrize("page", ["abc", "-1", "0", "99999999999", "1' OR '1'='1"])
def test_hostile_page_numbers_get_a_page(client, store, page):
    headers, source_id = signed_in(client, "ada@example.com")
    response = client.get(f"/sync/{source_id}/rows", params={"page": page}, headers=headers)
    assert response.status_code == 200 and "Page 1 of 1" in response.text


def test_bad_mode_and_unknown_source(client, store):
    headers, source_id = signed_in(client, "ada@example.com")
    bad = client.post(f"/sync/{source_id}/run", data={"mode": "everything"}, headers=headers)
    assert bad.status_code == 400 and "toast" in bad.text
    assert client.get("/sync/nope/status", headers=headers).status_code == 404
    without_csrf = client.post(f"/sync/{source_id}/run", data={"mode": "full"})
    assert without_csrf.status_code == 403


def test_schedule_is_validated_inline_and_saved(app, client, store):
    headers, source_id = signed_in(client, "ada@example.com")
    refused = client.post(
        f"/sync/{source_id}/schedule", data={"schedule": "'; DROP TABLE x;--"}, headers=headers
    )
    assert refused.status_code == 200 and "Choose one of" in refused.text
    assert state(app, "ada@example.com")["source"]["schedule"] == "off"
    saved = client.post(f"/sync/{source_id}/schedule", data={"schedule": "hourly"}, headers=headers)
    assert "Schedule: hourly." in saved.text and "Next run:" in saved.text
    source = state(app, "ada@example.com")["source"]
    assert source["schedule"] == "hourly" and source["next_run_at"] is not None


def test_a_run_that_died_does_not_block_the_next(app, client, store):
    headers, source_id = signed_in(client, "ada@example.com")
    tenant = state(app, "ada@example.com")["tenant_id"]
    with app.state.databases.handle(tenant) as db:
        db.q("UPDATE sync_state SET status = 'running', heartbeat_at = '2000-01-01T00:00:00Z'")
        db.commit()
    assert "Interrupted" in client.get("/sync").text
    client.post(f"/sync/{source_id}/run", data={"mode": "incremental"}, headers=headers)
    assert state(app, "ada@example.com")["source"]["status"] == "succeeded"


def test_cancel_when_nothing_runs(client, store):
    headers, source_id = signed_in(client, "ada@example.com")
    response = client.post(f"/sync/{source_id}/cancel", headers=headers)
    assert "already finished" in response.text


def test_members_can_sync_but_not_change_the_schedule(app, client, new_client, store):
    _, source_id = signed_in(client, "ada@example.com")
    tenant = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    member = app.state.catalog.upsert_user("urn:dev-sign-in", "mia@example.com", "mia", "", "")
    app.state.catalog.execute(
        """INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at)
           VALUES ('m1', :u, :t, 'member', '2025-01-01T00:00:00.000000Z')""",
        u=member,
        t=tenant,
    )
    mia = new_client()
    headers, same_source = signed_in(mia, "mia@example.com")
    assert same_source == source_id
    assert 'name="schedule" disabled' in mia.get("/sync").text
    refused = mia.post(f"/sync/{source_id}/schedule", data={"schedule": "daily"}, headers=headers)
    assert refused.status_code == 403
    assert state(app, "ada@example.com")["source"]["schedule"] == "off"
    assert mia.post(f"/sync/{source_id}/run", data={"mode": "full"}, headers=headers).is_success


def test_another_tenants_source_is_not_found(app, client, new_client, store):
    ada_headers, ada_source = signed_in(client, "ada@example.com")
    client.post(f"/sync/{ada_source}/run", data={"mode": "full"}, headers=ada_headers)
    before = state(app, "ada@example.com")
    bob = new_client()
    headers, bob_source = signed_in(bob, "bob@example.com")
    assert bob_source != ada_source
    attempts = [
        bob.get(f"/sync/{ada_source}/status", headers=headers),
        bob.get(f"/sync/{ada_source}/rows?page=1", headers=headers),
        bob.post(f"/sync/{ada_source}/run", data={"mode": "full"}, headers=headers),
        bob.post(f"/sync/{ada_source}/cancel", headers=headers),
        bob.post(f"/sync/{ada_source}/schedule", data={"schedule": "daily"}, headers=headers),
    ]
    assert [r.status_code for r in attempts] == [404] * 5
    assert state(app, "ada@example.com") == before
    assert state(app, "bob@example.com")["rows"] == []


def test_demo_graphql_endpoint_answers_queries(client):
    query = "{ orders(first: 2) { nodes { id } totalCount } }"
    response = client.get("/demo/graphql", params={"query": query})
    assert response.status_code == 200
    assert len(response.json()["data"]["orders"]["nodes"]) == 2
    mutation = client.get("/demo/graphql", params={"query": "mutation { touchOrders { id } }"})
    assert mutation.status_code == 405
    assert client.get("/demo/graphql", params={"variables": "{bad"}).status_code == 400
    assert client.post("/demo/graphql", json={"query": query}).status_code == 403  # CSRF


def test_demo_graphql_endpoint_is_absent_in_production(settings):
    production = dataclasses.replace(
        settings,
        app_env="production",
        smtp={"host": "127.0.0.1", "security": "none", "from": "a@example.com"},
    )
    assert sync.rt in [router for _, router in ROUTERS(production)]
    development = {route.path for route in create_app(settings).routes}
    assert {"/demo", "/demo/graphql"} <= development
    assert demo_routes.rt.routes and demo_routes.public_rt.routes
    in_production = {route.path for route in create_app(production).routes}
    assert not {p for p in in_production if p.startswith("/demo")}
