"""Load: many signed-in people across many tenants, on SQLite and on PostgreSQL, loopback only.

    uv run python -m bench.load [--seconds 60] [--users 200] [--tenants 50]
                                [--backends sqlite,postgres] [--think 0]

Each simulated user is a real session: it signs in through the development sign-in form
(`GET /login`, then `POST /login/dev` with its email and the CSRF token) and then, in a closed
loop until time is up, reads the dashboard, the notes fragment and the settings page and adds
notes. User `u` belongs to tenant `u % tenants`: the first user of a tenant signs in first
(which provisions it) and names it `load-tenant-NNN`; the others are added to it as members
in the catalog, then sign in. Every note carries `load-note-NNN`.

Reported per backend: requests/s, p50/p99 latency, errors (any status but 200, any transport
error), and the cross-tenant check: a response that shows another tenant's marker (name or
note) counts as cross-tenant; a dashboard or settings page without the user's own tenant name
counts as "own marker missing". Both must be 0.

SQLite runs one app process; PostgreSQL runs two app processes on one cluster
(`tests.support.postgres.start_cluster()`), users spread across both. The bare FastHTML hello
world (`bench.request_path.HELLO`) is loaded by the same client with the same number of users
in the same run, for the ratio. Rate limits are off for the app servers.

The load generator is one Python process (httpx.AsyncClient, one per user): its CPU share is
printed, since near 100% the client, not the server, is the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.routes.dev_login import DEV_ISSUER  # noqa: E402
from app.settings import load_settings  # noqa: E402
from bench.baseline import HELLO, wrk  # noqa: E402
from tenants.catalog import Catalog  # noqa: E402
from tenants.stamp import new_id, now  # noqa: E402
from tests.support import postgres  # noqa: E402
from tests.support.html import csrf_from  # noqa: E402
from tests.support.server import AppServer, free_port  # noqa: E402

MARKER = re.compile(r"load-(?:tenant|note)-(\d{3})")
SECRET = "load-bench-secret-" + "x" * 40  # shared by both PostgreSQL app processes
APP_ENV = {
    "APP_ENV": "development",
    "SECRET_KEY": SECRET,
    "LOG_LEVEL": "WARNING",
    "RATE_LIMIT_SIGNIN": "off",
    "RATE_LIMIT_WRITES": "off",
    "RATE_LIMIT_WEBHOOKS": "off",
    "GOOGLE_CLIENT_ID": "",
    "GOOGLE_CLIENT_SECRET": "",
}
TIMEOUT = httpx.Timeout(60.0)


def tenant_name(t: int) -> str:
    return f"load-tenant-{t:03d}"


@dataclass
class User:
    index: int
    tenant: int
    server: str
    client: httpx.AsyncClient
    csrf: str = ""

    @property
    def email(self) -> str:
        return f"user{self.index:04d}@load.example"


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cross_tenant: int = 0
    own_missing: int = 0
    error_kinds: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    cpu: float = 0.0

    def line(self, label: str) -> str:
        n = len(self.latencies)
        q = statistics.quantiles(self.latencies, n=100) if n > 1 else [0.0] * 99
        rps = n / self.seconds if self.seconds else 0.0
        return (
            f"{label:<28} {rps:8.0f} req/s  p50 {q[49] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms"
            f"  requests {n:7d}  errors {self.errors:5d}  cross-tenant {self.cross_tenant}"
            f"  own-marker-missing {self.own_missing}  client CPU {self.cpu:.0%}"
        )

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


# --- signing in --------------------------------------------------------------------------


async def sign_in(user: User) -> None:
    page = await user.client.get("/login")
    page.raise_for_status()
    response = await user.client.post(
        "/login/dev",
        data={
            "email": user.email,
            "name": f"User {user.index}",
            "csrf_token": csrf_from(page.text),
        },
    )
    if response.status_code != 303 or response.headers["location"] != "/dashboard":
        raise RuntimeError(f"sign-in of {user.email}: {response.status_code} {response.text[:300]}")
    dashboard = await user.client.get("/dashboard")
    dashboard.raise_for_status()
    user.csrf = csrf_from(dashboard.text)


def htmx(user: User) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": user.csrf}


async def mark_tenant(owner: User) -> None:
    """The owner names the tenant and leaves a note: the markers the check looks for."""
    settings = await owner.client.post(
        "/settings",
        data={"name": tenant_name(owner.tenant), "timezone": "UTC", "currency": "USD"},
        headers=htmx(owner),
    )
    assert settings.status_code == 200 and "Settings saved." in settings.text, settings.text[:300]
    note = await owner.client.post(
        "/notes", data={"body": f"load-note-{owner.tenant:03d} first"}, headers=htmx(owner)
    )
    assert note.status_code == 200, note.text[:300]


async def gather_limited(coros, limit: int = 16) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(coro):
        async with gate:
            await coro

    await asyncio.gather(*(one(c) for c in coros))


async def set_up(servers: list[str], catalog: Catalog, users: int, tenants: int) -> list[User]:
    people = [
        User(
            index=u,
            tenant=u % tenants,
            server=servers[u % len(servers)],
            client=httpx.AsyncClient(base_url=servers[u % len(servers)], timeout=TIMEOUT),
        )
        for u in range(users)
    ]
    owners, members = people[:tenants], people[tenants:]
    await gather_limited(sign_in(o) for o in owners)
    await gather_limited(mark_tenant(o) for o in owners)
    rows = catalog.rows(
        "SELECT u.email, m.tenant_id FROM core_memberships m JOIN core_users u ON u.id = m.user_id"
    )
    tenant_of = {r["email"]: r["tenant_id"] for r in rows}
    for member in members:
        user_id = catalog.upsert_user(DEV_ISSUER, member.email, member.email, "", "")
        catalog.execute(
            "INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at)"
            " VALUES (:id, :user_id, :tenant_id, 'member', :at)",
            id=new_id(),
            user_id=user_id,
            tenant_id=tenant_of[owners[member.tenant].email],
            at=now(),
        )
    await gather_limited(sign_in(m) for m in members)
    return people


# --- the load ----------------------------------------------------------------------------


def check(user: User, path: str, body: str, stats: Stats) -> None:
    own = f"{user.tenant:03d}"
    if any(m != own for m in MARKER.findall(body)):
        stats.cross_tenant += 1
    if path in ("/dashboard", "/settings") and tenant_name(user.tenant) not in body:
        stats.own_missing += 1


async def user_loop(user: User, deadline: float, think: float, stats: Stats, seed: int) -> None:
    rng = random.Random(seed)
    n = 0
    while time.monotonic() < deadline:
        roll, n = rng.random(), n + 1
        if roll < 0.45:
            method, path, kw = "GET", "/notes", {"headers": {"HX-Request": "true"}}
        elif roll < 0.80:
            method, path, kw = "GET", "/dashboard", {}
        elif roll < 0.90:
            method, path, kw = "GET", "/settings", {}
        else:
            body = f"load-note-{user.tenant:03d} by user {user.index} #{n}"
            method, path, kw = "POST", "/notes", {"data": {"body": body}, "headers": htmx(user)}
        started = time.perf_counter()
        try:
            response = await user.client.request(method, path, **kw)
        except httpx.HTTPError as error:
            stats.errors += 1
            stats.error_kinds[type(error).__name__] += 1
            continue
        stats.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            stats.errors += 1
            stats.error_kinds[f"{method} {path} {response.status_code}"] += 1
        check(user, path, response.text, stats)
        if think:
            await asyncio.sleep(rng.uniform(0, 2 * think))


async def hello_loop(client: httpx.AsyncClient, deadline: float, stats: Stats) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            response = await client.get("/")
        except httpx.HTTPError as error:
            stats.errors += 1
            stats.error_kinds[type(error).__name__] += 1
            continue
        stats.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            stats.errors += 1


def cpu_seconds() -> float:
    return time.process_time()


async def timed(make_tasks, seconds: float, stats: Stats) -> Stats:
    deadline = time.monotonic() + seconds
    started, cpu = time.monotonic(), cpu_seconds()
    await asyncio.gather(*make_tasks(deadline))
    stats.seconds = time.monotonic() - started
    stats.cpu = (cpu_seconds() - cpu) / stats.seconds
    return stats


async def run_tenants(
    servers: list[str], catalog: Catalog, args: argparse.Namespace
) -> tuple[Stats, float]:
    began = time.monotonic()
    people = await set_up(servers, catalog, args.users, args.tenants)
    setup = time.monotonic() - began
    stats = Stats()
    try:
        await timed(
            lambda deadline: [
                user_loop(u, deadline, args.think, stats, seed=u.index) for u in people
            ],
            args.seconds,
            stats,
        )
    finally:
        await asyncio.gather(*(u.client.aclose() for u in people))
    return stats, setup


async def run_hello(url: str, args: argparse.Namespace) -> Stats:
    clients = [httpx.AsyncClient(base_url=url, timeout=TIMEOUT) for _ in range(args.users)]
    stats = Stats()
    try:
        await timed(
            lambda deadline: [hello_loop(c, deadline, stats) for c in clients], args.seconds, stats
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return stats


# --- servers -----------------------------------------------------------------------------


def hello_world(args: argparse.Namespace) -> tuple[Stats, dict | None]:
    """The hello world under this client, and under wrk (if installed) for reference."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(HELLO)
        script.flush()
        process = subprocess.Popen([sys.executable, script.name, str(port)])
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(url, timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            ours = asyncio.run(run_hello(url, args))
            by_wrk = None
            if shutil.which("wrk"):
                by_wrk = wrk(url + "/", max(1, round(args.seconds)), min(args.users, 64))
            return ours, by_wrk
        finally:
            process.terminate()
            process.wait()


def sqlite_run(args: argparse.Namespace) -> tuple[Stats, float]:
    with tempfile.TemporaryDirectory(prefix="load-sqlite-") as data:
        env = {**APP_ENV, "DATA_DIR": data, "DATABASE_URL": "", "TENANT_DATABASE_URL": ""}
        settings = load_settings(env=env, env_file=None)
        with AppServer(env).start(timeout=60) as server:
            catalog = Catalog(settings.database_url)
            try:
                return asyncio.run(run_tenants([server.url], catalog, args))
            finally:
                catalog.dispose()


def postgres_run(args: argparse.Namespace) -> tuple[Stats, float]:
    if not postgres.available():
        raise SystemExit("PostgreSQL (initdb, pg_ctl) is not installed")
    cluster = postgres.start_cluster()
    try:
        host = cluster.create_database("load_host")
        with tempfile.TemporaryDirectory(prefix="load-pg-") as data, ExitStack() as stack:
            env = {
                **APP_ENV,
                "DATA_DIR": data,
                "DATABASE_URL": host,
                "TENANT_DATABASE_URL": f"{cluster.url}/load_{{tenant_id}}",
            }
            servers = [stack.enter_context(AppServer(env).start(timeout=60)).url for _ in range(2)]
            catalog = Catalog(host)
            try:
                return asyncio.run(run_tenants(servers, catalog, args))
            finally:
                catalog.dispose()
    finally:
        postgres.remove_cluster(cluster)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--think", type=float, default=0.0, help="mean pause between requests")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    if not 1 <= args.tenants <= min(args.users, 999):
        parser.error("need 1 <= tenants <= users, and at most 999 tenants")

    print(
        f"load: {args.users} users, {args.tenants} tenants, {args.seconds:g} s per run, "
        f"think {args.think:g} s, loopback only"
    )
    hello, by_wrk = hello_world(args)
    print(hello.line("hello world (bare FastHTML)"), flush=True)
    if by_wrk:
        print(
            f"{'hello world under wrk':<28} {by_wrk['rps']:8.0f} req/s  p50 {by_wrk['p50_ms']:7.1f} ms"
            f"  (wrk -t2 -c{min(args.users, 64)}: the server's own limit, no Python client)"
        )
    runs = {"sqlite": sqlite_run, "postgres": postgres_run}
    failed = False
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        stats, setup = runs[backend](args)
        label = "sqlite (1 process)" if backend == "sqlite" else "postgres (2 processes)"
        print(stats.line(label), flush=True)
        print(
            f"{'':<28} ratio to hello world {stats.rps / hello.rps:.2f} (same client)"
            + (f", {stats.rps / by_wrk['rps']:.2f} (vs wrk)" if by_wrk else "")
            + "; "
            f"sign-in of {args.users} users took {setup:.1f} s"
        )
        if stats.error_kinds:
            print(f"{'':<28} errors: {dict(stats.error_kinds.most_common(5))}")
        failed |= bool(stats.cross_tenant or stats.own_missing)
    if failed:
        raise SystemExit("CROSS-TENANT DATA SEEN: see the counts above")


if __name__ == "__main__":
    main()
