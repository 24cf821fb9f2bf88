"""First sign-in provisioning: complete or retryable, and once per person under concurrency."""

import threading

import pytest

import tenants.provision as provision
from tenants.catalog import Catalog
from tenants.provision import ProvisioningError, first_tenant
from tenants.routing import TenantDatabases
from tests.conftest import csrf_from, dev_sign_in


@pytest.fixture
def world(settings):
    catalog = Catalog(settings.database_url)
    catalog.migrate()
    databases = TenantDatabases(settings.tenant_database_url)
    yield catalog, databases
    databases.dispose()
    catalog.dispose()


def count(catalog, table: str) -> int:
    return catalog.row(f"SELECT count(*) AS n FROM {table}")["n"]


def test_first_sign_in_provisions_everything(app, client):
    dev_sign_in(client, "ada@example.com")
    catalog = app.state.catalog
    tenant = catalog.row("SELECT * FROM core_tenants")
    assert tenant["status"] == "active"
    assert "://" not in tenant["db_name"] and "@" not in tenant["db_name"]
    assert catalog.row("SELECT role FROM core_memberships")["role"] == "owner"
    assert catalog.row("SELECT status FROM core_subscriptions")["status"] == "trialing"
    actions = {r["action"] for r in catalog.rows("SELECT action FROM sys_audit_logs")}
    assert {"tenant.provisioned", "auth.sign_in"} <= actions
    with app.state.databases.handle(tenant["id"]) as db:
        assert db.q("SELECT role FROM core_tenant_users") == [{"role": "owner"}]


def test_failure_part_way_is_finished_by_the_next_attempt(app, client, monkeypatch):
    calls = {"n": 0}
    real = provision._start_trial

    def flaky(conn, tenant_id):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("billing provider down")
        real(conn, tenant_id)

    monkeypatch.setattr(provision, "_start_trial", flaky)
    page = client.get("/login")
    failed = client.post(
        "/login/dev",
        data={"email": "ada@example.com", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert failed.status_code == 503
    assert "try again" in failed.text.lower()
    assert client.get("/dashboard", follow_redirects=False).status_code == 303  # no session
    catalog = app.state.catalog
    assert catalog.row("SELECT status FROM core_tenants")["status"] == "provisioning"
    dev_sign_in(client, "ada@example.com")
    assert client.get("/dashboard").status_code == 200
    assert count(catalog, "core_tenants") == 1
    assert catalog.row("SELECT status FROM core_tenants")["status"] == "active"
    assert count(catalog, "core_memberships") == 1 and count(catalog, "core_subscriptions") == 1


def test_simultaneous_first_sign_ins_make_one_user_and_one_tenant(world):
    catalog, databases = world
    results: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(8)

    def sign_in():
        try:
            barrier.wait(timeout=10)
            user = catalog.upsert_user("urn:test", "same-person", "p@example.com", "P", "")
            results.append(first_tenant(catalog, databases, user, "P's workspace"))
        except Exception as e:  # asserted below
            errors.append(e)

    threads = [threading.Thread(target=sign_in) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(results)) == 1
    assert count(catalog, "core_users") == 1
    assert count(catalog, "core_tenants") == 1
    assert count(catalog, "core_memberships") == 1
    assert catalog.row("SELECT status FROM core_tenants")["status"] == "active"


def test_unknown_owner_is_a_provisioning_error(world):
    catalog, databases = world
    with pytest.raises(ProvisioningError):
        first_tenant(catalog, databases, "nobody", "x")
