"""Crash recovery: SIGKILL the server while a job runs; after a restart the job completes,
with its effect applied exactly once (the demo job's note is keyed by the job id)."""

from __future__ import annotations

import re
import time

import httpx

from tenants.catalog import Catalog
from tenants.routing import TenantDatabases
from tests.support.html import csrf_from
from tests.support.server import AppServer, env_for

JOB_ROW = re.compile(r'id="job-([0-9a-f]{32})"')


def start_demo_job(server: AppServer) -> str:
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        token = csrf_from(browser.get("/login").text)
        browser.post("/login/dev", data={"email": "ada@example.com", "csrf_token": token})
        token = csrf_from(browser.get("/dashboard").text)
        response = browser.post("/demo/jobs", headers={"X-CSRF-Token": token, "HX-Request": "true"})
        assert response.status_code == 200, response.text
        return JOB_ROW.search(response.text).group(1)


def wait_for(read, done, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"gave up waiting; last seen: {value}"
        time.sleep(0.1)


def test_a_job_running_when_the_server_is_killed_completes_after_restart(settings):
    env = {
        **env_for(settings),
        "JOB_LEASE_SECONDS": "2",
        "JOB_POLL_SECONDS": "0.2",
    }
    catalog = Catalog(settings.database_url)
    databases = TenantDatabases(settings.tenant_database_url)

    def job() -> dict:
        with databases.handle(tenant_id) as db:
            return db.q(
                "SELECT status, attempts, progress, result FROM tenant_jobs WHERE id = :id",
                id=job_id,
            )[0]

    try:
        server = AppServer(env).start()
        try:
            job_id = start_demo_job(server)
            tenant_id = catalog.row("SELECT id FROM core_tenants")["id"]
            wait_for(job, lambda j: j["progress"] >= 20)
        finally:
            server.kill()
        at_kill = job()
        assert at_kill["status"] == "running" and at_kill["attempts"] == 1
        assert 0 < at_kill["progress"] < 100

        with AppServer(env):
            finished = wait_for(job, lambda j: j["status"] not in ("pending", "running"))
        assert finished["status"] == "completed"
        assert finished["attempts"] == 2  # the killed attempt counts; at least once, not lost
        assert finished["result"] == '{"counted": 10}'
        with databases.handle(tenant_id) as db:
            notes = db.q("SELECT body FROM notes WHERE author_id = 'job'")
        assert notes == [{"body": "A background job counted to 10."}]
    finally:
        databases.dispose()
        catalog.dispose()
