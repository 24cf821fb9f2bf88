"""Benchmark the request path: the app's pages against a bare FastHTML hello world.

    uv run python -m bench.request_path [--seconds 8] [--connections 16]

Every server is one uvicorn process, loaded by wrk in the same run. Prints requests/s of a
hello world and, as a ratio of it: the signed-in `/notes` fragment (the whole request path
and one tenant query; goal >= 0.5, aim 0.7), the full `/dashboard` (>= 0.3), a blog post
(>= 0.6) and a verified webhook delivery, stored and handled (>= 0.3). Then the p50 latency
of `/notes` with 10 and with 10,000 tenants in the catalog, scheduler on, default settings
(goal: within 10%), and the RSS of a process that opened 2,000 tenant databases through the
engine cache (goal: bounded by the cache size, not the tenant count).
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

from bench.baseline import hello_world, wrk  # noqa: E402
from bench.webhooks import webhooks  # noqa: E402
from tenants.catalog import Catalog  # noqa: E402
from tenants.provision import create_tenant  # noqa: E402
from tenants.routing import TenantDatabases  # noqa: E402
from tenants.stamp import from_now, new_id, now  # noqa: E402
from tests.support.html import csrf_from  # noqa: E402
from tests.support.server import AppServer  # noqa: E402


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


def app_pages(data_dir: Path, seconds: int, connections: int) -> dict[str, dict[str, float]]:
    """wrk against one server: the notes fragment, the dashboard and a blog post."""
    env = {"APP_ENV": "test", "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    with (
        AppServer(env) as server,
        httpx.Client(base_url=server.url, follow_redirects=True) as client,
    ):
        token = csrf_from(client.get("/login").text)
        client.post("/login/dev", data={"email": "bench@example.com", "csrf_token": token})
        assert client.get("/notes").status_code == 200
        cookie = "Cookie: " + "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        post = re.search(r'href="(/blog/[\w-]+)"', client.get("/blog").text).group(1)
        # /notes with HX-Request is the fragment: one tenant query behind the whole path
        notes = wrk(f"{server.url}/notes", seconds, connections, cookie, "HX-Request: true")
        dashboard = wrk(f"{server.url}/dashboard", seconds, connections, cookie)
        blog = wrk(f"{server.url}{post}", seconds, connections)
    return {"notes": notes, "dashboard": dashboard, "blog": blog}


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
        small = app_pages(data, args.seconds, args.connections)
        add_catalog_rows(f"sqlite:///{data}/host.db", 9_990)
        large = app_pages(data, args.seconds, args.connections)["notes"]
    with tempfile.TemporaryDirectory() as d:
        hooks = webhooks(Path(d), args.seconds, args.connections)
    rss_cache, rss_all = memory_after_touching(args.tenants, args.cache_size)

    print(f"hello world           {hello['rps']:10.0f} req/s   p50 {hello['p50_ms']:.2f} ms")
    goals = {"notes": 0.5, "dashboard": 0.3, "blog": 0.6}
    for name, result in [*small.items(), ("webhook", hooks)]:
        goal = goals.get(name, 0.3)
        print(
            f"{name:<21} {result['rps']:10.0f} req/s   {result['rps'] / hello['rps']:4.2f} of hello"
            f" (goal >= {goal})   errors {result['errors']}"
        )
    notes = small["notes"]
    print(f"notes, 10k tenants    {large['rps']:10.0f} req/s   errors {large['errors']}")
    print(
        f"p50 10k vs 10 tenants {large['p50_ms'] / notes['p50_ms']:.2f}x "
        f"({large['p50_ms']:.2f} vs {notes['p50_ms']:.2f} ms; goal <= 1.10)"
    )
    print(
        f"RSS after {args.cache_size} tenants {rss_cache:.0f} MiB; after {args.tenants}: {rss_all:.0f} MiB "
        f"(cache size {args.cache_size})"
    )
    print(
        f"bench process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
