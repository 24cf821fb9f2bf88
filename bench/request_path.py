"""Benchmark the request path: signed-in tenant page vs a bare FastHTML hello world.

    uv run python bench/request_path.py [--seconds 10] [--connections 16]

Both servers run as one uvicorn process each, same settings, loaded by wrk in the same
run. Prints: requests/s of each and their ratio (goal >= 0.7); p50 latency of the tenant
page with 10 and with 10,000 tenants in the catalog (goal: within 10%); and the RSS of a
process that opened 2,000 tenant databases through the engine cache (goal: bounded by the
cache size, not the tenant count).
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tenants.catalog import Catalog  # noqa: E402
from tenants.provision import create_tenant  # noqa: E402
from tenants.routing import TenantDatabases  # noqa: E402
from tenants.stamp import from_now, new_id, now  # noqa: E402
from tests.support.html import csrf_from  # noqa: E402
from tests.support.server import AppServer, free_port  # noqa: E402

HELLO = """
from fasthtml.common import FastHTML
import uvicorn, sys
app = FastHTML(default_hdrs=False)
@app.get("/")
def index(): return "Hello, world"
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def wrk(url: str, seconds: int, connections: int, *headers: str) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for header in headers:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * scale,
        "errors": int(errors.group(1)) if errors else 0,
    }


def hello_world(seconds: int, connections: int) -> dict[str, float]:
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(HELLO)
        script.flush()
        process = subprocess.Popen([sys.executable, script.name, str(port)])
        try:
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except httpx.HTTPError:
                    subprocess.run(["sleep", "0.1"], check=True)
            return wrk(f"http://127.0.0.1:{port}/", seconds, connections)
        finally:
            process.terminate()
            process.wait()


def add_catalog_rows(database_url: str, count: int) -> None:
    """Pad the catalog with `count` users, tenants, memberships and sessions (rows only)."""
    catalog = Catalog(database_url)
    stamp, expires = now(), from_now(days=1)
    with catalog.begin() as conn:
        for _ in range(count):
            user, tenant = new_id(), new_id()
            conn.exec_driver_sql(
                "INSERT INTO core_users (id, issuer, subject, email, created_at) VALUES (?, 'pad', ?, ?, ?)",
                (user, user, f"{user}@pad.example", stamp),
            )
            conn.exec_driver_sql(
                "INSERT INTO core_tenants (id, name, status, db_name, created_by, created_at, updated_at)"
                " VALUES (?, 'pad', 'active', 'pad', ?, ?, ?)",
                (tenant, user, stamp, stamp),
            )
            conn.exec_driver_sql(
                "INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at) VALUES (?, ?, ?, 'owner', ?)",
                (new_id(), user, tenant, stamp),
            )
            conn.exec_driver_sql(
                "INSERT INTO core_sessions (id_hash, user_id, tenant_id, created_at, last_seen_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (new_id() + new_id(), user, tenant, stamp, stamp, expires),
            )
    catalog.dispose()


def tenant_page(data_dir: Path, seconds: int, connections: int) -> dict[str, float]:
    env = {"APP_ENV": "test", "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    with (
        AppServer(env) as server,
        httpx.Client(base_url=server.url, follow_redirects=True) as client,
    ):
        token = csrf_from(client.get("/login").text)
        client.post("/login/dev", data={"email": "bench@example.com", "csrf_token": token})
        assert client.get("/notes").status_code == 200
        cookie = "Cookie: " + "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        # /notes is the dashboard's HTMX fragment: one tenant query behind the full Beforeware
        return wrk(f"{server.url}/notes", seconds, connections, cookie, "HX-Request: true")


def memory_after_touching(tenants: int, cache_size: int) -> tuple[float, float]:
    """RSS (MiB) after opening `cache_size` tenants, then after opening all `tenants`."""
    script = f"""
import resource, sys, tempfile
sys.path.insert(0, {str(ROOT)!r})
from tenants.catalog import Catalog
from tenants.provision import create_tenant
from tenants.routing import TenantDatabases
d = tempfile.mkdtemp()
catalog = Catalog(f"sqlite:///{{d}}/host.db"); catalog.migrate()
maker = TenantDatabases(f"sqlite:///{{d}}/t/{{{{tenant_id}}}}.db", cache_size=1)
owner = catalog.upsert_user("bench", "owner", "o@example.com", "O", "")
ids = [create_tenant(catalog, maker, owner, str(n)) for n in range({tenants})]
maker.dispose()
dbs = TenantDatabases(f"sqlite:///{{d}}/t/{{{{tenant_id}}}}.db", cache_size={cache_size})
def rss(): return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
for i, t in enumerate(ids):
    with dbs.handle(t) as db: db.q("SELECT count(*) FROM notes")
    if i + 1 == {cache_size}: first = rss()
print(first, rss(), len(dbs))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    first, last, cached = out.split()
    assert int(cached) == cache_size
    return float(first), float(last)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--cache-size", type=int, default=256)
    args = parser.parse_args()

    hello = hello_world(args.seconds, args.connections)
    with tempfile.TemporaryDirectory() as d:
        data = Path(d)
        catalog = Catalog(f"sqlite:///{data}/host.db")
        catalog.migrate()
        databases = TenantDatabases(f"sqlite:///{data}/tenants/{{tenant_id}}.db")
        owner = catalog.upsert_user("pad", "seed", "seed@pad.example", "", "")
        for n in range(9):  # 9 more tenants: 10 with the bench user's own
            create_tenant(catalog, databases, owner, f"seed {n}")
        databases.dispose()
        catalog.dispose()
        small = tenant_page(data, args.seconds, args.connections)
        add_catalog_rows(f"sqlite:///{data}/host.db", 9_990)
        large = tenant_page(data, args.seconds, args.connections)
    rss_cache, rss_all = memory_after_touching(args.tenants, args.cache_size)

    print(f"hello world           {hello['rps']:10.0f} req/s   p50 {hello['p50_ms']:.2f} ms")
    print(
        f"tenant page (10 t)    {small['rps']:10.0f} req/s   p50 {small['p50_ms']:.2f} ms   errors {small['errors']}"
    )
    print(
        f"tenant page (10k t)   {large['rps']:10.0f} req/s   p50 {large['p50_ms']:.2f} ms   errors {large['errors']}"
    )
    print(f"ratio tenant/hello    {small['rps'] / hello['rps']:.2f}   (goal >= 0.70)")
    print(f"p50 10k vs 10 tenants {large['p50_ms'] / small['p50_ms']:.2f}x (goal <= 1.10)")
    print(
        f"RSS after {args.cache_size} tenants {rss_cache:.0f} MiB; after {args.tenants}: {rss_all:.0f} MiB "
        f"(cache size {args.cache_size})"
    )
    print(
        f"bench process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
