"""Workflows: each step runs once; a failed step is retried and the job resumes from it; a
step's tenant writes commit with its record, so neither a failure nor a SIGKILL half-applies
or repeats one. The export job is one, with its steps on the job page."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from app.factory import create_app
from app.work.jobs import JobManager, job_handler, job_manager
from app.work.lifecycle import EXPORT_JOB, export_path
from app.work.scheduler import Scheduler
from app.work.workflow import Workflow
from tenants import jobs as store
from tests import test_jobs
from tests.conftest import dev_sign_in
from tests.test_team import own_tenant

ROOT = Path(__file__).resolve().parents[1]
calls: Counter[tuple[str, str]] = Counter()


def note(ctx, step: str) -> None:
    """A write through ctx.db under a fresh id: doing a step twice would leave two notes."""
    ctx.db.execute(
        sa.text("""INSERT INTO notes (id, body, author_id, created_at)
                   VALUES (:id, :body, 'workflow', 'now')"""),
        {"id": uuid.uuid4().hex, "body": f"{ctx.job_id}:{step}"},
    )


def first(ctx, mode: str) -> dict:
    calls[(ctx.job_id, "first")] += 1
    note(ctx, "first")
    return {"made": 1}


def second(ctx, mode: str) -> None:
    calls[(ctx.job_id, "second")] += 1
    if mode == "cancels itself":  # as if someone pressed Cancel while the step runs
        with store.writing(ctx._queue.engine) as conn:
            store.cancel(conn, "tenant_jobs", ctx.job_id)
    note(ctx, "second")  # written, then rolled back if the step does not complete
    if mode == "fails once" and calls[(ctx.job_id, "second")] == 1:
        raise ConnectionError("the upstream API timed out")


def third(ctx, mode: str) -> dict:
    calls[(ctx.job_id, "third")] += 1
    note(ctx, "third")
    return {"made_before": ctx.results["first"]["made"]}


job_handler("test.workflow")(Workflow(("first", first), ("second", second), ("third", third)))


world = test_jobs.world  # the fixture: (a JobManager retrying at once, a tenant)


def notes(manager: JobManager, tenant_id: str, job_id: str) -> Counter[str]:
    with manager.databases.handle(tenant_id) as db:
        rows = db.q("SELECT body FROM notes WHERE author_id = 'workflow'")
    return Counter(r["body"].split(":")[1] for r in rows if r["body"].startswith(job_id))


def statuses(job: dict) -> list[tuple[str, str]]:
    return [(step["name"], step["status"]) for step in job["steps"]]


def test_a_workflow_job_lists_its_steps_before_it_runs(world):
    manager, tenant = world
    job_id = manager.enqueue(tenant, "test.workflow", run_at="2999-01-01T00:00:00.000000Z")
    assert statuses(manager.get_job(tenant, job_id)) == [
        ("first", "pending"),
        ("second", "pending"),
        ("third", "pending"),
    ]


def test_a_step_that_fails_once_resumes_from_that_step(world):
    manager, tenant = world
    job_id, task = manager.submit(tenant, "test.workflow", mode="fails once")
    asyncio.run(task())
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert statuses(job) == [("first", "completed"), ("second", "failed"), ("third", "pending")]
    assert job["steps"][1]["error"] == "ConnectionError: the upstream API timed out"
    assert job["progress"] == 33
    assert notes(manager, tenant, job_id) == {"first": 1}  # the failed step left nothing

    assert asyncio.run(Scheduler(manager).run_once()) == 1
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["attempts"], job["progress"]) == ("completed", 2, 100)
    assert statuses(job) == [
        ("first", "completed"),
        ("second", "completed"),
        ("third", "completed"),
    ]
    assert job["result"] == {"made_before": 1}  # the last step's, fed by the first's result
    assert [calls[(job_id, s)] for s in ("first", "second", "third")] == [1, 2, 1]
    assert notes(manager, tenant, job_id) == {"first": 1, "second": 1, "third": 1}


def test_a_workflow_cancelled_during_a_step_records_none_of_it(world):
    manager, tenant = world
    job_id, task = manager.submit(tenant, "test.workflow", mode="cancels itself")
    asyncio.run(task())
    job = manager.get_job(tenant, job_id)
    assert job["status"] == "cancelled"
    assert statuses(job)[:2] == [("first", "completed"), ("second", "running")]
    assert notes(manager, tenant, job_id) == {"first": 1}  # the cancelled step's write is gone
    assert calls[(job_id, "third")] == 0


def test_a_restarted_workflow_keeps_its_completed_steps(world):
    manager, tenant = world
    job_id, task = manager.submit(tenant, "test.workflow", max_attempts=1, mode="fails once")
    asyncio.run(task())
    assert manager.get_job(tenant, job_id)["status"] == "failed"
    asyncio.run(manager.retry(tenant, job_id)())
    assert manager.get_job(tenant, job_id)["status"] == "completed"
    assert calls[(job_id, "first")] == 1
    assert notes(manager, tenant, job_id) == {"first": 1, "second": 1, "third": 1}


def system_step(ctx) -> dict:
    return {"system": ctx.db is None}


job_handler("test.system_workflow")(Workflow(("only", system_step)))


def test_a_system_workflow_records_its_steps_in_sys_jobs(world):
    manager, _ = world
    job_id, task = manager.submit_system("test.system_workflow")
    asyncio.run(task())
    job = manager.get_job(None, job_id)
    assert (job["status"], job["result"], statuses(job)) == (
        "completed",
        {"system": True},
        [("only", "completed")],
    )


# -- SIGKILL in the middle of a workflow ---------------------------------------------------

WORKER = textwrap.dedent(
    """
    import asyncio, os, sys, time, uuid
    from pathlib import Path
    import sqlalchemy as sa
    from app.work.jobs import JobConfig, JobManager, job_handler
    from app.work.scheduler import Scheduler
    from app.work.workflow import Workflow
    from tenants.catalog import Catalog
    from tenants.routing import TenantDatabases

    def step(name):
        def run(ctx):
            ctx.db.execute(
                sa.text("INSERT INTO notes (id, body, author_id, created_at)"
                        " VALUES (:id, :body, 'workflow', 'now')"),
                {"id": uuid.uuid4().hex, "body": f"{ctx.job_id}:{name}"},
            )
            if name == "two" and os.environ.get("STALL"):
                Path(os.environ["STALL"]).touch()  # written, not committed: kill me now
                time.sleep(120)
        return run

    job_handler("test.kill_workflow")(Workflow(*[(n, step(n)) for n in ("one", "two", "three")]))

    async def main(catalog_url, tenant_url, tenant_id, job_id):
        manager = JobManager(Catalog(catalog_url), TenantDatabases(tenant_url),
                             JobConfig(lease_seconds=1.5))
        scheduler = Scheduler(manager)
        deadline = time.monotonic() + 60
        while manager.get_job(tenant_id, job_id)["status"] != "completed":
            assert time.monotonic() < deadline, "the job did not complete"
            await scheduler.run_once()
            await asyncio.sleep(0.1)

    asyncio.run(main(*sys.argv[1:5]))
    """
)


def never_here(ctx):
    raise AssertionError("the test process only submits this job; workers run it")


job_handler("test.kill_workflow")(
    Workflow(("one", never_here), ("two", never_here), ("three", never_here))
)


def test_a_workflow_killed_mid_step_resumes_at_that_step_with_every_effect_once(
    world, settings, tmp_path
):
    manager, tenant = world
    job_id = manager.enqueue(tenant, "test.kill_workflow")
    script, stalled = tmp_path / "worker.py", tmp_path / "stalled"
    script.write_text(WORKER)
    args = [
        sys.executable,
        str(script),
        settings.database_url,
        settings.tenant_database_url,
        tenant,
        job_id,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    doomed = subprocess.Popen(args, cwd=ROOT, env={**env, "STALL": str(stalled)})
    try:
        deadline = time.monotonic() + 60
        while not stalled.exists():
            assert doomed.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["attempts"]) == ("running", 1)
    assert statuses(job) == [("one", "completed"), ("two", "running"), ("three", "pending")]
    assert notes(manager, tenant, job_id) == {"one": 1}  # step two's write died with it

    survivor = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert survivor.returncode == 0, survivor.stderr
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["attempts"]) == ("completed", 2)
    assert statuses(job) == [("one", "completed"), ("two", "completed"), ("three", "completed")]
    assert notes(manager, tenant, job_id) == {"one": 1, "two": 1, "three": 1}


# -- the export job ------------------------------------------------------------------------


@pytest.fixture
def web(make_settings, backend):
    """The app without its lifespan (so no scheduler of its own), retrying at once."""
    application = create_app(make_settings(**backend, JOB_RETRY_BASE_SECONDS="0"))
    client = TestClient(application, base_url="http://localhost")
    yield application, client
    client.close()
    application.state.databases.dispose()
    application.state.catalog.dispose()


def test_the_export_resumes_at_its_failed_step_and_shows_its_steps(web):
    app, client = web
    dev_sign_in(client, "ada@example.com")
    tenant, manager = own_tenant(app, "ada@example.com"), job_manager(app)
    ada = app.state.catalog.row("SELECT id FROM core_users WHERE email = 'ada@example.com'")
    job_id = manager.enqueue(tenant, EXPORT_JOB, user_id=ada["id"], tenant_tables=True)
    blocker = export_path(app.state.settings, tenant, job_id)
    blocker.mkdir(parents=True)  # the zip step fails while a directory stands in its place

    assert asyncio.run(Scheduler(manager).run_once()) == 1
    job = manager.get_job(tenant, job_id)
    assert job["status"] == "pending"
    assert statuses(job) == [
        ("tenant rows", "completed"),
        ("account rows", "completed"),
        ("zip", "failed"),
    ]
    collected = [step["finished_at"] for step in job["steps"][:2]]
    page = client.get(f"/jobs/{job_id}").text
    assert 'id="job-steps"' in page and "failed" in page

    blocker.rmdir()
    assert asyncio.run(Scheduler(manager).run_once()) == 1
    job = manager.get_job(tenant, job_id)
    assert job["status"] == "completed" and job["attempts"] == 2
    assert [step["finished_at"] for step in job["steps"][:2]] == collected  # not run again
    assert job["result"]["bytes"] == blocker.stat().st_size > 0
    assert sorted(p.name for p in blocker.parent.iterdir()) == [blocker.name]  # parts gone
    page = client.get(f"/jobs/{job_id}").text
    assert page.count("completed") >= 4  # the job and each of its three steps
    assert str(app.state.settings.data_dir) not in page
    assert client.get(f"/account/exports/{job_id}/download").status_code == 200
