"""PostgreSQL tenant databases in operation.

TENANT_DB_ROLES: each tenant's database is reachable only by the tenant's own role, whose
password comes from SECRET_KEY and is stored nowhere; tested on a cluster of its own, where
every user but the admin must give a real password (SCRAM). Pools: sized by settings, and a
tenant's connections are closed on the server once it has been idle."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from app.factory import create_app
from app.settings import SettingsError
from tenants.engines import tenant_url
from tenants.pg_roles import as_tenant_role, role_password
from tests.conftest import dev_sign_in, page_csrf
from tests.support import postgres
from tests.test_cli_ops import main_py

KEY = "k" * 40


@pytest.fixture
def cluster(pg_cluster):  # pg_cluster: skips (or fails in CI) without PostgreSQL
    cluster = postgres.start_cluster()
    (cluster.root / "data" / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    cluster.pg_ctl("reload")
    yield cluster
    postgres.remove_cluster(cluster)


@pytest.fixture
def env(cluster, tmp_path) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": cluster.create_database("host"),
        "TENANT_DATABASE_URL": f"{cluster.url}/tenant_{{tenant_id}}",
        "SECRET_KEY": KEY,
    }


def connect(url: sa.URL) -> str:
    """Connect and say who we are, or raise OperationalError."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT current_user")).scalar_one()
    finally:
        engine.dispose()


def sign_in_and_write(app, email: str) -> str:
    """Sign in, write a note through the app; the tenant id."""
    with TestClient(app, base_url="http://localhost") as browser:
        dev_sign_in(browser, email)
        headers = {"X-CSRF-Token": page_csrf(browser), "HX-Request": "true"}
        assert browser.post("/notes", data={"body": "hi"}, headers=headers).status_code == 200
    user = app.state.catalog.row("SELECT id FROM core_users WHERE email = :e", e=email)
    return app.state.catalog.row(
        "SELECT tenant_id FROM core_memberships WHERE user_id = :u", u=user["id"]
    )["tenant_id"]


def test_a_tenant_role_reaches_its_own_database_and_no_other(env, make_settings, cluster):
    app = create_app(make_settings(**env, TENANT_DB_ROLES="true"))
    ada, grace = (
        sign_in_and_write(app, "ada@example.com"),
        sign_in_and_write(app, "grace@example.com"),
    )
    template = env["TENANT_DATABASE_URL"]
    ada_url, grace_url = tenant_url(template, ada), tenant_url(template, grace)

    with app.state.databases.handle(ada) as db:  # the app itself connects as the tenant's role
        assert db.conn.execute(sa.text("SELECT current_user")).scalar_one() == ada_url.database
    assert connect(as_tenant_role(ada_url, KEY)) == ada_url.database
    with pytest.raises(sa.exc.OperationalError, match="permission denied for database"):
        connect(as_tenant_role(ada_url, KEY).set(database=grace_url.database))
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        connect(as_tenant_role(ada_url, "another key" * 4))

    with sa.create_engine(f"{cluster.url}/postgres", isolation_level="AUTOCOMMIT").connect() as c:
        c.exec_driver_sql("CREATE ROLE outsider LOGIN PASSWORD 'outsider-password'")
    outsider = ada_url.set(username="outsider", password="outsider-password")
    for database in (ada_url.database, grace_url.database):  # CONNECT was revoked from PUBLIC
        with pytest.raises(sa.exc.OperationalError, match="permission denied for database"):
            connect(outsider.set(database=database))

    catalog = json.dumps(app.state.catalog.rows("SELECT * FROM core_tenants"))
    assert role_password(KEY, ada_url.database) not in catalog
    assert ada_url.database in catalog  # the database name is all it keeps
    app.state.databases.dispose()
    app.state.catalog.dispose()


def test_roles_turned_on_later_take_over_and_follow_a_new_secret_key(env, make_settings):
    app = create_app(make_settings(**env))  # provisioned without roles: the admin owns it all
    tenant = sign_in_and_write(app, "ada@example.com")
    app.state.databases.dispose()
    url = tenant_url(env["TENANT_DATABASE_URL"], tenant)

    result = main_py({**env, "TENANT_DB_ROLES": "true"}, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    with_roles = create_app(make_settings(**env, TENANT_DB_ROLES="true"))
    with with_roles.state.databases.handle(tenant) as db:  # tables handed over: it can write
        db.execute(
            sa.text(
                "INSERT INTO notes (id, body, author_id, created_at) VALUES ('n2', 'x', 'a', 't')"
            )
        )
        db.commit()
        assert len(db.q("SELECT id FROM notes")) == 2
    with_roles.state.databases.dispose()

    rotated = {**env, "TENANT_DB_ROLES": "true", "SECRET_KEY": "r" * 40}
    assert main_py(rotated, "migrate").returncode == 0
    assert connect(as_tenant_role(url, "r" * 40)) == url.database
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        connect(as_tenant_role(url, KEY))

    deleted = main_py(rotated, "tenants", "delete", tenant, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    admin = sa.create_engine(url.set(database="postgres"), poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": url.database}
            ).first()
            is None
        )
        assert (
            conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :r"), {"r": url.database}
            ).first()
            is None
        )
    admin.dispose()
    app.state.catalog.dispose()
    with_roles.state.catalog.dispose()


def test_roles_need_postgresql(make_settings):
    with pytest.raises(SettingsError, match="TENANT_DB_ROLES needs PostgreSQL"):
        make_settings(TENANT_DB_ROLES="true")


def server_connections(cluster_url: str, database: str) -> int:
    engine = sa.create_engine(f"{cluster_url}/postgres", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": database}
        ).scalar_one()
    engine.dispose()
    return count


def test_pools_are_sized_by_settings_and_idle_tenants_let_go(pg_cluster, make_settings):
    prefix = f"p{uuid.uuid4().hex[:8]}"
    app = create_app(
        make_settings(
            DATABASE_URL=pg_cluster.create_database(f"{prefix}_host"),
            TENANT_DATABASE_URL=f"{pg_cluster.url}/{prefix}_{{tenant_id}}",
            DATABASE_POOL_SIZE="4",
            TENANT_POOL_SIZE="3",
        )
    )
    tenant = sign_in_and_write(app, "ada@example.com")
    databases = app.state.databases
    database = tenant_url(databases.url_template, tenant).database
    assert app.state.catalog.engine.pool.size() == 4
    with databases.handle(tenant) as db:
        assert db.engine.pool.size() == 3
        db.q("SELECT 1")
    assert server_connections(pg_cluster.url, database) >= 1

    assert databases.close_idle(idle_seconds=3600) == []  # used a moment ago: kept
    assert databases.close_idle(idle_seconds=0) == [tenant]
    assert server_connections(pg_cluster.url, database) == 0
    with databases.handle(tenant) as db:  # the next request just connects again
        assert len(db.q("SELECT id FROM notes")) == 1
    databases.dispose()
    app.state.catalog.dispose()
