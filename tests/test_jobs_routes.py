"""The jobs panel and routes: live status that stops polling, errors shown, roles, isolation."""

from __future__ import annotations

import asyncio
import re

import pytest
from fasthtml.common import to_xml
from starlette.testclient import TestClient

from app.demo import routes as demo_routes
from app.ui.jobs import JobsTable, JobViewer
from app.work.jobs import JobConfig, JobManager, job_handler
from tests.conftest import dev_sign_in, page_csrf
from tests.test_webhooks import tenant_of

JOB_ROW = re.compile(r'id="job-([0-9a-f]{32})"')
FUTURE = "2999-01-01T00:00:00.000000Z"


@job_handler("test.routes_broken")
def broken(ctx):
    raise ConnectionError("the CRM answered 503")


@job_handler("test.routes_ok")
def ok(ctx):
    return {"ok": True}


@pytest.fixture
def web(app, monkeypatch):
    monkeypatch.setitem(demo_routes.COUNT, "pause", 0.01)
    state = app.state
    state.jobs = JobManager(state.catalog, state.databases, JobConfig(poll_seconds=3600))
    with TestClient(app, base_url="http://localhost") as client:
        dev_sign_in(client, "ada@example.com")
        yield client


def hx(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": page_csrf(client, "/jobs"), "HX-Request": "true"}


def test_the_demo_job_polls_while_it_runs_and_stops_when_done(app, web):
    response = web.post("/demo/jobs", headers=hx(web))
    assert response.status_code == 200
    job_id = JOB_ROW.search(response.text).group(1)
    assert f'hx-get="/jobs/{job_id}"' in response.text and "every 1s" in response.text
    assert "Demo job started." in response.text
    row = web.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}).text
    assert "completed" in row
    assert 'value="100"' in row
    assert "hx-trigger" not in row  # finished: the row stops polling
    tenant = tenant_of(app, "ada@example.com")
    assert app.state.jobs.get_job(tenant, job_id)["result"] == {"counted": 10}
    detail = web.get(f"/jobs/{job_id}").text
    assert "counted" in detail and "<html" in detail.lower()


def test_a_failed_jobs_error_is_visible_in_the_panel(app, web):
    tenant = tenant_of(app, "ada@example.com")
    job_id, task = app.state.jobs.submit(tenant, "test.routes_broken", max_attempts=1)
    asyncio.run(task())
    page = web.get("/jobs?status=failed").text
    assert "ConnectionError: the CRM answered 503" in page
    assert '<span data-state="failed" class="badge badge-danger">Failed</span>' in page
    # the table any page shows jobs with
    panel = to_xml(JobsTable(app.state.jobs.list_jobs(tenant), JobViewer(None, manages=True)))
    assert "ConnectionError: the CRM answered 503" in panel
    assert f"/jobs/{job_id}/retry" in panel


def test_the_jobs_page_filters_by_known_statuses_only(app, web):
    tenant = tenant_of(app, "ada@example.com")
    app.state.jobs.enqueue(tenant, "test.routes_ok", run_at=FUTURE)
    assert "test.routes_ok" in web.get("/jobs?status=pending").text
    assert "test.routes_ok" not in web.get("/jobs?status=completed").text
    refused = web.get("/jobs?status=pending' OR '1'='1")
    assert refused.status_code == 400
    assert "Traceback" not in refused.text


def test_cancel_then_retry_through_the_routes(app, web):
    tenant = tenant_of(app, "ada@example.com")
    job_id = app.state.jobs.enqueue(tenant, "test.routes_ok", run_at=FUTURE)
    cancelled = web.post(f"/jobs/{job_id}/cancel", headers=hx(web))
    assert cancelled.status_code == 200 and "Job cancelled." in cancelled.text
    assert app.state.jobs.get_job(tenant, job_id)["status"] == "cancelled"
    again = web.post(f"/jobs/{job_id}/cancel", headers=hx(web))
    assert "already finished" in again.text
    retried = web.post(f"/jobs/{job_id}/retry", headers=hx(web))
    assert "Job restarted." in retried.text
    assert app.state.jobs.get_job(tenant, job_id)["status"] == "completed"
    refused = web.post(f"/jobs/{job_id}/retry", headers=hx(web))
    assert "Only failed or cancelled jobs" in refused.text


def test_members_see_jobs_but_cannot_cancel_or_retry(app, web, new_client):
    tenant = tenant_of(app, "ada@example.com")
    catalog = app.state.catalog
    member = catalog.upsert_user("urn:dev-sign-in", "mia@example.com", "mia@example.com", "", "")
    catalog.execute(
        """INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at)
           VALUES ('m1', :u, :t, 'member', '2025-01-01T00:00:00.000000Z')""",
        u=member,
        t=tenant,
    )
    job_id = app.state.jobs.enqueue(tenant, "test.routes_ok", run_at=FUTURE)
    mia = new_client()
    dev_sign_in(mia, "mia@example.com")
    page = mia.get("/jobs").text
    assert "test.routes_ok" in page and f"/jobs/{job_id}/cancel" not in page
    response = mia.post(f"/jobs/{job_id}/cancel", headers=hx(mia))
    assert response.status_code == 403
    assert app.state.jobs.get_job(tenant, job_id)["status"] == "pending"


def test_another_tenants_job_ids_are_not_found(app, web, new_client):
    bob = new_client()
    dev_sign_in(bob, "bob@example.com")
    b_tenant = tenant_of(app, "bob@example.com")
    waiting = app.state.jobs.enqueue(b_tenant, "test.routes_ok", run_at=FUTURE)
    failed, task = app.state.jobs.submit(b_tenant, "test.routes_broken", max_attempts=1)
    asyncio.run(task())
    before = {j["id"]: j for j in app.state.jobs.list_jobs(b_tenant)}
    headers = hx(web)
    for job_id in (waiting, failed):
        assert web.get(f"/jobs/{job_id}").status_code == 404
        assert web.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}).status_code == 404
        assert web.post(f"/jobs/{job_id}/cancel", headers=headers).status_code == 404
        assert web.post(f"/jobs/{job_id}/retry", headers=headers).status_code == 404
        for form in ({"tenant_id": b_tenant}, None):  # naming B's tenant changes nothing
            response = web.post(f"/jobs/{job_id}/retry", data=form, headers=headers)
            assert response.status_code == 404
    assert {j["id"]: j for j in app.state.jobs.list_jobs(b_tenant)} == before
    assert waiting not in web.get("/jobs").text
    for listing in (f"/jobs?tenant_id={b_tenant}", f"/jobs?status=failed&tenant_id={b_tenant}"):
        page = web.get(listing)  # naming another tenant is refused as if it did not exist
        assert page.status_code == 404 and waiting not in page.text and failed not in page.text
