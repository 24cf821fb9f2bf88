"""Two app processes on one PostgreSQL: started together on an empty database, they apply each
migration once, and serve the same people (a session made on one works on the other)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import sqlalchemy as sa

from tenants.migrate import HOST_MIGRATIONS, TENANT_MIGRATIONS, load
from tests.support.html import csrf_from
from tests.support.server import AppServer

KEY = "multi-instance-test-secret-key-0123456789"


def test_two_processes_share_sessions_and_migrate_once(pg_cluster, tmp_path):
    prefix = f"m{uuid.uuid4().hex[:8]}"
    host_url = pg_cluster.create_database(f"{prefix}_host")
    shared = {
        "APP_ENV": "test",
        "SECRET_KEY": KEY,
        "DATABASE_URL": host_url,
        "TENANT_DATABASE_URL": f"{pg_cluster.url}/{prefix}_{{tenant_id}}",
    }
    # Separate DATA_DIRs: nothing may be shared through local files.
    servers = [AppServer({**shared, "DATA_DIR": str(tmp_path / name)}) for name in ("a", "b")]
    with ThreadPoolExecutor(2) as pool:  # both race to migrate the empty host database
        list(pool.map(AppServer.start, servers))
    first, second = servers
    try:
        with httpx.Client(base_url=first.url) as browser:
            token = csrf_from(browser.get("/login").text)
            signed_in = browser.post(
                "/login/dev", data={"email": "ada@example.com", "csrf_token": token}
            )
            assert signed_in.status_code == 303, signed_in.text
            cookie = browser.cookies["sid"]

        with httpx.Client(base_url=second.url, cookies={"sid": cookie}) as other:
            dashboard = other.get("/dashboard")
            assert dashboard.status_code == 200 and "ada@example.com" in dashboard.text
            headers = {"X-CSRF-Token": csrf_from(dashboard.text), "HX-Request": "true"}
            added = other.post("/notes", data={"body": "written on B"}, headers=headers)
            assert added.status_code == 200

        with httpx.Client(base_url=first.url, cookies={"sid": cookie}) as back:
            assert "written on B" in back.get("/notes").text
            assert back.get("/readyz").status_code == 200
        for server in servers:
            assert "Traceback" not in server.output(), server.output()[-3000:]
    finally:
        for server in servers:
            server.stop()

    engine = sa.create_engine(host_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars().all()
        tenant_db = conn.execute(sa.text("SELECT db_name FROM core_tenants")).scalar_one()
    engine.dispose()
    assert sorted(versions) == [m.version for m in load(HOST_MIGRATIONS)]  # each one, once
    tenant_engine = sa.create_engine(f"{pg_cluster.url}/{tenant_db}", poolclass=sa.pool.NullPool)
    with tenant_engine.connect() as conn:
        tenant_versions = (
            conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars().all()
        )
    tenant_engine.dispose()
    assert sorted(tenant_versions) == [m.version for m in load(TENANT_MIGRATIONS)]
