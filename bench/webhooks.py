"""Benchmark inbound webhooks over HTTP against a bare FastHTML hello world, and job throughput.

    uv run python -m bench.webhooks [--seconds 10] [--connections 16] [--jobs 2000]

Both servers run as one uvicorn process each and are loaded by wrk in the same run. Every
webhook request is a distinct event, freshly signed, so each one is verified, stored with its
job, acknowledged and then handled after the response (the demo handler writes a note).
Prints requests/s of both and their ratio (goal >= 0.5), and no-op jobs per second through
submit -> run -> complete: one at a time, and drained by the scheduler.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from app.lib.signatures import sign_timestamped
from app.work.jobs import JobConfig, JobManager, job_handler
from app.work.scheduler import Scheduler
from bench.request_path import hello_world
from tenants import webhooks as webhook_store
from tenants.catalog import Catalog
from tenants.provision import create_tenant
from tenants.routing import TenantDatabases
from tests.support.server import AppServer

# wrk cycles through pre-signed requests; each wrk thread takes every n-th one, so no two
# threads send the same event.
LUA = """
local threads, requests, n, tid = 0, {}, 0, 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args)
  tid, n = tonumber(wrk.thread:get("tid")) or 1, 0
  for line in io.lines(args[1]) do
    local path, signature, body = line:match("([^\\t]*)\\t([^\\t]*)\\t(.*)")
    requests[#requests + 1] = {path, signature, body}
  end
end
function request()
  local r = requests[((n * THREADS + tid - 1) % #requests) + 1]
  n = n + 1
  return wrk.format("POST", r[1], {["Content-Type"] = "application/json",
                                   ["Webhook-Signature"] = r[2]}, r[3])
end
"""
THREADS = 2


@job_handler("bench.noop")
def noop(ctx) -> None:
    return None


def setup_tenant(data_dir: Path) -> tuple[str, str, str]:
    """A tenant with a demo endpoint: (tenant id, URL path, secret)."""
    catalog = Catalog(f"sqlite:///{data_dir / 'host.db'}")
    catalog.migrate()
    databases = TenantDatabases(f"sqlite:///{data_dir / 'tenants' / '{tenant_id}.db'}")
    owner = catalog.upsert_user("urn:bench", "bench", "bench@example.com", "Bench", "")
    tenant_id = create_tenant(catalog, databases, owner, "Bench")
    endpoint_id, token = webhook_store.create_endpoint(catalog, tenant_id, "demo")
    with databases.handle(tenant_id) as db:
        _, secret = webhook_store.add_secret(db.conn, endpoint_id)
        db.commit()
    databases.dispose()
    catalog.dispose()
    return tenant_id, f"/webhooks/demo/{token}", secret


def write_requests(path: Path, url_path: str, secret: str, count: int) -> None:
    with path.open("w") as out:
        for n in range(count):
            body = json.dumps(
                {"id": f"evt_bench_{n}", "type": "demo.ping", "data": {"message": f"bench {n}"}}
            ).encode()
            out.write(f"{url_path}\t{sign_timestamped(secret, body)}\t{body.decode()}\n")


def webhooks(data_dir: Path, seconds: int, connections: int) -> dict[str, float]:
    tenant_id, url_path, secret = setup_tenant(data_dir)
    requests = data_dir / "requests.tsv"
    write_requests(requests, url_path, secret, 200_000)
    script = data_dir / "webhooks.lua"
    script.write_text(LUA.replace("THREADS", str(THREADS)))
    env = {"APP_ENV": "test", "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    with AppServer(env) as server:
        command = [
            *("wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "-s", str(script)),
            *(f"{server.url}/", "--", str(requests)),
        ]
        result = wrk_output(subprocess.run(command, capture_output=True, text=True, check=True))
        time.sleep(2)  # let the last handlers finish
    databases = TenantDatabases(f"sqlite:///{data_dir / 'tenants' / '{tenant_id}.db'}")
    with databases.handle(tenant_id) as db:
        stored = db.q("SELECT count(*) AS n FROM webhook_events")[0]["n"]
        processed = db.q("SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'")[0][
            "n"
        ]
    databases.dispose()
    return {**result, "stored": stored, "processed": processed}


def wrk_output(run: subprocess.CompletedProcess) -> dict[str, float]:
    out = run.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def job_throughput(data_dir: Path, count: int) -> dict[str, float]:
    catalog = Catalog(f"sqlite:///{data_dir / 'host.db'}")
    catalog.migrate()
    databases = TenantDatabases(f"sqlite:///{data_dir / 'tenants' / '{tenant_id}.db'}")
    owner = catalog.upsert_user("urn:bench", "jobs", "jobs@example.com", "Jobs", "")
    tenant_id = create_tenant(catalog, databases, owner, "Jobs")
    manager = JobManager(catalog, databases, JobConfig())
    queue = manager.queue(tenant_id)

    def completed() -> int:
        with queue.engine.connect() as conn:
            sql = "SELECT count(*) FROM tenant_jobs WHERE status = 'completed'"
            return conn.exec_driver_sql(sql).scalar()

    async def one_at_a_time() -> float:
        start = time.perf_counter()
        for _ in range(count):
            _, task = manager.submit(tenant_id, "bench.noop")
            await task()
        return count / (time.perf_counter() - start)

    async def drained() -> float:
        for _ in range(count):
            manager.enqueue(tenant_id, "bench.noop")
        start = time.perf_counter()
        scheduler = Scheduler(manager, poll_seconds=0.05)
        scheduler.start()
        while completed() < 2 * count:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        await scheduler.stop()
        return count / elapsed

    sequential, scheduled = asyncio.run(one_at_a_time()), asyncio.run(drained())
    databases.dispose()
    catalog.dispose()
    return {"submit_run_complete": sequential, "enqueue_and_drain": scheduled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    hello = hello_world(args.seconds, args.connections)
    with tempfile.TemporaryDirectory() as tmp:
        hooks = webhooks(Path(tmp) / "web", args.seconds, args.connections)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = job_throughput(Path(tmp), args.jobs)
    print(f"hello world:        {hello['rps']:9.0f} req/s")
    print(
        f"webhook deliveries: {hooks['rps']:9.0f} req/s  ({hooks['requests']} sent,"
        f" {hooks['errors']} non-2xx, {hooks['stored']} stored, {hooks['processed']} processed)"
    )
    print(f"ratio:              {hooks['rps'] / hello['rps']:9.2f}  (goal >= 0.5)")
    print(f"jobs, one at a time:{jobs['submit_run_complete']:9.0f} jobs/s (submit, run, complete)")
    print(f"jobs, drained:      {jobs['enqueue_and_drain']:9.0f} jobs/s (enqueue, scheduler)")


if __name__ == "__main__":
    main()
