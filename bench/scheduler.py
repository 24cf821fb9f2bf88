"""Benchmark the job scheduler's idle tick: CPU time and tenant databases opened per tick with
10 and with 10,000 idle tenants (real SQLite tenant databases, none with work due).

    uv run python -m bench.scheduler [--ticks 20] [--tenants 10000]
    uv run python -m bench.scheduler --code DIR     # the same against another checkout

`--code DIR` imports the app from DIR instead (e.g. `git archive main | tar -x -C DIR`), to
measure the code before a change in the same run conditions. Code that still queues scheduled
syncs in a pass of its own (once a minute) gets that pass measured too; where the tick finds
syncs through the due-work index, the tick is all there is. Each measurement runs in a fresh
process, so what making 10,000 tenants left in memory does not weigh on the ticks.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any


def counted(databases: Any) -> Counter[str]:
    """Count `handle()` calls and engine builds (migrations + reflection) of `databases`."""
    counts: Counter[str] = Counter()
    handle, build = databases.handle, databases._build

    def counting_handle(tenant_id: str):
        counts["opens"] += 1
        return handle(tenant_id)

    def counting_build(tenant_id: str):
        counts["builds"] += 1
        return build(tenant_id)

    databases.handle, databases._build = counting_handle, counting_build
    return counts


def make_tenants(data: Path, count: int) -> tuple[str, str]:
    """A catalog with `count` active tenants, each with a real, migrated, idle database."""
    import sqlalchemy as sa

    from tenants.catalog import Catalog
    from tenants.provision import create_tenant
    from tenants.routing import TenantDatabases
    from tenants.stamp import new_id, now

    host, template = f"sqlite:///{data}/host.db", f"sqlite:///{data}/tenants/{{tenant_id}}.db"
    catalog = Catalog(host)
    catalog.migrate()
    databases = TenantDatabases(template)
    owner = catalog.upsert_user("bench", "owner", "owner@bench.example", "", "")
    first = create_tenant(catalog, databases, owner, "first")
    databases.dispose()
    source = data / "tenants" / f"{first}.db"
    stamp, rows = now(), []
    for n in range(count - 1):
        tenant_id = new_id()
        shutil.copyfile(source, source.with_name(f"{tenant_id}.db"))
        rows.append({"id": tenant_id, "o": owner, "t": stamp, "n": f"idle {n}"})
    with catalog.begin() as conn:
        if rows:
            conn.execute(
                sa.text("""INSERT INTO core_tenants (id, name, status, db_name, created_by,
                                                     created_at, updated_at)
                           VALUES (:id, :n, 'active', :id, :o, :t, :t)"""),
                rows,
            )
    catalog.dispose()
    return host, template


def measure(host: str, template: str, ticks: int) -> dict[str, float]:
    from app.work.jobs import JobManager
    from app.work.scheduler import Scheduler
    from tenants.catalog import Catalog
    from tenants.routing import TenantDatabases

    catalog, databases = Catalog(host), TenantDatabases(template)
    manager = JobManager(catalog, databases)
    scheduler = Scheduler(manager)
    counts = counted(databases)

    async def run() -> float:
        for _ in range(5):  # warm up: caches, the round robin's first laps
            await scheduler.tick()
        counts.clear()
        started = time.process_time()
        for _ in range(ticks):
            await scheduler.tick()
        return time.process_time() - started

    cpu = asyncio.run(run())
    result = {
        "cpu_ms": cpu * 1000 / ticks,
        "opens": counts["opens"] / ticks,
        "builds": counts["builds"] / ticks,
    }
    sync_jobs = importlib.import_module("app.syncs.jobs")
    if hasattr(sync_jobs, "enqueue_due_syncs"):  # a separate pass over every tenant
        counts.clear()
        started = time.process_time()
        sync_jobs.enqueue_due_syncs(manager)
        result["sync_cpu_ms"] = (time.process_time() - started) * 1000
        result["sync_opens"] = counts["opens"]
    databases.dispose()
    catalog.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--code", type=Path, help="import the app from this checkout instead")
    parser.add_argument("--measure", nargs=2, metavar=("HOST", "TEMPLATE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = (args.code or Path(__file__).resolve().parent.parent).resolve()
    sys.path.insert(0, str(root))
    if args.measure:  # the child process: measure and report
        print(json.dumps(measure(*args.measure, args.ticks)))
        return

    results = {}
    for count in (10, args.tenants):
        with tempfile.TemporaryDirectory() as d:
            host, template = make_tenants(Path(d), count)
            child = [sys.executable, "-m", "bench.scheduler", "--ticks", str(args.ticks)]
            child += ["--code", str(root), "--measure", host, template]
            out = subprocess.run(child, capture_output=True, text=True, check=True).stdout
            results[count] = json.loads(out.splitlines()[-1])

    print(f"code: {root}")
    print(f"idle tick, SQLite, {args.ticks} ticks after 5 to warm up, 256 engines cached")
    print(f"{'tenants':>8}  {'CPU ms/tick':>11}  {'opens/tick':>10}  {'builds/tick':>11}")
    for count, r in results.items():
        print(f"{count:>8}  {r['cpu_ms']:>11.2f}  {r['opens']:>10.1f}  {r['builds']:>11.1f}")
    small, large = results[10], results[args.tenants]
    print(f"CPU per tick, {args.tenants} vs 10 tenants: {large['cpu_ms'] / small['cpu_ms']:.2f}x")
    if "sync_cpu_ms" in large:
        for count, r in results.items():
            print(
                f"separate sync pass (every 60 s), {count} tenants: "
                f"{r['sync_cpu_ms']:.0f} ms CPU, {r['sync_opens']} tenant opens"
            )


if __name__ == "__main__":
    main()
