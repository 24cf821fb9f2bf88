"""One sync run: claim the source, page through it, and commit each page with its progress.

Each page is mapped with polars and upserted in one transaction together with the new
high-water mark and counters, so the mark never runs ahead of the data: a run that fails
or is cancelled keeps every committed page, and the next run (or the job's next attempt)
continues from there. A full run first forgets the mark; its retries do not, so they resume.

A job's writes normally commit when it completes; the runner makes its progress durable as
it goes instead, so it ends the job's unit of work itself with `ctx.db.commit()` after the
claim, after each page and after the final status (and `ctx.db.rollback()` drops a page that
failed or was taken over).

`ctx` is the job context (see app/work/jobs.py): `tenant_id`, `job_id`, `attempt`, `db`,
`progress(percent, message)` and `cancelled()`. Database work runs in a worker thread, so
the event loop keeps serving requests while a batch is written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import sqlalchemy as sa

from app.lib.graphql import GraphQLClient
from app.syncs.sources import SPECS, get_source
from app.syncs.spec import SyncSpec
from app.telemetry.metrics import SYNC_ROWS
from app.webhooks.outbound import emit
from tenants.routing import TenantDB
from tenants.sql import bulk_upsert
from tenants.stamp import from_now, iso, new_id, now, parse

log = logging.getLogger(__name__)
MODES = ("full", "incremental")
STALE_AFTER = timedelta(minutes=10)  # a "running" sync silent this long has died: take it over
ERROR_LIMIT = 1000


class SyncContext(Protocol):
    """What the runner needs of its job context (app.work.jobs.JobContext has it)."""

    tenant_id: str
    job_id: str
    attempt: int
    db: TenantDB

    def progress(self, percent: int, message: str = "") -> None: ...

    def cancelled(self) -> bool: ...


def in_progress(source: Mapping[str, Any]) -> bool:
    """Whether a sync of this source (a `get_source` row) is running now. A "running" row
    whose heartbeat went silent belongs to a run that died, and the next run takes it over."""
    return source["status"] == "running" and (source["heartbeat_at"] or "") > _stale_before()


def _stale_before() -> str:
    return from_now(seconds=-STALE_AFTER.total_seconds())


class UnknownSource(LookupError):
    pass


class _TakenOver(Exception):
    """Another run took this source over (a retry of our job, or ours looked dead)."""


@dataclass(frozen=True)
class _Run:
    source_id: str
    job_id: str
    token: str  # fences this attempt: once another run claims the source, ours writes nothing


@dataclass(frozen=True)
class _Progress:
    pages: int
    fetched: int
    written: int
    total: int | None

    @property
    def percent(self) -> int:
        return min(99, self.fetched * 100 // self.total) if self.total else 0

    @property
    def message(self) -> str:
        return f"{self.pages} pages, {self.fetched} rows ({self.written} new or changed)"


_CLAIM = """
UPDATE sync_state
SET status = 'running', mode = :mode, job_id = :job, run_token = :token, run_pages = 0,
    run_fetched = 0, run_written = 0, run_total = NULL, started_at = :now, heartbeat_at = :now,
    finished_at = NULL, last_error = NULL {reset}
WHERE source_id = :id AND (status <> 'running' OR job_id = :job OR heartbeat_at < :stale)
RETURNING high_water
"""
_ADVANCE = sa.text("""
UPDATE sync_state
SET run_pages = run_pages + 1, run_fetched = run_fetched + :fetched,
    run_written = run_written + :written, run_total = :total, heartbeat_at = :now,
    high_water = CASE WHEN high_water IS NULL OR high_water < :newest THEN :newest
                      ELSE high_water END
WHERE source_id = :id AND run_token = :token
RETURNING run_pages, run_fetched, run_written, run_total
""")
_FINISH = sa.text("""
UPDATE sync_state
SET status = :status, finished_at = :now, last_error = :error,
    last_success_at = CASE WHEN :status = 'succeeded' THEN started_at ELSE last_success_at END
WHERE source_id = :id AND run_token = :token
""")


def _claim(db: TenantDB, run: _Run, mode: str, reset: bool) -> tuple[bool, str | None]:
    """Mark the source running for this attempt, and commit. Returns (claimed, high-water mark)."""
    sql = _CLAIM.format(reset=", high_water = NULL" if reset else "")
    row = db.execute(
        sa.text(sql),
        {
            "mode": mode,
            "job": run.job_id,
            "token": run.token,
            "now": now(),
            "id": run.source_id,
            "stale": _stale_before(),
        },
    ).first()
    db.commit()
    return (row is not None, row.high_water if row else None)


def _store_page(
    db: TenantDB, spec: SyncSpec, run: _Run, items: list, total: int | None
) -> _Progress:
    """Map one page and commit it, the high-water mark and the counters in one transaction."""
    frame = spec.fields.frame(items)
    newest = cast(datetime, frame.get_column(spec.updated_column).max()) if len(frame) else None
    try:
        written = bulk_upsert(db, spec.table, frame, spec.key)
        row = db.execute(
            _ADVANCE,
            {
                "fetched": len(frame),
                "written": written,
                "total": total,
                "now": now(),
                "newest": iso(newest) if newest else None,
                "id": run.source_id,
                "token": run.token,
            },
        ).first()
        if row is None:
            raise _TakenOver  # this page is dropped: the run that took over writes it
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return _Progress(row.run_pages, row.run_fetched, row.run_written, row.run_total)


def _finish(
    db: TenantDB,
    run: _Run,
    status: str,
    error: str | None = None,
    announce: Callable[[], Any] | None = None,
) -> None:
    """Record how the run ended (and `announce` it), and commit: a failed job rolls back what
    it left open."""
    db.execute(
        _FINISH,
        {
            "status": status,
            "now": now(),
            "error": error,
            "id": run.source_id,
            "token": run.token,
        },
    )
    if announce is not None:
        announce()
    db.commit()


async def sync_source(ctx: SyncContext, spec: SyncSpec, source_id: str, mode: str) -> dict:
    """Run `spec` for the tenant's source. Returns the run's counts and how it ended."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    db, run = ctx.db, _Run(source_id, ctx.job_id, new_id())
    reset = mode == "full" and ctx.attempt == 1  # a retry resumes from the mark instead
    claimed, high_water = await asyncio.to_thread(_claim, db, run, mode, reset)
    if not claimed:
        return {"status": "skipped", "reason": "a sync of this source is already running"}
    since = iso(parse(high_water) - spec.overlap) if high_water else None
    progress, status = _Progress(0, 0, 0, None), "succeeded"
    try:
        async with spec.connect() as http:
            pages = GraphQLClient(http).pages(
                spec.query,
                {"first": spec.page_size, "since": since},
                items=spec.items,
                cursor=spec.cursor,
                has_next=spec.has_next,
                total=spec.total,
            )
            async with aclosing(pages):
                async for page in pages:
                    progress = await asyncio.to_thread(
                        _store_page, db, spec, run, page.items, page.total
                    )
                    await asyncio.to_thread(ctx.progress, progress.percent, progress.message)
                    if await asyncio.to_thread(ctx.cancelled):
                        status = "cancelled"
                        break
    except _TakenOver:
        log.warning("sync of source %s was taken over by another run", source_id)
        return {"status": "taken over"}
    except (Exception, asyncio.CancelledError) as e:
        error = f"{type(e).__name__}: {e}"[:ERROR_LIMIT]
        await asyncio.to_thread(_finish, db, run, "failed", error)
        raise
    SYNC_ROWS.labels(spec.kind).inc(progress.written)
    summary = {
        "source_id": source_id,
        "kind": spec.kind,
        "mode": mode,
        "pages": progress.pages,
        "fetched": progress.fetched,
        "written": progress.written,
    }
    manager = getattr(ctx, "manager", None)  # the job's manager: it queues the event's deliveries

    def announce() -> None:
        if status == "succeeded" and manager is not None:
            emit(manager, db, "sync.completed", summary)

    await asyncio.to_thread(_finish, db, run, status, None, announce)
    if status == "succeeded":
        await asyncio.to_thread(ctx.progress, 100, progress.message)
    return {
        "status": status,
        "pages": progress.pages,
        "fetched": progress.fetched,
        "written": progress.written,
    }


async def run_sync(ctx: SyncContext, source_id: str, mode: str = "incremental") -> dict:
    """The job handler: sync the tenant's source `source_id` with its registered spec."""
    source = await asyncio.to_thread(get_source, ctx.db, source_id)
    if source is None or source["kind"] not in SPECS:
        raise UnknownSource(f"tenant {ctx.tenant_id} has no sync source {source_id}")
    return await sync_source(ctx, SPECS[source["kind"]], source_id, mode)
