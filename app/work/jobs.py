"""Durable background jobs: register a handler by name, submit from a route, it runs after the
response; if it fails it is retried with backoff, and if the process dies it is finished later.

Register a handler in app/work/handlers.py (explicitly, at startup):

    def build_report(ctx, month: str) -> dict | None:     # `async def` works too
        for n, part in enumerate(parts, 1):
            if ctx.cancelled():                           # cancelled, or the lease was lost
                return None
            ctx.db.execute(...)                           # the tenant's database
            ctx.progress(n * 100 // len(parts), f"part {n}")
        return {"rows": 42}                               # stored as the job's JSON result

    JOBS = {..., "reports.build": build_report}

Submit it from a route and return the task, so it starts once the response is sent:

    job_id, task = jobs_for(req).submit(
        auth.tenant_id, "reports.build", submitted_by=auth.user_id, month="2025-01"
    )
    return JobRow(...), task

A job can also be a sequence of named steps that each run once (app/work/workflow.py).

Contract:
- Handlers are found by name, so a job survives a restart (a closure would not). Payload and
  result must be JSON, and are shown on the job's page to whoever may see its details (the
  person who submitted it, and roles with jobs.manage): never put a server path or a secret in
  them. Payload keys may not be `tenant_id`, `job_type`, `max_attempts` or `submitted_by`.
- At least once: a handler can run again after a crash or a lost lease, so make effects
  outside the tenant database idempotent (an idempotency key, natural keys). Writes through
  `ctx.db` that you leave uncommitted (`ctx.db.execute`, `ctx.db.q`) are committed in one
  transaction with the job's `completed` mark, and rolled back if the handler raises or the
  job was cancelled meanwhile: they land exactly once. fastsql's `table.insert/update` commit
  at once and so fall outside that; key them (ON CONFLICT DO NOTHING) if you use them.
- A raised exception fails the attempt; it is retried after an exponential backoff with
  jitter (`retry_base * 2**(attempt-1)`, capped, scaled by a random 0.5-1.0) until
  `max_attempts`, then the job is `failed` with its last error kept.
- `ctx.progress()` and `ctx.cancelled()` are quick database calls on their own connection.
  On SQLite, don't report progress while holding uncommitted writes: it would wait on your
  own write lock. Report before writing, or commit the step first.
- `ctx.db` is an open TenantDB for tenant jobs, None for system jobs (`submit_system`), which
  get `ctx.catalog` and `ctx.databases` to reach the host and any tenant. `ctx.settings` are
  the app's settings (None for a JobManager built without them).

Every tenant job has an entry in the host's due-work index (tenants/due.py), written before
the job and kept no later than the job's next due time, so the scheduler finds work without
opening idle tenants. System jobs live in the host's `sys_jobs` and need no index.

Settings (app/settings.py): JOB_LEASE_SECONDS (60), JOB_POLL_SECONDS (1),
JOB_RETRY_BASE_SECONDS (2), JOB_RETRY_CAP_SECONDS (600), JOB_WORKERS (8: handlers running at
once per process, however they were started; keep it below a tenant's connection pool of 10).
A job submitted while every worker is busy is handed to the scheduler, which runs it as soon
as one is free. A running job's lease is renewed every third of JOB_LEASE_SECONDS; a job whose
lease lapsed is taken over by any process, so a crash delays it by at most one lease.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import sqlalchemy as sa
from starlette.background import BackgroundTask

from app.telemetry.metrics import JOBS
from tenants import jobs as store
from tenants.catalog import Catalog
from tenants.due import Due, DueWork, Entry
from tenants.routing import TenantDatabases, TenantDB
from tenants.stamp import from_now, new_id, now

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[..., Any]
HANDLERS: dict[str, Handler] = {}
T = TypeVar("T")


def job_handler(name: str) -> Callable[[Handler], Handler]:
    """Register `def/async def handler(ctx, **payload) -> dict | None` under `name`."""

    def register(handler: Handler) -> Handler:
        if HANDLERS.get(name, handler) is not handler:
            raise ValueError(f"job type {name!r} already has a handler")
        HANDLERS[name] = handler
        return handler

    return register


@dataclass(frozen=True)
class JobConfig:
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    retry_base_seconds: float = 2.0
    retry_cap_seconds: float = 600.0
    workers: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> JobConfig:
        return cls(
            lease_seconds=settings.job_lease_seconds,
            poll_seconds=settings.job_poll_seconds,
            retry_base_seconds=settings.job_retry_base_seconds,
            retry_cap_seconds=settings.job_retry_cap_seconds,
            workers=settings.job_workers,
        )

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.retry_cap_seconds, self.retry_base_seconds * 2 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)


@dataclass(frozen=True)
class Queue:
    """Where a job's row lives: a tenant's `tenant_jobs` or the host's `sys_jobs`."""

    tenant_id: str | None
    table: str
    engine: sa.Engine


class JobLost(Exception):
    """The run was cancelled or taken over: it may record nothing more."""


@dataclass
class JobContext:
    """What a handler gets as `ctx`."""

    tenant_id: str | None
    job_id: str
    job_type: str
    attempt: int
    max_attempts: int
    catalog: Catalog
    databases: TenantDatabases
    db: TenantDB | None
    settings: Settings | None
    _queue: Queue = field(repr=False)
    _claim: store.Claim = field(repr=False)
    _lease_seconds: float = field(repr=False)
    results: dict[str, Any] = field(default_factory=dict)  # a workflow's step results so far
    # The manager running it: a job may queue more work in its own unit of work with
    # `ctx.manager.create_pending(ctx.db.conn, ...)`, or system jobs with `enqueue`.
    manager: JobManager | None = field(default=None, repr=False)

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def progress(self, percent: int, message: str = "") -> None:
        """Show progress (0-100) and a short message on the dashboard; renews the lease."""
        with store.writing(self._queue.engine) as conn:
            store.report(
                conn, self._queue.table, self._claim, percent, message, self._lease_seconds
            )

    def cancelled(self) -> bool:
        """True once the job was cancelled or this run lost its lease: stop soon."""
        with self._queue.engine.connect() as conn:
            return not store.holds(conn, self._queue.table, self._claim)

    def recorded_steps(self) -> list[dict[str, Any]] | None:
        """A workflow's steps as the job row has them (None if it has none)."""
        with self._queue.engine.connect() as conn:
            job = store.get(conn, self._queue.table, self.job_id)
        return job["steps"] if job else None

    def record_steps(self, steps: list[dict[str, Any]], percent: int, message: str) -> None:
        """Write a workflow's steps. For a tenant job this commits `ctx.db`'s open transaction
        with them, so a step's writes and its "completed" land together; raises JobLost (after
        rolling back) if the run no longer holds the job."""
        queue, claim = self._queue, self._claim
        if self.db is None:
            with store.writing(queue.engine) as conn:
                recorded = store.record_steps(conn, queue.table, claim, steps, percent, message)
        else:
            recorded = store.record_steps(self.db.conn, queue.table, claim, steps, percent, message)
            if recorded:
                self.db.commit()
            else:
                self.db.rollback()
        if recorded is None:
            raise JobLost(self.job_id)


class JobManager:
    """Submits, runs, inspects and manages jobs for the host and every tenant.

    `tenant_id=None` means the host's system jobs (`sys_jobs`) in every method that takes it.
    """

    def __init__(
        self,
        catalog: Catalog,
        databases: TenantDatabases,
        config: JobConfig | None = None,
        settings: Settings | None = None,
    ):
        self.catalog, self.databases, self.settings = catalog, databases, settings
        self.config = config or JobConfig()
        self.due_work = DueWork(catalog)
        self._busy, self._slots_lock = 0, threading.Lock()
        self.stopping = False  # set when shutdown interrupts a job: start nothing after that

    # -- submitting ------------------------------------------------------------------------

    def submit(
        self,
        tenant_id: str,
        job_type: str,
        max_attempts: int = 3,
        submitted_by: str | None = None,
        **payload: Any,
    ) -> tuple[str, BackgroundTask]:
        """Create a tenant job and the task that runs it. Return the task from the route.
        `submitted_by` is the user asking for it: they may see its details."""
        job = self.new_job(job_type, payload, max_attempts, submitted_by=submitted_by)
        return self._submit(tenant_id, job)

    def submit_system(
        self, job_type: str, max_attempts: int = 3, **payload: Any
    ) -> tuple[str, BackgroundTask]:
        """Create a host-level job (sys_jobs) and the task that runs it."""
        return self._submit(None, self.new_job(job_type, payload, max_attempts))

    def enqueue(
        self,
        tenant_id: str | None,
        job_type: str,
        max_attempts: int = 3,
        run_at: str | None = None,
        **payload: Any,
    ) -> str:
        """Create a job for the scheduler to run at `run_at` (a `stamp` time; default now).
        For callers with no response to attach a task to (CLI, other jobs, scheduled work)."""
        job = self.new_job(job_type, payload, max_attempts)
        queue = self.queue(tenant_id)
        with store.writing(queue.engine) as conn:
            return self.create_pending(conn, tenant_id, job, run_at)

    def new_job(
        self,
        job_type: str,
        payload: dict[str, Any],
        max_attempts: int = 3,
        *,
        job_id: str | None = None,
        submitted_by: str | None = None,
    ) -> store.NewJob:
        """A job to create, checked: its handler exists; a workflow gets its steps listed."""
        handler = HANDLERS.get(job_type)
        if handler is None:
            raise LookupError(f"no handler is registered for job type {job_type!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        steps = getattr(handler, "initial_steps", None)  # a Workflow (app/work/workflow.py)
        return store.NewJob(
            job_type,
            payload,
            max_attempts,
            job_id=job_id or new_id(),
            steps=steps() if steps else None,
            submitted_by=submitted_by,
        )

    def create_pending(
        self, conn: sa.Connection, tenant_id: str | None, job: store.NewJob, run_at: str | None
    ) -> str:
        """Insert a pending job on `conn`, in the caller's transaction; its index entry is
        written (and committed) first, so the job can never be without one."""
        if tenant_id is not None:
            self.due_work.announce(tenant_id, "job", job.job_id, run_at or now(), 1)
        return store.create(conn, _table(tenant_id), job, run_at)

    def create_claimed(
        self, conn: sa.Connection, tenant_id: str | None, job: store.NewJob
    ) -> store.Claim:
        """Insert a job claimed for its first attempt on `conn`, in the caller's transaction
        (the webhook receiver stores its event with it); run it with `background(...)`. Its
        index entry, due when the lease ends, is written first."""
        lease_seconds = self.config.lease_seconds
        if tenant_id is not None:
            lease_end = from_now(seconds=lease_seconds)  # before the row's own: never later
            self.due_work.announce(tenant_id, "job", job.job_id, lease_end, 1)
        return store.create_claimed(conn, _table(tenant_id), job, lease_seconds)

    def _submit(self, tenant_id: str | None, job: store.NewJob) -> tuple[str, BackgroundTask]:
        queue = self.queue(tenant_id)
        with store.writing(queue.engine) as conn:
            claim = self.create_claimed(conn, tenant_id, job)
        return claim.job_id, self.background(tenant_id, claim)

    def background(self, tenant_id: str | None, claim: store.Claim) -> BackgroundTask:
        """The task that runs an already claimed job (for code that created it in its own
        transaction, like the webhook receiver)."""
        return BackgroundTask(self.run, tenant_id, claim)

    # -- inspecting and managing -----------------------------------------------------------

    def get_job(self, tenant_id: str | None, job_id: str) -> dict[str, Any] | None:
        queue = self.queue(tenant_id)
        with queue.engine.connect() as conn:
            return store.get(conn, queue.table, job_id)

    def list_jobs(
        self,
        tenant_id: str | None,
        *,
        job_type: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Newest first. Unknown status values simply match nothing."""
        queue = self.queue(tenant_id)
        with queue.engine.connect() as conn:
            return store.listing(conn, queue.table, job_type=job_type, status=status, limit=limit)

    def cancel(self, tenant_id: str | None, job_id: str) -> bool:
        """Cancel a pending or running job; False if it had already finished or is unknown.
        Its index entry stays until a scheduler finds the job finished (tenants/due.py)."""
        queue = self.queue(tenant_id)
        with store.writing(queue.engine) as conn:
            return store.cancel(conn, queue.table, job_id)

    def retry(self, tenant_id: str | None, job_id: str) -> BackgroundTask | None:
        """Run a failed or cancelled job again with fresh attempts; None if it is neither."""
        with store.writing(self.queue(tenant_id).engine) as conn:
            claim = self.restart(conn, tenant_id, job_id)
        return self.background(tenant_id, claim) if claim else None

    def restart(
        self, conn: sa.Connection, tenant_id: str | None, job_id: str
    ) -> store.Claim | None:
        """Fresh attempts for a failed or cancelled job, claimed for the first one, on `conn`
        in the caller's transaction (announced in the index first); None if it is neither."""
        lease = self.config.lease_seconds
        return self._bring_forward(
            conn,
            tenant_id,
            job_id,
            from_now(seconds=lease),
            lambda revision: store.restart(conn, _table(tenant_id), job_id, lease, revision),
        )

    def requeue(self, tenant_id: str | None, job_id: str) -> bool:
        """Give a failed or cancelled job fresh attempts for any process's scheduler to run
        (the CLI's retry); False if it is neither."""
        with store.writing(self.queue(tenant_id).engine) as conn:
            return bool(
                self._bring_forward(
                    conn,
                    tenant_id,
                    job_id,
                    now(),
                    lambda revision: store.requeue(conn, _table(tenant_id), job_id, revision),
                )
            )

    # -- the due-work index ----------------------------------------------------------------

    def _bring_forward(
        self,
        conn: sa.Connection,
        tenant_id: str | None,
        job_id: str,
        due_at: str,
        change: Callable[[int | None], T],
    ) -> T:
        """Apply `change`, which makes the job due at `due_at` (sooner than it was), on `conn`:
        for a tenant job, announced in the index first (tenants/due.py), then applied at the
        revision announced. System jobs are found in sys_jobs itself."""
        if tenant_id is None:
            return change(None)
        return self.due_work.bring_forward(conn, tenant_id, "job", job_id, due_at, change)

    def _settle(self, queue: Queue, job_id: str, due_at: str | None, revision: int | None) -> None:
        """After a committed change that made the job due later (or never), tell the index."""
        if queue.tenant_id is not None and revision is not None:
            _after_the_fact(
                self.due_work.settle, queue.tenant_id, "job", job_id, Due(due_at, revision)
            )

    # -- running ---------------------------------------------------------------------------

    def queue(self, tenant_id: str | None) -> Queue:
        if tenant_id is None:
            return Queue(None, _table(None), self.catalog.engine)
        with self.databases.handle(tenant_id) as db:  # the cached engine; no connection used
            return Queue(tenant_id, _table(tenant_id), db.engine)

    def due(self, tenant_id: str | None, limit: int) -> list[str]:
        """Ids of the jobs of one queue that may be claimed now (read from the queue itself)."""
        queue = self.queue(tenant_id)
        with queue.engine.connect() as conn:
            return store.due(conn, queue.table, limit)

    # A process runs at most `config.workers` handlers at once, however they were started.
    # Besides bounding threads, this keeps a handler's own connection plus the short ones
    # used for progress and outcomes within the tenant's connection pool.

    def reserve(self) -> bool:
        """Take a worker slot if one is free (the scheduler does, before `claim_and_run`)."""
        with self._slots_lock:
            if self.stopping or self._busy >= self.config.workers:
                return False
            self._busy += 1
            return True

    def free_slots(self) -> int:
        with self._slots_lock:
            return self.config.workers - self._busy

    def _release_slot(self) -> None:
        with self._slots_lock:
            self._busy -= 1

    async def claim_and_run(
        self, tenant_id: str | None, job_id: str, entry: Entry | None = None
    ) -> str | None:
        """Claim a due job and run it in a slot the caller reserved; None if another
        process (or run) got the job first. `entry` is the index entry that pointed at a
        tenant job: it is corrected to what the job's row says once the claim is decided."""
        try:
            claim = await anyio.to_thread.run_sync(self._claim, tenant_id, job_id, entry)
        except BaseException:
            self._release_slot()
            raise
        if claim is None:
            self._release_slot()
            return None
        return await self._run_in_slot(tenant_id, claim)

    def _claim(self, tenant_id: str | None, job_id: str, entry: Entry | None) -> store.Claim | None:
        queue = self.queue(tenant_id)
        with store.writing(queue.engine) as conn:
            claim = store.claim(conn, queue.table, job_id, self.config.lease_seconds)
        if entry is not None:
            _after_the_fact(self.due_work.reconcile, entry, queue.engine, self.config.lease_seconds)
        return claim

    async def run(self, tenant_id: str | None, claim: store.Claim) -> str:
        """Run one claimed attempt (what the BackgroundTask does) and record its outcome:
        'completed', 'pending' (will be retried), 'failed', 'lost' (cancelled or taken over
        meanwhile), 'deferred': no worker slot was free, so the claim went back to the
        scheduler unstarted, or 'stopped': the process stopped first and handed it back."""
        if not self.reserve():
            await anyio.to_thread.run_sync(self._hand_back, tenant_id, claim)
            return "deferred"
        return await self._run_in_slot(tenant_id, claim)

    def _hand_back(self, tenant_id: str | None, claim: store.Claim) -> None:
        queue = self.queue(tenant_id)
        with store.writing(queue.engine) as conn:
            self._bring_forward(
                conn,
                tenant_id,
                claim.job_id,
                now(),
                lambda revision: store.release(conn, queue.table, claim, revision),
            )

    async def _run_in_slot(self, tenant_id: str | None, claim: store.Claim) -> str:
        outcome = await self._attempt_in_slot(tenant_id, claim)
        JOBS.labels(claim.job_type, outcome).inc()
        return outcome

    async def _attempt_in_slot(self, tenant_id: str | None, claim: store.Claim) -> str:
        heartbeat = asyncio.create_task(self._renew_lease(tenant_id, claim))
        try:
            handler = HANDLERS.get(claim.job_type, _unregistered)
            if inspect.iscoroutinefunction(handler):
                return await self._attempt_async(handler, tenant_id, claim)
            # One trip to a worker thread for the whole attempt of a sync handler. Abandoned
            # when the process stops (the thread cannot be interrupted; see below).
            return await anyio.to_thread.run_sync(
                self._attempt, handler, tenant_id, claim, abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            # Shutdown ran out of time for this attempt: back in the queue at once, so the
            # next process runs it now rather than after the lease. What the abandoned run
            # does later is refused: its claim no longer holds the job. Done right here, on
            # the loop (one short UPDATE), so it has happened before the loop shuts down.
            # Returning, not raising, spares the log a traceback per job at every deploy.
            self.stopping = True
            self._hand_back_stopped(tenant_id, claim)
            return "stopped"
        finally:
            heartbeat.cancel()
            self._release_slot()

    def _hand_back_stopped(self, tenant_id: str | None, claim: store.Claim) -> None:
        try:
            self._hand_back(tenant_id, claim)
            log.warning(
                "job %s (%s) handed back: the process is stopping", claim.job_id, claim.job_type
            )
        except Exception:  # e.g. SQLite locked by the abandoned run's open transaction
            log.warning(
                "job %s left to its lease: could not hand it back", claim.job_id, exc_info=True
            )

    def _attempt(self, handler: Handler, tenant_id: str | None, claim: store.Claim) -> str:
        ctx = self._context(tenant_id, claim)
        try:
            try:
                return self._complete(ctx, handler(ctx, **claim.payload))
            except JobLost:
                return "lost"
            except Exception as error:  # any failure of the handler is a failed attempt
                return self._fail(ctx, error)
        finally:
            if ctx.db is not None:
                ctx.db.close()

    async def _attempt_async(
        self, handler: Handler, tenant_id: str | None, claim: store.Claim
    ) -> str:
        ctx = await anyio.to_thread.run_sync(self._context, tenant_id, claim)
        try:
            try:
                result = await handler(ctx, **claim.payload)
                return await anyio.to_thread.run_sync(self._complete, ctx, result)
            except JobLost:
                return "lost"
            except Exception as error:
                return await anyio.to_thread.run_sync(self._fail, ctx, error)
        finally:
            if ctx.db is not None:
                ctx.db.close()

    def _context(self, tenant_id: str | None, claim: store.Claim) -> JobContext:
        return JobContext(
            tenant_id=tenant_id,
            job_id=claim.job_id,
            job_type=claim.job_type,
            attempt=claim.attempt,
            max_attempts=claim.max_attempts,
            catalog=self.catalog,
            databases=self.databases,
            db=self.databases.handle(tenant_id) if tenant_id else None,
            settings=self.settings,
            _queue=self.queue(tenant_id),
            _claim=claim,
            _lease_seconds=self.config.lease_seconds,
            manager=self,
        )

    def _complete(self, ctx: JobContext, result: Any) -> str:
        """Record success. For a tenant job the outcome is written in the handler's own open
        transaction and committed with its writes: both land, or neither (a crash before the
        commit leaves the job to be run again, with nothing of it applied)."""
        queue, claim = ctx._queue, ctx._claim
        if ctx.db is None:
            with store.writing(queue.engine) as conn:
                return "completed" if store.complete(conn, queue.table, claim, result) else "lost"
        revision = store.complete(ctx.db.conn, queue.table, claim, result)
        if revision is None:
            ctx.db.rollback()  # cancelled or taken over meanwhile: apply none of this run
            return "lost"
        ctx.db.commit()
        self._settle(queue, claim.job_id, None, revision)
        return "completed"

    def _fail(self, ctx: JobContext, error: Exception) -> str:
        log.warning(
            "job %s (%s) attempt %d failed: %s",
            ctx.job_id,
            ctx.job_type,
            ctx.attempt,
            error,
            exc_info=error,
        )
        if ctx.db is not None:
            ctx.db.close()  # roll back the handler's writes (and release SQLite's lock)
        queue, claim = ctx._queue, ctx._claim
        message = f"{type(error).__name__}: {error}"
        if claim.last_attempt:
            with store.writing(queue.engine) as conn:
                revision = store.fail(conn, queue.table, claim, message, None)
            self._settle(queue, claim.job_id, None, revision)
            return "failed" if revision else "lost"
        retry_at = from_now(seconds=self._backoff(claim))
        with store.writing(queue.engine) as conn:
            recorded = self._bring_forward(
                conn,
                queue.tenant_id,
                claim.job_id,
                retry_at,
                lambda revision: store.fail(conn, queue.table, claim, message, retry_at, revision),
            )
        return "pending" if recorded else "lost"

    def _backoff(self, claim: store.Claim) -> float:
        """Seconds before the next attempt: the handler's own `retry_delay(attempt, settings)`
        if it has one (outbound webhooks retry over a day), else the configured backoff."""
        own = getattr(HANDLERS.get(claim.job_type), "retry_delay", None)
        return own(claim.attempt, self.settings) if own else self.config.backoff(claim.attempt)

    async def _renew_lease(self, tenant_id: str | None, claim: store.Claim) -> None:
        while True:
            await asyncio.sleep(self.config.lease_seconds / 3)
            try:
                held = await anyio.to_thread.run_sync(self._extend, tenant_id, claim)
            except Exception:  # e.g. SQLite busy for longer than busy_timeout: try next time
                log.warning("could not renew the lease of job %s", claim.job_id, exc_info=True)
                continue
            if not held:
                return

    def _extend(self, tenant_id: str | None, claim: store.Claim) -> bool:
        queue = self.queue(tenant_id)
        lease_end = from_now(seconds=self.config.lease_seconds)  # before the row's own
        with store.writing(queue.engine) as conn:
            revision = store.extend(conn, queue.table, claim, self.config.lease_seconds)
        self._settle(queue, claim.job_id, lease_end, revision)
        return revision is not None


def _table(tenant_id: str | None) -> str:
    return "sys_jobs" if tenant_id is None else "tenant_jobs"


def _after_the_fact(correct: Callable[..., Any], *args: Any) -> None:
    """Push an index entry back after a committed change. If that fails the entry is only
    early, which the next scheduler to find it corrects: log it, never fail the job for it."""
    try:
        correct(*args)
    except Exception:
        log.warning("could not update the due-work index; a scheduler will", exc_info=True)


def _unregistered(ctx: JobContext, **payload: Any) -> None:
    raise LookupError(f"no handler is registered for job type {ctx.job_type!r}")


_create_lock = threading.Lock()


def job_manager(app: Any) -> JobManager:
    """The app's JobManager (`app.state.jobs`), made on first use from the app's settings."""
    with _create_lock:
        if getattr(app.state, "jobs", None) is None:
            state = app.state
            config = JobConfig.from_settings(state.settings)
            state.jobs = JobManager(state.catalog, state.databases, config, state.settings)
    return app.state.jobs
