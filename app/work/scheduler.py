"""The job scheduler: a small loop in each app process that starts work nobody is running.

Each tick looks where due work is recorded, never at tenants with nothing due:
- the host's system jobs (`sys_jobs`), directly;
- the host's due-work index (tenants/due.py), oldest first, as many entries as there are free
  worker slots. For a tenant job it opens that one tenant's database and claims the job with
  a conditional update (the fencing token stays the source of truth, so several processes
  sharing the databases never run one job twice), then starts it. For a sync schedule it
  queues the scheduled run as a job (app/syncs/jobs.py), which the next tick starts.
An entry that was due but whose item was not (claimed elsewhere, finished, turned off) is
corrected from the item's row, so ticks do not look at it again. A running job's entry is due
when its lease ends: a job whose process died is found then and taken over.

It ticks again at once while it finds work and slots, when a job finishes, and otherwise every
`poll_seconds`. The first tick, at startup, is the recovery after a crash. A tenant whose
database cannot be opened is left alone for UNREACHABLE_SECONDS, so one broken database
neither floods the log nor holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from contextlib import asynccontextmanager
from typing import Any

import anyio

from app.syncs.jobs import start_scheduled_syncs
from app.work.jobs import JobManager, job_manager
from tenants.due import Entry, backfill

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10  # whole seconds: uvicorn takes it too (app/cli.py)
UNREACHABLE_SECONDS = 60.0


class Scheduler:
    def __init__(self, manager: JobManager, poll_seconds: float = 1.0):
        self.manager, self.poll_seconds = manager, poll_seconds
        self._running: set[asyncio.Task] = set()
        self._in_flight: set[tuple[str | None, str]] = set()  # (tenant, job) being started
        self._unreachable: dict[str, float] = {}  # tenant -> time.monotonic() to try again
        self._more = False  # the last tick left due work behind: tick again at once
        self._claims: list[asyncio.Task] = []  # the claims the last tick started
        self._wake = asyncio.Event()
        self._loop: asyncio.Task | None = None
        self.last_pass = 0.0  # time.monotonic() of the loop's latest pass; see alive()

    def start(self) -> None:
        self.last_pass = time.monotonic()
        self._loop = asyncio.create_task(self._forever())

    def alive(self) -> bool:
        """The loop runs and went round lately (it passes at least every poll_seconds, and a
        tick over many slow tenants may take a while). /readyz asks this."""
        recent = time.monotonic() - self.last_pass < max(30.0, 5 * self.poll_seconds)
        return self._loop is not None and not self._loop.done() and recent

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop claiming; give running jobs `grace` seconds, then hand what is still running
        back to the queue (pending, due now) for the next process."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)
        late = set(self._running)
        for task in late:
            task.cancel()  # the job manager hands each job back to the queue
        if late:
            await asyncio.wait(late)

    async def _forever(self) -> None:
        while True:
            self.last_pass = time.monotonic()
            try:
                started = await self.tick()
            except Exception:
                log.exception("job scheduler tick failed")
                started, self._more = 0, False
            if (started or self._more) and self.manager.free_slots() > 0:
                await asyncio.sleep(0)  # more may be due: look again right away
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """One tick, waiting for the jobs it started; how many of them ran (a claim that
        another process won, or that found the job not due after all, did not). For tests,
        the benchmark and one-off drains."""
        await self.tick()
        claims = self._claims
        if self._running:
            await asyncio.wait(set(self._running))
        return sum(
            not task.cancelled() and task.exception() is None and task.result() is not None
            for task in claims
        )

    async def tick(self) -> int:
        """Start claiming due jobs while there are free worker slots; returns how many
        claims were started."""
        started, self._more, self._claims = 0, False, []
        free = self.manager.free_slots()
        if free <= 0:
            return 0
        for job_id in await anyio.to_thread.run_sync(self.manager.due, None, free):
            started += self._start(None, job_id)
        free = self.manager.free_slots()
        if free <= 0:
            return started
        limit = free + len(self._in_flight)  # entries still due only until their claim lands
        entries = await anyio.to_thread.run_sync(self._due_entries, limit)
        for entry in entries:
            if entry.kind == "job":
                started += self._start(entry.tenant_id, entry.item_id, entry)
        syncs = [entry for entry in entries if entry.kind == "sync"]
        if syncs:
            failed = await anyio.to_thread.run_sync(start_scheduled_syncs, self.manager, syncs)
            self._set_aside(failed)
        self._more = len(entries) == limit or bool(syncs)
        return started

    def _due_entries(self, limit: int) -> list[Entry]:
        moment = time.monotonic()
        for tenant_id, until in list(self._unreachable.items()):
            if until <= moment:
                del self._unreachable[tenant_id]
        return self.manager.due_work.due(limit, skip_tenants=list(self._unreachable))

    def _set_aside(self, tenant_ids: list[str]) -> None:
        for tenant_id in tenant_ids:
            self._unreachable[tenant_id] = time.monotonic() + UNREACHABLE_SECONDS

    def _start(self, tenant_id: str | None, job_id: str, entry: Entry | None = None) -> int:
        """Start claiming one job in a free slot: 1 if started, 0 if not."""
        if (tenant_id, job_id) in self._in_flight or not self.manager.reserve():
            return 0
        task = asyncio.create_task(self.manager.claim_and_run(tenant_id, job_id, entry))
        self._claims.append(task)
        self._running.add(task)
        self._in_flight.add((tenant_id, job_id))
        task.add_done_callback(lambda done: self._finished(done, tenant_id, job_id))
        return 1

    def _finished(self, task: asyncio.Task, tenant_id: str | None, job_id: str) -> None:
        self._running.discard(task)
        self._in_flight.discard((tenant_id, job_id))
        self._wake.set()  # a worker slot is free again
        if not task.cancelled() and task.exception() is not None:
            log.error("job runner crashed", exc_info=task.exception())
            if tenant_id is not None:
                self._set_aside([tenant_id])


@asynccontextmanager
async def background_lifespan(app: Any):
    """Run the scheduler for the app's lifetime: recovery of left-over jobs at startup, then
    due work every JOB_POLL_SECONDS. After an upgrade that added the due-work index, the
    jobs and schedules from before it are indexed once, in the background."""
    manager = job_manager(app)
    scheduler = Scheduler(manager, manager.config.poll_seconds)
    scheduler.start()
    app.state.scheduler = scheduler
    stopping = threading.Event()
    indexing = asyncio.create_task(anyio.to_thread.run_sync(_index_once, manager, stopping))
    try:
        yield
    finally:
        stopping.set()
        await indexing
        await scheduler.stop()


def _index_once(manager: JobManager, stopping: threading.Event) -> None:
    try:
        if manager.due_work.backfill_needed():
            backfill(manager.catalog, manager.databases, stopping.is_set)
    except Exception:  # the app runs on; the next start (or `main.py migrate`) tries again
        log.exception("could not index the jobs and schedules from before the due-work index")
