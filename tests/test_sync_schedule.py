"""Scheduled syncs: a schedule turned on is in the host's due-work index; when due, the job
scheduler moves it to its next slot and queues the run as a job, once per slot; a schedule
turned off stops."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest

from app.demo.graphql import DemoStore
from app.demo.sync import DEMO, in_process_client
from app.syncs.jobs import SYNC_JOB, start_scheduled_syncs
from app.syncs.sources import SPECS, add_source, get_source, register_spec, set_schedule
from app.work.jobs import job_manager
from app.work.scheduler import Scheduler
from tenants.stamp import iso
from tests.conftest import dev_sign_in

register_spec(DEMO, default=True)  # what create_app does outside production


@pytest.fixture
def tenant(app, new_client, monkeypatch):
    """A signed-up tenant whose demo source reads a small store of this test's own. The
    client runs no lifespan, so no background scheduler competes with the test's own."""
    store = DemoStore(count=40)
    monkeypatch.setitem(
        SPECS, DEMO.kind, dataclasses.replace(DEMO, connect=lambda: in_process_client(store))
    )
    dev_sign_in(new_client(), "ada@example.com")
    tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    with app.state.databases.handle(tenant_id) as db:
        source_id = add_source(db, DEMO.kind, DEMO.title)
        db.commit()  # the test owns this handle: it ends the unit of work
    return tenant_id, source_id


def schedule(app, tenant_id: str, source_id: str, when: str) -> None:
    with app.state.databases.handle(tenant_id) as db:
        set_schedule(db, source_id, when, job_manager(app).due_work)
        db.commit()  # the test owns this handle: it ends the unit of work


def run_due_syncs(app, moment: datetime) -> None:
    """What a scheduler tick does with the sync entries due at `moment`."""
    manager = job_manager(app)
    entries = manager.due_work.due(100, iso(moment), kind="sync")
    assert start_scheduled_syncs(manager, entries, moment) == []


def sync_jobs(app, tenant_id: str) -> list[dict]:
    return job_manager(app).list_jobs(tenant_id, job_type=SYNC_JOB)


def test_each_slot_of_a_schedule_is_queued_once(app, tenant):
    tenant_id, source_id = tenant
    now = datetime.now(UTC)
    manager = job_manager(app)
    assert manager.due_work.entries(tenant_id) == []  # schedule off: nothing to look at
    schedule(app, tenant_id, source_id, "daily")
    [entry] = manager.due_work.entries(tenant_id)
    assert (entry.kind, entry.item_id) == ("sync", source_id)
    assert entry.due_at <= iso(datetime.now(UTC))  # first run at the next tick

    run_due_syncs(app, now + timedelta(seconds=1))
    assert len(sync_jobs(app, tenant_id)) == 1
    [entry] = [e for e in manager.due_work.entries(tenant_id) if e.kind == "sync"]
    assert entry.due_at > iso(now + timedelta(hours=23))  # moved to tomorrow's slot
    run_due_syncs(app, now + timedelta(seconds=1))
    run_due_syncs(app, now + timedelta(hours=23))
    assert len(sync_jobs(app, tenant_id)) == 1
    run_due_syncs(app, now + timedelta(days=1, seconds=2))
    assert len(sync_jobs(app, tenant_id)) == 2
    with pytest.raises(ValueError):
        schedule(app, tenant_id, source_id, "every second")


def test_due_schedules_become_jobs_that_the_scheduler_runs(app, tenant):
    tenant_id, source_id = tenant
    manager = job_manager(app)
    schedule(app, tenant_id, source_id, "hourly")
    scheduler = Scheduler(manager)
    assert asyncio.run(scheduler.run_once()) == 0  # queues the run: a job due now
    [job] = sync_jobs(app, tenant_id)
    assert (job["status"], job["submitted_by"]) == ("pending", None)
    assert asyncio.run(scheduler.run_once()) == 1  # the next tick starts it
    assert manager.get_job(tenant_id, job["id"])["status"] == "completed"
    with app.state.databases.handle(tenant_id) as db:
        state = get_source(db, source_id)
        count = db.q("SELECT count(*) AS n FROM demo_orders")[0]["n"]
    assert (state["status"], state["job_id"], count) == ("succeeded", job["id"], 40)
    assert asyncio.run(scheduler.run_once()) == 0  # nothing more until the next hour
    assert len(sync_jobs(app, tenant_id)) == 1


def test_a_schedule_turned_off_stops_and_leaves_the_index(app, tenant):
    tenant_id, source_id = tenant
    manager = job_manager(app)
    schedule(app, tenant_id, source_id, "hourly")
    run_due_syncs(app, datetime.now(UTC) + timedelta(seconds=1))
    assert len(sync_jobs(app, tenant_id)) == 1
    schedule(app, tenant_id, source_id, "off")
    for hours in (1, 2, 30):  # the entry, due in an hour, finds the schedule off
        run_due_syncs(app, datetime.now(UTC) + timedelta(hours=hours, seconds=1))
    assert len(sync_jobs(app, tenant_id)) == 1
    assert [e for e in manager.due_work.entries(tenant_id) if e.kind == "sync"] == []


def test_two_schedulers_racing_for_one_slot_queue_one_run(app, tenant):
    tenant_id, source_id = tenant
    manager = job_manager(app)
    schedule(app, tenant_id, source_id, "daily")
    later = datetime.now(UTC) + timedelta(seconds=1)
    entries = manager.due_work.due(10, iso(later), kind="sync")  # both read the same entry
    barrier, unreachable = threading.Barrier(4), []

    def race():
        barrier.wait()
        unreachable.extend(start_scheduled_syncs(manager, entries, later))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unreachable == []
    assert len(sync_jobs(app, tenant_id)) == 1
