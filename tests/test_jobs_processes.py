"""Two app processes on one database race for the same jobs; each job runs exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from app.work.jobs import JobManager, job_handler
from tenants.catalog import Catalog
from tenants.provision import create_tenant
from tenants.routing import TenantDatabases

ROOT = Path(__file__).resolve().parents[1]
JOBS = 80

# Each run inserts a note with a fresh id (deliberately not idempotent), so a job that ran
# twice would leave two notes.
WORKER = textwrap.dedent(
    """
    import asyncio, os, sys, time, uuid
    import sqlalchemy as sa
    from app.work.jobs import JobConfig, JobManager, job_handler
    from app.work.scheduler import Scheduler
    from tenants.catalog import Catalog
    from tenants.routing import TenantDatabases

    @job_handler("test.record_run")
    def record_run(ctx, n):
        time.sleep(0.02)
        ctx.db.execute(
            sa.text("INSERT INTO notes (id, body, author_id, created_at)"
                    " VALUES (:id, :job, :pid, 'now')"),
            {"id": uuid.uuid4().hex, "job": ctx.job_id, "pid": f"pid:{os.getpid()}"},
        )

    async def main(catalog_url, tenant_url, start_at):
        config = JobConfig(workers=4)
        manager = JobManager(Catalog(catalog_url), TenantDatabases(tenant_url), config)
        scheduler = Scheduler(manager)
        time.sleep(max(0, start_at - time.time()))  # both processes start together
        idle = 0
        while idle < 3:
            idle = idle + 1 if await scheduler.run_once() == 0 else 0

    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
    """
)


@job_handler("test.record_run")
def record_run(ctx, n):  # the parent only submits; the workers above run the jobs
    raise AssertionError("the test process never runs these jobs")


def test_two_processes_never_run_one_job_twice(settings, tmp_path):
    catalog = Catalog(settings.database_url)
    catalog.migrate()
    databases = TenantDatabases(settings.tenant_database_url)
    owner = catalog.upsert_user("urn:test", "owner", "owner@example.com", "Owner", "")
    tenant_id = create_tenant(catalog, databases, owner, "Acme")
    manager = JobManager(catalog, databases)
    job_ids = {manager.enqueue(tenant_id, "test.record_run", n=n) for n in range(JOBS)}
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    start_at = str(time.time() + 3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                settings.database_url,
                settings.tenant_database_url,
                start_at,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output
    with databases.handle(tenant_id) as db:
        runs = db.execute(sa.text("SELECT body, author_id FROM notes WHERE author_id LIKE 'pid:%'"))
        runs = runs.all()
        statuses = db.q("SELECT status, attempts FROM tenant_jobs")
    databases.dispose()
    catalog.dispose()
    per_job = Counter(job for job, _ in runs)
    assert set(per_job) == job_ids
    assert set(per_job.values()) == {1}  # every job ran, none twice
    assert len({pid for _, pid in runs}) == 2  # both processes really took part
    assert statuses == [{"status": "completed", "attempts": 1}] * JOBS
