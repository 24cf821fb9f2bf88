"""The sync runner against a real GraphQL server on 127.0.0.1 that injects 429, 503 and
dropped connections, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.demo.graphql import DemoStore, asgi_app
from app.demo.sync import DEMO, FIELDS
from app.lib.http_client import ApiClient, ApiError, Retry
from app.lib.polars_map import FieldMap, MappingError
from app.syncs.runner import UnknownSource, run_sync, sync_source
from app.syncs.sources import add_source, get_source, register_spec
from tenants.money import to_cents
from tenants.stamp import new_id
from tests.support.graphql_server import FaultInjector, serve
from tests.test_sql import another_handle, tenant_database

ORDERS = 1000
PAGE = 100
FAULTS = ["ok", "429", "ok", "503", "ok", "drop"]  # never more than one failure in a row
FAST = Retry(attempts=3, backoff=0.01, max_delay=1)

register_spec(DEMO, default=True)  # what create_app does outside production


@dataclass
class Ctx:
    """The job context, as the job manager will pass it: records progress, can cancel."""

    db: object
    tenant_id: str = "test"
    job_id: str = field(default_factory=new_id)
    attempt: int = 1
    cancel_after_pages: int | None = None
    on_progress: object = None
    reports: list = field(default_factory=list)

    def progress(self, percent: int, message: str = "") -> None:
        self.reports.append((percent, message))
        if self.on_progress:
            self.on_progress(len(self.reports))

    def cancelled(self) -> bool:
        return self.cancel_after_pages is not None and len(self.reports) >= self.cancel_after_pages


@pytest.fixture
def db(backend, tmp_path):
    with tenant_database(backend, tmp_path) as handle:
        yield handle


@pytest.fixture
def source_id(db):
    return add_source(db, DEMO.kind, DEMO.title)


def spec_for(url: str, **changes):
    return dataclasses.replace(
        DEMO, connect=lambda: ApiClient(url, retry=FAST, timeout=5), page_size=PAGE, **changes
    )


def sync(db, url, source_id, mode="incremental", **ctx):
    context = Ctx(db, **ctx)
    result = asyncio.run(sync_source(context, spec_for(url), source_id, mode))
    return result, context


def table(db) -> dict[str, dict]:
    """The synced rows as another connection sees them: only what the runner committed."""
    with another_handle(db) as other:
        return {r["id"]: r for r in other.q("SELECT * FROM demo_orders")}


def state(db, source_id: str) -> dict:
    """The source's sync state as another connection sees it."""
    with another_handle(db) as other:
        return get_source(other, source_id)


def expected_row(store: DemoStore, n: int) -> dict:
    frame = FIELDS.frame([store.order(n)])
    row = frame.row(0, named=True)
    return {
        **row,
        "ordered_on": row["ordered_on"].isoformat(),
        "updated_at": row["updated_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def test_sync_through_faults_lands_every_row_exactly_once(db, source_id):
    store = DemoStore(count=ORDERS)
    app = FaultInjector(asgi_app(store), plan=FAULTS)
    with serve(app) as url:
        result, ctx = sync(db, url, source_id, "full")
    assert result == {"status": "succeeded", "pages": 10, "fetched": 1000, "written": 1000}
    assert app.injected["429"] and app.injected["503"] and app.injected["drop"]
    rows = table(db)
    assert sorted(rows) == [f"ord_{n:07d}" for n in range(ORDERS)]
    assert all(rows[f"ord_{n:07d}"] == expected_row(store, n) for n in (0, 1, 499, 999))
    total = sum(to_cents(store.order(n)["total"]) for n in range(ORDERS))
    assert sum(r["total_cents"] for r in rows.values()) == total
    source = state(db, source_id)
    assert source["status"] == "succeeded" and source["last_error"] is None
    assert source["high_water"] == store.order(ORDERS - 1)["updatedAt"]
    assert [p for p, _ in ctx.reports] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 99, 100]
    assert ctx.reports[-1][1] == "10 pages, 1000 rows (1000 new or changed)"


def test_incremental_sync_brings_exactly_the_changed_records(db, source_id):
    store = DemoStore(count=ORDERS)
    with serve(FaultInjector(asgi_app(store), plan=FAULTS)) as url:
        sync(db, url, source_id, "full")
        before = table(db)
        changed = store.touch([3, 250, 251, 600, 998, 0, 42])
        result, _ = sync(db, url, source_id)
    # Seven changed, plus the newest unchanged order: it sits inside the 5-minute overlap.
    assert result == {"status": "succeeded", "pages": 1, "fetched": 8, "written": 7}
    after = table(db)
    changed_ids = {c["id"] for c in changed}
    assert {i for i in after if after[i] != before[i]} == changed_ids
    assert all(after[c["id"]]["status"] == c["status"] for c in changed)
    assert state(db, source_id)["high_water"] == changed[-1]["updatedAt"]


def test_failed_sync_keeps_its_pages_and_the_rerun_continues(db, source_id):
    store = DemoStore(count=ORDERS)
    # Requests 1-3 succeed, then the server fails for good: three pages commit.
    with serve(FaultInjector(asgi_app(store), fail_from=4)) as url, pytest.raises(ApiError):
        sync(db, url, source_id, "full")
    source = state(db, source_id)
    assert source["status"] == "failed" and "returned 500" in source["last_error"]
    assert source["run_pages"] == 3 and len(table(db)) == 300
    assert source["high_water"] == store.order(299)["updatedAt"]
    with serve(asgi_app(store)) as url:
        # The job's second attempt of the same full sync resumes instead of starting over.
        result, _ = sync(db, url, source_id, "full", attempt=2)
    assert result["written"] == 700 and result["fetched"] == 701  # + 1 re-read in the overlap
    assert len(table(db)) == ORDERS


def test_full_sync_rereads_everything_and_rewrites_nothing_unchanged(db, source_id):
    store = DemoStore(count=300)
    with serve(asgi_app(store)) as url:
        sync(db, url, source_id, "full")
        result, _ = sync(db, url, source_id, "full")
    assert (result["fetched"], result["written"]) == (300, 0)


def test_cancel_from_the_job_stops_after_the_current_page(db, source_id):
    with serve(asgi_app(DemoStore(count=ORDERS))) as url:
        result, _ = sync(db, url, source_id, "full", cancel_after_pages=2)
    assert result["status"] == "cancelled" and len(table(db)) == 200
    assert state(db, source_id)["status"] == "cancelled"


def test_only_one_run_at_a_time_unless_it_is_a_retry_or_the_other_looks_dead(db, source_id):
    running = "UPDATE sync_state SET status = 'running', job_id = 'other', heartbeat_at = :t"
    with serve(asgi_app(DemoStore(count=50))) as url:
        db.execute(sa.text(running), {"t": "9999-01-01T00:00:00.000000Z"})
        db.commit()
        result, _ = sync(db, url, source_id)
        assert result["status"] == "skipped" and table(db) == {}
        result, _ = sync(db, url, source_id, job_id="other", attempt=2)  # the job's own retry
        assert result["status"] == "succeeded" and len(table(db)) == 50
        db.execute(sa.text(running), {"t": "2000-01-01T00:00:00.000000Z"})  # silent for years
        db.commit()
        result, _ = sync(db, url, source_id, "full")
    assert result["status"] == "succeeded" and result["fetched"] == 50


def test_a_run_that_was_taken_over_stops_and_rolls_back_its_page(db, source_id):
    other = another_handle(db)

    def taken_over(pages: int) -> None:
        if pages == 1:
            other.execute(sa.text("UPDATE sync_state SET run_token = 'a newer attempt'"))
            other.commit()

    with serve(asgi_app(DemoStore(count=ORDERS))) as url:
        result, _ = sync(db, url, source_id, "full", on_progress=taken_over)
    other.close()
    assert result == {"status": "taken over"} and len(table(db)) == PAGE


def test_unreadable_records_fail_the_run_and_change_nothing(db, source_id):
    broken = FieldMap(columns=FIELDS.columns, types={**FIELDS.types, "status": "int"})
    with serve(asgi_app(DemoStore(count=50))) as url, pytest.raises(MappingError):
        asyncio.run(sync_source(Ctx(db), spec_for(url, fields=broken), source_id, "full"))
    source = state(db, source_id)
    assert source["status"] == "failed" and "cannot read" in source["last_error"]
    assert table(db) == {}


def test_run_sync_resolves_the_tenants_source(db, source_id):
    with pytest.raises(UnknownSource):
        asyncio.run(run_sync(Ctx(db), "not-a-source-of-this-tenant"))
    with pytest.raises(ValueError, match="mode"):
        asyncio.run(sync_source(Ctx(db), DEMO, source_id, "everything"))


def test_peak_memory_does_not_grow_with_the_row_count():
    """The streaming path, each size in a fresh process: 10x the rows, the same memory.

    Measured: about 119 MB at 10k rows, 120 MB at 100k, 124 MB at 1M (bench/sync.py). A
    staging table object per batch once grew it by 9 MB per 100k rows; this catches that.
    """
    root = Path(__file__).resolve().parent.parent

    def peak_mb(rows: int) -> float:
        out = subprocess.run(
            [sys.executable, "-m", "bench.sync", "rss", "--rows", str(rows)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
        return float(out.split()[-1])

    # 20 times the rows: the staging regression would add ~17 MB, while run-to-run noise in
    # a peak RSS on a busy machine reaches 8 MB (seen at 100k rows, which once flaked).
    small, large = peak_mb(10_000), peak_mb(200_000)
    assert large < small + 10, f"peak RSS {small:.1f} MB at 10k rows, {large:.1f} MB at 200k"
