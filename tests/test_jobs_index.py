"""The due-work index: the scheduler finds tenant work from the host catalog alone, so idle
tenants cost nothing, and no interleaving of processes leaves work without an entry that is
due in time. Real SQLite files and the suite's PostgreSQL; tenant opens are counted."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from app.factory import create_app
from app.webhooks.inbound import PROCESS_JOB, SOURCES, accept
from app.work.jobs import JobConfig, JobManager, job_handler
from app.work.scheduler import UNREACHABLE_SECONDS, Scheduler
from tenants import jobs as store
from tenants import webhooks as webhook_store
from tenants.catalog import Catalog
from tenants.due import ORPHAN_MINUTES, Due, backfill
from tenants.engines import tenant_url
from tenants.provision import create_tenant, drop_database
from tenants.stamp import from_now, new_id, now
from tests.support.counting import CountingDatabases
from tests.support.server import env_for
from tests.test_cli_ops import main_py

FUTURE = "2999-01-01T00:00:00.000000Z"
IDLE_TENANTS = 10_000
ran: list[str] = []


@job_handler("test.index_echo")
def echo(ctx, **payload):
    ran.append(ctx.job_id)
    return payload


@job_handler("test.index_broken")
def broken(ctx):
    raise RuntimeError("broken on purpose")


@dataclass
class World:
    manager: JobManager
    databases: CountingDatabases
    owner: str
    settings: object

    @property
    def catalog(self) -> Catalog:
        return self.manager.catalog

    def tenant(self, name: str) -> str:
        return create_tenant(self.catalog, self.databases, self.owner, name)

    def entry(self, tenant_id: str, item_id: str):
        found = [e for e in self.manager.due_work.entries(tenant_id) if e.item_id == item_id]
        return found[0] if found else None

    def job(self, tenant_id: str, job_id: str) -> dict:
        return self.manager.get_job(tenant_id, job_id)


@pytest.fixture
def world(settings):
    catalog = Catalog(settings.database_url)
    catalog.migrate()
    databases = CountingDatabases(settings.tenant_database_url)
    owner = catalog.upsert_user("urn:test", "owner", "owner@example.com", "Owner", "")
    config = JobConfig(retry_base_seconds=0, lease_seconds=30)
    yield World(JobManager(catalog, databases, config), databases, owner, settings)
    databases.dispose()
    catalog.dispose()


def add_idle_tenants(world: World, count: int) -> None:
    """Catalog rows only: no database exists behind them, so opening one would fail."""
    stamp = now()
    rows = [{"id": new_id(), "o": world.owner, "t": stamp, "n": f"idle {n}"} for n in range(count)]
    with world.catalog.begin() as conn:
        conn.execute(
            sa.text("""INSERT INTO core_tenants (id, name, status, db_name, created_by,
                                                 created_at, updated_at)
                       VALUES (:id, :n, 'active', 'none', :o, :t, :t)"""),
            rows,
        )


def tick(world: World, scheduler: Scheduler | None = None) -> int:
    return asyncio.run((scheduler or Scheduler(world.manager)).run_once())


def uncovered(world: World, tenant_id: str) -> list[str]:
    """Unfinished jobs of the tenant whose entry is missing or later than the job is due."""
    with world.databases.handle(tenant_id) as db:
        rows = db.q("""SELECT id, CASE WHEN status = 'pending' THEN run_at ELSE lease_until END
                       AS due FROM tenant_jobs WHERE status IN ('pending', 'running')""")
    late = []
    for row in rows:
        entry = world.entry(tenant_id, row["id"])
        if entry is None or entry.due_at > row["due"]:
            late.append(row["id"])
    return late


def test_a_tick_with_10000_idle_tenants_opens_no_tenant_database(world):
    busy_later = world.tenant("later")
    waiting = world.manager.enqueue(busy_later, "test.index_echo", run_at=FUTURE)
    done, task = world.manager.submit(busy_later, "test.index_echo")
    asyncio.run(task())
    add_idle_tenants(world, IDLE_TENANTS)
    world.databases.reset()

    scheduler = Scheduler(world.manager)
    assert tick(world, scheduler) == 0
    assert tick(world, scheduler) == 0
    assert world.databases.opened == set()  # neither the idle ones nor the one waiting
    assert world.job(busy_later, waiting)["status"] == "pending"
    assert world.entry(busy_later, done) is None  # a finished job leaves the index


def test_due_work_in_a_few_tenants_is_found_and_only_they_are_opened(world):
    add_idle_tenants(world, IDLE_TENANTS)
    busy = [world.tenant(f"busy {n}") for n in range(3)]
    quiet = world.tenant("quiet")
    jobs = {tenant: world.manager.enqueue(tenant, "test.index_echo", n=1) for tenant in busy}
    world.databases.reset()

    assert tick(world) == 3
    assert world.databases.opened == set(busy)  # not `quiet`, not the 10,000
    assert quiet not in world.databases.handles
    for tenant, job_id in jobs.items():
        assert world.job(tenant, job_id)["status"] == "completed"
        assert job_id in ran
        assert world.entry(tenant, job_id) is None


def test_every_change_of_a_job_keeps_its_entry_in_time(world):
    tenant = world.tenant("acme")
    manager = world.manager
    later = manager.enqueue(tenant, "test.index_echo", run_at=FUTURE)
    assert world.entry(tenant, later).due_at == FUTURE
    running, task = manager.submit(tenant, "test.index_echo")  # claimed, not run yet
    assert world.entry(tenant, running).due_at <= world.job(tenant, running)["lease_until"]
    assert uncovered(world, tenant) == []
    asyncio.run(task())
    assert world.entry(tenant, running) is None

    failing, task = manager.submit(tenant, "test.index_broken", max_attempts=2)
    asyncio.run(task())  # first attempt fails: pending again, due at once (no backoff here)
    assert world.job(tenant, failing)["status"] == "pending"
    assert uncovered(world, tenant) == []
    assert tick(world) == 1  # found through its entry; its last attempt fails
    assert world.job(tenant, failing)["status"] == "failed"
    assert world.entry(tenant, failing) is None

    again = manager.retry(tenant, failing)  # fresh attempts: in the index before it runs
    assert uncovered(world, tenant) == []
    asyncio.run(again())  # fails again: waits for its second attempt, still in the index
    assert world.job(tenant, failing)["status"] == "pending"
    assert uncovered(world, tenant) == []

    assert manager.cancel(tenant, later)  # the entries stay until a scheduler looks...
    assert manager.cancel(tenant, failing)
    with world.catalog.begin() as conn:
        conn.execute(sa.text("UPDATE sys_due_work SET due_at = :t"), {"t": now()})
    assert tick(world) == 0
    assert manager.due_work.entries(tenant) == []  # ... and finds it cancelled


def test_a_lease_running_out_leaves_the_entry_due_for_recovery(world):
    tenant = world.tenant("acme")
    dying = JobManager(world.catalog, world.databases, JobConfig(lease_seconds=0.2))
    with store.writing(dying.queue(tenant).engine) as conn:  # claimed, then the process died
        claim = dying.create_claimed(conn, tenant, dying.new_job("test.index_echo", {}))
    assert tick(world) == 0  # its lease still runs: not looked at
    time.sleep(0.3)
    world.databases.reset()
    assert tick(world) == 1
    assert world.databases.opened == {tenant}
    job = world.job(tenant, claim.job_id)
    assert (job["status"], job["attempts"]) == ("completed", 2)


def test_a_settle_never_overwrites_an_announcement_it_did_not_see(world):
    tenant = world.tenant("acme")
    index = world.manager.due_work
    job_id = world.manager.enqueue(tenant, "test.index_echo", run_at=FUTURE)
    seen = Due(FUTURE, world.entry(tenant, job_id).revision)  # a scheduler read the row...
    soon = from_now(seconds=5)
    index.announce(tenant, "job", job_id, soon, seen.revision + 1)  # ...someone brings it on
    assert not index.settle(tenant, "job", job_id, seen)  # the stale settle does nothing
    assert world.entry(tenant, job_id).due_at == soon
    # An announcement at the time the entry already has is still seen (a revision, not a time).
    index.announce(tenant, "job", job_id, soon, seen.revision + 2)
    assert not index.settle(tenant, "job", job_id, Due(FUTURE, seen.revision + 1))
    assert world.entry(tenant, job_id).due_at == soon


def test_a_change_announced_but_never_made_is_fenced_off(world):
    tenant = world.tenant("acme")
    manager = world.manager
    job_id, task = manager.submit(tenant, "test.index_broken", max_attempts=1)
    asyncio.run(task())
    revision = manager.get_job(tenant, job_id)["revision"]
    assert world.entry(tenant, job_id) is None
    # A process announces a restart of the failed job, then dies before making it.
    manager.due_work.announce(tenant, "job", job_id, now(), revision + 1)
    assert tick(world) == 0  # the scheduler finds it failed: fences it, drops the entry
    assert manager.get_job(tenant, job_id)["revision"] == revision + 1
    assert world.entry(tenant, job_id) is None
    queue = manager.queue(tenant)
    with store.writing(queue.engine) as conn:  # had it lived, its restart could not apply
        assert store.restart(conn, queue.table, job_id, 30, revision) is None
    assert manager.get_job(tenant, job_id)["status"] == "failed"
    assert manager.retry(tenant, job_id) is not None  # a retry now reads, announces, applies
    assert uncovered(world, tenant) == []


def test_an_entry_without_its_job_is_looked_at_again_later_then_dropped(world):
    tenant = world.tenant("acme")
    index, ghost = world.manager.due_work, new_id()
    index.announce(tenant, "job", ghost, now(), 1)  # a creation that never committed
    assert tick(world) == 0
    entry = world.entry(tenant, ghost)
    assert entry is not None and entry.due_at > now()  # not again at once, not forgotten
    with world.catalog.begin() as conn:
        conn.execute(
            sa.text("UPDATE sys_due_work SET due_at = :t, announced_at = :old"),
            {"t": now(), "old": from_now(minutes=-ORPHAN_MINUTES - 1)},
        )
    assert tick(world) == 0
    assert world.entry(tenant, ghost) is None


def test_the_backfill_indexes_work_from_before_the_index(world):
    tenant = world.tenant("old")
    queue = world.manager.queue(tenant)
    with store.writing(queue.engine) as conn:  # rows as an older version left them
        pending = store.create(conn, queue.table, store.NewJob("test.index_echo", {}))
        lapsed = store.create_claimed(
            conn, queue.table, store.NewJob("test.index_echo", {}), lease_seconds=-1
        ).job_id
        conn.execute(
            sa.text("""INSERT INTO sync_sources (id, kind, name, schedule, next_run_at,
                                                 created_at, updated_at)
                       VALUES ('src1', 'old-kind', 'Old', 'hourly', :t, :t, :t)"""),
            {"t": now()},
        )
    world.databases.reset()
    assert tick(world) == 0  # nothing in the index: the scheduler cannot see them
    assert world.databases.opened == set()

    index = world.manager.due_work
    assert index.backfill_needed()
    assert backfill(world.catalog, world.databases)
    assert not index.backfill_needed()
    assert {e.item_id for e in index.entries(tenant)} == {pending, lapsed, "src1"}
    assert backfill(world.catalog, world.databases)  # again: harmless
    assert tick(world) == 2
    assert world.job(tenant, pending)["status"] == "completed"
    assert world.job(tenant, lapsed)["status"] == "completed"
    assert [j["job_type"] for j in world.manager.list_jobs(tenant, job_type="sync.run")] == [
        "sync.run"
    ]  # the schedule's slot was queued as a run


def test_a_suspended_tenants_work_waits_until_it_is_resumed(world):
    tenant = world.tenant("paused")
    job_id = world.manager.enqueue(tenant, "test.index_echo")
    world.catalog.set_tenant_status(tenant, "suspended")
    assert tick(world) == 0
    assert world.job(tenant, job_id)["status"] == "pending"
    world.catalog.set_tenant_status(tenant, "active")
    assert tick(world) == 1


def test_a_tenant_whose_database_is_gone_is_set_aside_and_others_go_on(world, caplog):
    lost, fine = world.tenant("lost"), world.tenant("fine")
    world.manager.enqueue(lost, "test.index_echo")
    job_id = world.manager.enqueue(fine, "test.index_echo")
    world.databases.forget(lost)
    drop_database(tenant_url(world.settings.tenant_database_url, lost))
    scheduler = Scheduler(world.manager)
    assert tick(world, scheduler) == 1  # the lost one fails to open; the other runs
    assert world.job(fine, job_id)["status"] == "completed"
    assert "job runner crashed" in caplog.text
    world.databases.reset()
    world.manager.enqueue(fine, "test.index_echo")
    assert tick(world, scheduler) == 1
    assert lost not in world.databases.opened  # left alone for UNREACHABLE_SECONDS
    assert UNREACHABLE_SECONDS >= 10


def test_a_webhook_jobs_entry_is_committed_before_its_transaction(world):
    tenant = world.tenant("hooks")
    endpoint_id = new_id()
    with store.writing(world.manager.queue(tenant).engine) as conn:
        _, secret = webhook_store.add_secret(conn, endpoint_id)
    seen_at_commit: list[set[str]] = []
    engine = world.manager.queue(tenant).engine

    def at_commit(conn) -> None:  # what another process could see in the index right then
        seen_at_commit.append({e.item_id for e in world.manager.due_work.entries(tenant)})

    sa.event.listen(engine, "commit", at_commit)
    try:
        body = b'{"id": "evt_1", "type": "demo.ping", "data": {}}'
        headers = SOURCES["demo"].signed_headers(secret, body, "evt_1", "demo.ping")
        endpoint = {"id": endpoint_id, "tenant_id": tenant, "source": "demo"}
        receipt = accept(world.manager, endpoint, headers, body)
    finally:
        sa.event.remove(engine, "commit", at_commit)
    assert receipt.status == 200, receipt.message
    [job] = world.manager.list_jobs(tenant, job_type=PROCESS_JOB)
    assert any(job["id"] in seen for seen in seen_at_commit)
    assert world.entry(tenant, job["id"]).due_at <= job["lease_until"]


def a_job_from_before_the_index(world: World) -> tuple[str, str]:
    """A tenant with a due job written the way an older version did: no index entry."""
    tenant = world.tenant("old")
    with store.writing(world.manager.queue(tenant).engine) as conn:
        job_id = store.create(conn, "tenant_jobs", store.NewJob("test.index_echo", {}))
    assert world.manager.due_work.entries(tenant) == []
    return tenant, job_id


def test_main_py_migrate_indexes_work_from_before_the_index(world):
    tenant, job_id = a_job_from_before_the_index(world)
    result = main_py(env_for(world.settings), "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert world.entry(tenant, job_id) is not None
    assert not world.manager.due_work.backfill_needed()


def test_the_app_indexes_work_from_before_the_index_once_at_startup(world):
    tenant, job_id = a_job_from_before_the_index(world)
    app = create_app(world.settings)
    try:
        with TestClient(app):  # the lifespan: scheduler, and the backfill in the background
            deadline = time.monotonic() + 30
            while world.job(tenant, job_id)["status"] != "completed":
                assert time.monotonic() < deadline, "the job from before the index never ran"
                time.sleep(0.1)
        assert not world.manager.due_work.backfill_needed()
    finally:
        app.state.databases.dispose()
        app.state.catalog.dispose()
