"""Sync benchmark: upsert and GraphQL sync rates against the raw insert limit, and peak RSS.

    uv run python -m bench.sync                 # SQLite; 100,000 rows; RSS at 100k and 1M
    uv run python -m bench.sync --postgres      # the same on a throwaway PostgreSQL too
    uv run python -m bench.sync --rows 20000 --rss 10000,100000   # a quick run

(a) upsert: `bulk_upsert` of a polars frame of N changed rows into a table already holding
    those N rows. (b) sync: a full sync of N orders from the demo GraphQL API served by
    uvicorn in another process on 127.0.0.1. Both are compared with the raw limit measured
    in the same run: a plain `executemany` INSERT of the same rows into an empty copy of the
    table. Peak RSS comes from a fresh process per size (`rss` subcommand). Prints numbers;
    nothing is asserted.
"""

from __future__ import annotations

if not __package__:
    raise SystemExit("Run it as a module: uv run python -m bench.sync")

import argparse
import asyncio
import dataclasses
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from app.demo.graphql import DemoStore, Root, asgi_app
from app.demo.sync import DEMO, FIELDS, in_process_client
from app.lib.http_client import ApiClient
from app.syncs.runner import sync_source
from app.syncs.sources import add_source, register_spec
from tenants import sql
from tenants.engines import tenant_url
from tenants.provision import create_database
from tenants.routing import TenantDatabases, TenantDB
from tenants.stamp import new_id

ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 1000
RAW_COPY = "bench_raw_orders"

register_spec(DEMO)


@dataclasses.dataclass
class Ctx:
    db: TenantDB
    tenant_id: str = "bench"
    job_id: str = dataclasses.field(default_factory=new_id)
    attempt: int = 1

    def progress(self, percent: int, message: str = "") -> None:
        pass

    def cancelled(self) -> bool:
        return False


@contextmanager
def tenant(template: str):
    databases = TenantDatabases(template)
    tenant_id = new_id()
    create_database(tenant_url(template, tenant_id))
    db = databases.handle(tenant_id)
    try:
        yield db
    finally:
        db.close()
        databases.dispose()


def orders_frame(store: DemoStore, rows: int) -> pl.DataFrame:
    return pl.concat(
        FIELDS.frame([store.order(n) for n in range(start, min(rows, start + 10_000))])
        for start in range(0, rows, 10_000)
    )


def raw_insert_rate(db: TenantDB, frame: pl.DataFrame) -> float:
    """Rows per second of a plain executemany INSERT into an empty copy of demo_orders
    (same columns, key and indexes)."""
    copy = db.meta.tables["demo_orders"].to_metadata(sa.MetaData(), name=RAW_COPY)
    for named in [*copy.indexes, *copy.constraints]:  # names are unique per schema
        named.name = f"{RAW_COPY}_{named.name}" if named.name else None
    copy.create(db.conn)
    db.commit()
    rows = sql.storable(frame).rows()
    marker = "?" if db.conn.dialect.name == "sqlite" else "%s"
    columns, markers = ", ".join(frame.columns), ", ".join([marker] * len(frame.columns))
    started = time.perf_counter()
    db.conn.exec_driver_sql(f"INSERT INTO {RAW_COPY} ({columns}) VALUES ({markers})", rows)
    db.commit()
    return len(rows) / (time.perf_counter() - started)


def upsert_rate(db: TenantDB, frame: pl.DataFrame) -> float:
    sql.bulk_upsert(db, "demo_orders", frame)
    db.commit()
    changed = frame.with_columns(pl.col("status") + "!", pl.col("total_cents") + 1)
    started = time.perf_counter()
    written = sql.bulk_upsert(db, "demo_orders", changed)
    db.commit()  # the raw insert's time includes its commit too
    elapsed = time.perf_counter() - started
    assert written == len(frame), written
    return len(frame) / elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql_app(rows: int) -> Starlette:
    """The demo GraphQL API over `rows` orders."""
    return asgi_app(DemoStore(rows))


def replay_app(rows: int) -> Starlette:
    """The same pages, rendered before the run: the sync's own speed, without graphql-core."""
    root, pages, cursor = Root(DemoStore(rows)), {}, None
    while True:
        page = root.orders(None, first=PAGE_SIZE, after=cursor)
        pages[cursor] = json.dumps({"data": {"orders": page}}).encode()
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]

    async def answer(request):
        body = await request.json()
        return Response(pages[body["variables"].get("cursor")], media_type="application/json")

    return Starlette(routes=[Route("/", answer, methods=["POST"])])


@contextmanager
def server(app_factory: str, rows: int):
    """`app_factory(rows)` from this module, served by uvicorn in a separate process."""
    port = free_port()
    code = (
        f"import uvicorn; from bench.sync import {app_factory};"
        f"uvicorn.run({app_factory}({rows}), host='127.0.0.1', port={port}, log_level='warning')"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(10)


def sync_rate(db: TenantDB, url: str, rows: int) -> float:
    spec = dataclasses.replace(DEMO, connect=lambda: ApiClient(url), page_size=PAGE_SIZE)
    source_id = add_source(db, DEMO.kind, DEMO.title)
    started = time.perf_counter()
    result = asyncio.run(sync_source(Ctx(db), spec, source_id, "full"))
    elapsed = time.perf_counter() - started
    assert result["written"] == rows, result
    return rows / elapsed


def sync_peak_rss(rows: int) -> float:
    """Run the streaming sync of `rows` orders in this (fresh) process; return peak RSS."""
    spec = dataclasses.replace(
        DEMO, connect=lambda: in_process_client(DemoStore(rows)), page_size=PAGE_SIZE
    )
    with tempfile.TemporaryDirectory() as tmp, tenant(f"sqlite:///{tmp}/{{tenant_id}}.db") as db:
        result = asyncio.run(
            sync_source(Ctx(db), spec, add_source(db, DEMO.kind, DEMO.title), "full")
        )
        assert result["written"] == rows, result
    return peak_rss()


def peak_rss() -> float:
    """This process's peak resident memory in MB. Linux's VmHWM starts afresh at exec; the
    rusage peak would include the parent's memory at fork (a benchmark or a test runner)."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured_rss(rows: int) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "bench.sync", "rss", "--rows", str(rows)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.split()[-1])


def bench(template: str, label: str, rows: int) -> None:
    store = DemoStore(rows)
    frame = orders_frame(store, rows)
    with tenant(template) as db:
        raw = raw_insert_rate(db, frame)
        upsert = upsert_rate(db, frame)
    with tenant(template) as db, server("graphql_app", rows) as url:
        synced = sync_rate(db, url, rows)
    with tenant(template) as db, server("replay_app", rows) as url:
        replayed = sync_rate(db, url, rows)
    print(f"{label}: {rows:,} rows")
    print(f"  raw executemany insert   {raw:>10,.0f} rows/s")
    print(f"  (a) upsert from polars   {upsert:>10,.0f} rows/s   {upsert / raw:.2f} of raw")
    print(f"  (b) full GraphQL sync    {synced:>10,.0f} rows/s   {synced / raw:.2f} of raw")
    print(f"      same, pages replayed {replayed:>10,.0f} rows/s   {replayed / raw:.2f} of raw")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="bench", choices=["bench", "rss"])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rss", default="100000,1000000", help="sizes for the peak RSS runs")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args(argv)
    if args.command == "rss":
        print(f"peak RSS MB {sync_peak_rss(args.rows):.1f}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{tmp}/{{tenant_id}}.db", "SQLite", args.rows)
    if args.postgres:
        from tests.support import postgres

        cluster = postgres.start_cluster()
        try:
            bench(f"{cluster.url}/bench_{{tenant_id}}", "PostgreSQL", args.rows)
        finally:
            postgres.remove_cluster(cluster)
    for rows in (int(n) for n in args.rss.split(",")):
        started = time.perf_counter()
        mb = measured_rss(rows)
        print(
            f"peak RSS of a streaming sync of {rows:>9,} rows: {mb:6.1f} MB"
            f"  ({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
