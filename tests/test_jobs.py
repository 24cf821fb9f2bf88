"""The job manager on real databases: submit, run, retry with backoff, fail, cancel, recover."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import sqlalchemy as sa

from app.work.jobs import JobConfig, JobManager, job_handler
from app.work.scheduler import Scheduler
from tenants import jobs as store
from tenants.catalog import Catalog
from tenants.provision import create_tenant
from tenants.routing import TenantDatabases

calls: dict[str, int] = {}
seen: dict[str, dict] = {}


def _count(ctx) -> int:
    calls[ctx.job_id] = calls.get(ctx.job_id, 0) + 1
    return calls[ctx.job_id]


@job_handler("test.echo")
def echo(ctx, **payload):
    _count(ctx)
    ctx.progress(40, "almost")
    seen[ctx.job_id] = {"row": own_row(ctx), "attempt": ctx.attempt, "db": ctx.db}
    return {"echo": payload}


@job_handler("test.flaky")
def flaky(ctx, failures: int):
    if _count(ctx) <= failures:
        raise RuntimeError(f"flaky failure {calls[ctx.job_id]}")
    return {"attempt": ctx.attempt}


@job_handler("test.broken")
def broken(ctx):
    _count(ctx)
    raise RuntimeError("always broken")


@job_handler("test.note")
def write_note(ctx, note_id: str, fail: bool = False):
    ctx.db.execute(
        sa.text(
            "INSERT INTO notes (id, body, author_id, created_at) VALUES (:id, 'x', 'job', 't')"
        ),
        {"id": note_id},
    )  # not committed here: the runner commits on success, rolls back on failure
    if fail:
        raise ValueError("failed after writing")


@job_handler("test.read_while_others_write")
def read_while_others_write(ctx):
    ctx.db.q("SELECT count(*) AS n FROM notes")  # leaves a read transaction open
    with ctx.databases.handle(ctx.tenant_id) as other:  # meanwhile, someone else writes
        other.execute(
            sa.text(
                "INSERT INTO notes (id, body, author_id, created_at) VALUES (:id, 'o', 'x', 't')"
            ),
            {"id": ctx.job_id},
        )
        other.commit()
    return {"read": True}


cancel_seen = threading.Event()
started = threading.Event()


@job_handler("test.until_cancelled")
def until_cancelled(ctx):
    started.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ctx.cancelled():
            cancel_seen.set()
            return {"stopped": True}
        time.sleep(0.02)
    return {"stopped": False}


@job_handler("test.async_echo")
async def async_echo(ctx, value: int):
    await asyncio.sleep(0)
    return {"value": value, "system": ctx.tenant_id is None, "has_catalog": bool(ctx.catalog)}


def own_row(ctx):
    """The job's row as the dashboard would read it, from inside the handler."""
    with ctx.databases.handle(ctx.tenant_id) as db:
        return store.get(db.conn, "tenant_jobs", ctx.job_id)


@pytest.fixture
def world(settings):
    catalog = Catalog(settings.database_url)
    catalog.migrate()
    databases = TenantDatabases(settings.tenant_database_url)
    owner = catalog.upsert_user("urn:test", "owner", "owner@example.com", "Owner", "")
    tenant_id = create_tenant(catalog, databases, owner, "Acme")
    manager = JobManager(catalog, databases, JobConfig(retry_base_seconds=0, lease_seconds=30))
    yield manager, tenant_id
    databases.dispose()
    catalog.dispose()


def drain(manager: JobManager) -> int:
    return asyncio.run(Scheduler(manager).run_once())


def test_a_job_is_a_row_before_it_runs_and_completes_after(world):
    manager, tenant = world
    job_id, task = manager.submit(tenant, "test.echo", max_attempts=2, colour="green")
    before = manager.get_job(tenant, job_id)
    assert before["status"] == "running"  # claimed for the task that will run it
    assert before["payload"] == {"colour": "green"}
    assert calls.get(job_id) is None
    asyncio.run(task())
    job = manager.get_job(tenant, job_id)
    assert job["status"] == "completed"
    assert job["result"] == {"echo": {"colour": "green"}}
    assert (job["attempts"], job["max_attempts"], job["progress"]) == (1, 2, 100)
    assert job["finished_at"] and job["error"] is None
    during = seen[job_id]
    assert (during["row"]["progress"], during["row"]["progress_message"]) == (40, "almost")
    assert during["attempt"] == 1 and during["db"].tenant_id == tenant


def test_failing_twice_then_succeeding_completes_on_the_third_attempt(world):
    manager, tenant = world
    job_id, task = manager.submit(tenant, "test.flaky", max_attempts=3, failures=2)
    asyncio.run(task())
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert job["error"] == "RuntimeError: flaky failure 1"
    assert drain(manager) == 1
    assert manager.get_job(tenant, job_id)["attempts"] == 2
    assert drain(manager) == 1
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["attempts"], job["result"]) == ("completed", 3, {"attempt": 3})
    assert calls[job_id] == 3
    assert drain(manager) == 0


def test_always_failing_ends_failed_with_its_error_kept(world):
    manager, tenant = world
    job_id, task = manager.submit(tenant, "test.broken", max_attempts=3)
    asyncio.run(task())
    drain(manager)
    drain(manager)
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["attempts"]) == ("failed", 3)
    assert job["error"] == "RuntimeError: always broken"
    assert job["finished_at"]
    assert drain(manager) == 0
    assert calls[job_id] == 3


def test_retries_wait_for_their_backoff(world):
    manager, tenant = world
    manager.config = JobConfig(retry_base_seconds=60)
    job_id, task = manager.submit(tenant, "test.broken", max_attempts=3)
    asyncio.run(task())
    assert manager.get_job(tenant, job_id)["status"] == "pending"
    assert manager.due(tenant, 10) == []  # not before run_at
    assert drain(manager) == 0


def test_backoff_is_exponential_with_jitter_and_capped():
    config = JobConfig(retry_base_seconds=2, retry_cap_seconds=100)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (10, 100)]:
        delays = [config.backoff(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jitter: retries of many jobs do not move in lockstep


def test_handler_writes_commit_on_success_and_roll_back_on_failure(world):
    manager, tenant = world
    _, ok = manager.submit(tenant, "test.note", note_id="kept")
    _, bad = manager.submit(tenant, "test.note", max_attempts=1, note_id="dropped", fail=True)
    asyncio.run(ok())
    asyncio.run(bad())
    with manager.databases.handle(tenant) as db:
        assert [r["id"] for r in db.q("SELECT id FROM notes WHERE author_id = 'job'")] == ["kept"]


def test_a_handler_that_only_read_completes_though_others_wrote_meanwhile(world):
    # On SQLite the handler's read snapshot is stale by the time its outcome is written.
    manager, tenant = world
    job_id, task = manager.submit(tenant, "test.read_while_others_write", max_attempts=1)
    asyncio.run(task())
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["result"]) == ("completed", {"read": True})


def test_list_jobs_filters_by_bound_values_only(world):
    manager, tenant = world
    done, task = manager.submit(tenant, "test.echo")
    asyncio.run(task())
    waiting = manager.enqueue(tenant, "test.broken", run_at="2999-01-01T00:00:00.000000Z")
    assert {j["id"] for j in manager.list_jobs(tenant)} == {done, waiting}
    assert [j["id"] for j in manager.list_jobs(tenant, status="completed")] == [done]
    assert [j["id"] for j in manager.list_jobs(tenant, job_type="test.broken")] == [waiting]
    assert manager.list_jobs(tenant, status="x' OR '1'='1") == []
    assert manager.list_jobs(tenant, job_type="x' OR 1=1 --") == []
    with pytest.raises(ValueError):
        store.listing(None, "tenant_jobs; DROP TABLE notes")


def test_submit_refuses_unknown_job_types(world):
    manager, tenant = world
    with pytest.raises(LookupError, match="no handler"):
        manager.submit(tenant, "test.nobody_handles_this")
    assert manager.list_jobs(tenant) == []


def test_cancel_stops_a_pending_job_and_a_cooperative_running_one(world):
    manager, tenant = world
    later = manager.enqueue(tenant, "test.echo", run_at="2999-01-01T00:00:00.000000Z")
    assert manager.cancel(tenant, later)
    assert manager.get_job(tenant, later)["status"] == "cancelled"
    assert not manager.cancel(tenant, later)  # already finished

    started.clear()
    cancel_seen.clear()
    job_id, task = manager.submit(tenant, "test.until_cancelled")

    async def run_and_cancel():
        running = asyncio.create_task(task())
        await asyncio.to_thread(started.wait, 10)
        assert await asyncio.to_thread(manager.cancel, tenant, job_id)
        await running

    asyncio.run(run_and_cancel())
    assert cancel_seen.is_set()
    job = manager.get_job(tenant, job_id)
    assert job["status"] == "cancelled" and job["result"] is None  # the late result is fenced out


def test_retry_gives_a_failed_job_fresh_attempts(world):
    manager, tenant = world
    job_id, task = manager.submit(tenant, "test.flaky", max_attempts=1, failures=1)
    asyncio.run(task())
    assert manager.get_job(tenant, job_id)["status"] == "failed"
    again = manager.retry(tenant, job_id)
    assert again is not None
    asyncio.run(again())
    job = manager.get_job(tenant, job_id)
    assert (job["status"], job["attempts"], job["error"]) == ("completed", 1, None)
    assert manager.retry(tenant, job_id) is None  # completed jobs are not retried


def abandoned(manager: JobManager, tenant: str, lease: float, max_attempts: int, **payload):
    """A job claimed by a process with a `lease`-second lease that then died."""
    dying = JobManager(manager.catalog, manager.databases, JobConfig(lease_seconds=lease))
    with store.writing(manager.queue(tenant).engine) as conn:
        return dying.create_claimed(conn, tenant, dying.new_job("test.echo", payload, max_attempts))


def test_a_lapsed_lease_is_recovered_by_the_scheduler(world):
    manager, tenant = world
    queue = manager.queue(tenant)
    claim = abandoned(manager, tenant, 0.05, 3, n=1)
    assert manager.due(tenant, 10) == []  # its lease still runs
    time.sleep(0.1)
    assert drain(manager) == 1
    job = manager.get_job(tenant, claim.job_id)
    assert (job["status"], job["attempts"]) == ("completed", 2)
    # the dead process's run, had it survived, can no longer write anything
    with store.writing(queue.engine) as conn:
        assert not store.complete(conn, queue.table, claim, {"late": True})
    assert manager.get_job(tenant, claim.job_id)["result"] == {"echo": {"n": 1}}


def test_an_abandoned_last_attempt_ends_failed(world):
    manager, tenant = world
    claim = abandoned(manager, tenant, 0.01, 1)
    time.sleep(0.05)
    drain(manager)
    job = manager.get_job(tenant, claim.job_id)
    assert job["status"] == "failed"
    assert "stopped before it finished" in job["error"]
    assert calls.get(claim.job_id) is None


def test_two_claims_of_one_job_race_and_one_wins(world):
    manager, tenant = world
    job_id = manager.enqueue(tenant, "test.echo")
    queue = manager.queue(tenant)
    barrier = threading.Barrier(8)
    won: list[store.Claim] = []

    def claim():
        barrier.wait()
        with store.writing(queue.engine) as conn:
            got = store.claim(conn, queue.table, job_id, 30)
        if got:
            won.append(got)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and won[0].attempt == 1


def test_system_jobs_live_in_the_host_catalog(world):
    manager, _ = world
    job_id, task = manager.submit_system("test.async_echo", value=7)
    asyncio.run(task())
    job = manager.get_job(None, job_id)
    assert job["status"] == "completed"
    assert job["result"] == {"value": 7, "system": True, "has_catalog": True}
    assert [j["id"] for j in manager.list_jobs(None)] == [job_id]
