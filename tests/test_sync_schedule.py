"""Scheduled syncs: a due schedule is claimed once, queued as a job, and the job scheduler
runs it."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from app.demo.graphql import DemoStore
from app.demo.sync import DEMO, in_process_client
from app.syncs.jobs import SYNC_JOB, enqueue_due_syncs
from app.syncs.sources import SPECS, add_source, claim_due, get_source, register_spec, set_schedule
from app.work.jobs import job_manager
from app.work.scheduler import Scheduler
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


def test_claim_due_claims_each_slot_once(app, tenant):
    tenant_id, source_id = tenant
    now = datetime.now(UTC)
    with app.state.databases.handle(tenant_id) as db:
        assert claim_due(db, now) == []  # schedule off
        set_schedule(db, source_id, "daily")
        assert claim_due(db, now + timedelta(seconds=1)) == [source_id]
        assert claim_due(db, now + timedelta(seconds=1)) == []  # moved to tomorrow
        assert claim_due(db, now + timedelta(hours=23)) == []
        assert claim_due(db, now + timedelta(days=1, seconds=2)) == [source_id]
        set_schedule(db, source_id, "off")
        assert claim_due(db, now + timedelta(days=9)) == []
        with pytest.raises(ValueError):
            set_schedule(db, source_id, "every second")


def test_due_schedules_become_jobs_that_the_scheduler_runs(app, tenant):
    tenant_id, source_id = tenant
    manager = job_manager(app)
    with app.state.databases.handle(tenant_id) as db:
        set_schedule(db, source_id, "hourly")
        db.commit()
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert enqueue_due_syncs(manager, later) == 1
    assert enqueue_due_syncs(manager, later) == 0  # the slot is taken: nothing twice
    [job] = manager.list_jobs(tenant_id, job_type=SYNC_JOB)
    assert job["status"] == "pending"
    assert asyncio.run(Scheduler(manager).run_once()) == 1
    assert manager.get_job(tenant_id, job["id"])["status"] == "completed"
    with app.state.databases.handle(tenant_id) as db:
        state = get_source(db, source_id)
        count = db.q("SELECT count(*) AS n FROM demo_orders")[0]["n"]
    assert (state["status"], state["job_id"], count) == ("succeeded", job["id"], 40)
