"""The job scheduler: a small loop in each app process that runs jobs nobody is running.

Each tick it asks the host (`sys_jobs`) and the next few active tenants (round robin, so the
work per tick stays bounded however many tenants there are) for due jobs: pending ones whose
`run_at` came (new, handed back, or a retry after backoff) and running ones whose lease
lapsed (their process died). It claims each with a conditional update, so several processes
sharing the databases never run one job twice, and starts no more than the manager's free
worker slots. It ticks again at once while it finds work and slots, when a job finishes, and
otherwise every `poll_seconds`. The first tick, at startup, is the recovery after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from app.work.jobs import JobManager

log = logging.getLogger(__name__)

TENANTS_PER_TICK = 50
SHUTDOWN_GRACE_SECONDS = 10.0


class Scheduler:
    def __init__(self, manager: JobManager, poll_seconds: float = 1.0):
        self.manager, self.poll_seconds = manager, poll_seconds
        self._running: set[asyncio.Task] = set()
        self._in_flight: set[tuple[str | None, str]] = set()  # (tenant, job) being started
        self._after = ""  # round-robin cursor: the last tenant id looked at
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
                started = 0
            if started and self.manager.free_slots() > 0:
                await asyncio.sleep(0)  # more may be due: look again right away
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """One tick, waiting for the jobs it started; the number started. For tests, the
        benchmark and one-off drains."""
        started = await self.tick()
        if self._running:
            await asyncio.wait(set(self._running))
        return started

    async def tick(self) -> int:
        """Start due jobs while there are free worker slots; returns how many were started."""
        started = 0
        for tenant_id in [None, *await anyio.to_thread.run_sync(self._next_tenants)]:
            free = self.manager.free_slots()
            if free <= 0:
                break
            try:
                due = await anyio.to_thread.run_sync(self.manager.due, tenant_id, free)
            except Exception:  # one broken tenant database must not stop the others
                log.exception("could not look for due jobs of tenant %s", tenant_id)
                continue
            for job_id in due:
                if (tenant_id, job_id) in self._in_flight:
                    continue  # still due only because its claim has not landed yet
                if not self.manager.reserve():
                    break
                self._spawn(tenant_id, job_id)
                started += 1
        return started

    def _next_tenants(self) -> list[str]:
        rows = self.manager.catalog.rows(
            """SELECT id FROM core_tenants WHERE status = 'active' AND id > :after
               ORDER BY id LIMIT :n""",
            after=self._after,
            n=TENANTS_PER_TICK,
        )
        ids = [r["id"] for r in rows]
        self._after = ids[-1] if len(ids) == TENANTS_PER_TICK else ""  # wrap around at the end
        return ids

    def _spawn(self, tenant_id: str | None, job_id: str) -> None:
        task = asyncio.create_task(self.manager.claim_and_run(tenant_id, job_id))
        self._running.add(task)
        self._in_flight.add((tenant_id, job_id))
        task.add_done_callback(lambda done: self._finished(done, (tenant_id, job_id)))

    def _finished(self, task: asyncio.Task, job: tuple[str | None, str]) -> None:
        self._running.discard(task)
        self._in_flight.discard(job)
        self._wake.set()  # a worker slot is free again
        if not task.cancelled() and task.exception() is not None:
            log.error("job runner crashed", exc_info=task.exception())
