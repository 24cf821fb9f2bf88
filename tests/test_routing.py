"""Tenant routing: cached engines, bounded cache, a connection per request, no accidental DBs."""

import threading

import pytest
import sqlalchemy as sa

from tenants.catalog import Catalog
from tenants.provision import create_tenant
from tenants.routing import TenantDatabases
from tests.conftest import dev_sign_in, page_csrf


@pytest.fixture
def world(settings):
    catalog = Catalog(settings.database_url)
    catalog.migrate()
    databases = TenantDatabases(settings.tenant_database_url, cache_size=2)
    owner = catalog.upsert_user("urn:test", "owner", "owner@example.com", "Owner", "")
    yield catalog, databases, owner
    databases.dispose()
    catalog.dispose()


def test_cache_is_bounded_and_disposes_evicted_engines(world):
    catalog, databases, owner = world
    ids = [create_tenant(catalog, databases, owner, f"t{n}") for n in range(4)]
    assert len(databases) == 2
    first_engine = None
    for tenant_id in ids:
        with databases.handle(tenant_id) as db:
            assert db.q("SELECT count(*) AS n FROM core_settings") == [{"n": 1}]
            first_engine = first_engine or db.engine
    assert len(databases) == 2
    # the first engine was evicted and disposed: its pool holds no connections
    assert first_engine.pool.checkedin() == 0


def test_request_path_never_creates_a_database(world):
    _, databases, _ = world
    with pytest.raises(sa.exc.OperationalError):
        databases.handle("0123456789abcdef0123456789abcdef").q("SELECT 1")


def test_hostile_tenant_ids_never_reach_a_path(world):
    _, databases, _ = world
    for bad in ("../../etc/passwd", "a/b", "x" * 80, "Ab'cd12345"):
        with pytest.raises(ValueError, match="invalid tenant id"):
            databases.handle(bad)


def test_unknown_tables_are_an_error_not_a_create(world):
    catalog, databases, owner = world
    tenant_id = create_tenant(catalog, databases, owner, "t")
    with databases.handle(tenant_id) as db, pytest.raises(KeyError):
        db.t.not_a_table  # noqa: B018


def test_each_handle_gets_its_own_connection(world):
    catalog, databases, owner = world
    tenant_id = create_tenant(catalog, databases, owner, "t")
    seen: list[int] = []
    barrier = threading.Barrier(4)

    def use():
        with databases.handle(tenant_id) as db:
            seen.append(id(db.conn.connection.dbapi_connection))
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 4


def test_connection_returns_to_pool_even_when_the_handler_fails(app, client):
    dev_sign_in(client, "ada@example.com")
    tenant_id = app.state.catalog.rows("SELECT id FROM core_tenants")[0]["id"]
    pool = app.state.databases.handle(tenant_id).engine.pool
    headers = {"X-CSRF-Token": page_csrf(client)}
    assert client.get("/dashboard").status_code == 200
    assert pool.checkedout() == 0
    # a note far too long is refused; the handler touched the DB for nothing: still returned
    response = client.post("/notes", data={"body": "x" * 5000}, headers=headers)
    assert response.status_code == 200
    response = client.delete("/notes/does-not-exist", headers=headers)
    assert response.status_code == 404
    assert pool.checkedout() == 0
