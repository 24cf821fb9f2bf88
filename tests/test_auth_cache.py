"""Session lookups are cached per process; revocation still shows on the very next request.

The cache is trusted only while the catalog's auth epoch stands still, and every write to the
tables that decide access moves it in the same transaction (tenants/auth_cache.py).
"""

from __future__ import annotations

import httpx
import pytest

from tenants.catalog import Catalog
from tests.support.html import csrf_from
from tests.support.server import AppServer, env_for, sign_in_over_http


@pytest.fixture
def two_catalogs(settings):
    """Two catalogs on one database: two processes' worth of engines and caches."""
    first, second = Catalog(settings.database_url), Catalog(settings.database_url)
    first.migrate()
    yield first, second
    first.dispose()
    second.dispose()


def signed_in(catalog: Catalog, email: str = "ada@example.com") -> tuple[str, str]:
    """A user with a tenant and a live session: (raw token, tenant id)."""
    user = catalog.upsert_user("urn:test", email, email, "", "")
    tenant = catalog.rows("SELECT id FROM core_tenants WHERE created_by = :u", u=user)
    if tenant:
        tenant_id = tenant[0]["id"]
    else:
        tenant_id = f"{user[:16]}0000000000000000"
        catalog.execute(
            """INSERT INTO core_tenants (id, name, status, db_name, created_by, created_at,
                                         updated_at) VALUES (:t, 'T', 'active', 'x', :u, 't', 't')""",
            t=tenant_id,
            u=user,
        )
        catalog.execute(
            """INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at)
               VALUES (:m, :u, :t, 'owner', 't')""",
            m=f"m{tenant_id}",
            u=user,
            t=tenant_id,
        )
    token = catalog.create_session(user, tenant_id, absolute_hours=1, ip="", agent="")
    return token, tenant_id


def epoch(catalog: Catalog) -> int:
    return catalog.rows("SELECT n FROM core_auth_epoch")[0]["n"]


def test_every_change_to_access_moves_the_epoch_and_a_touch_does_not(two_catalogs):
    catalog, _ = two_catalogs
    token, tenant_id = signed_in(catalog)
    auth = catalog.resolve(token, idle_minutes=60)
    before = epoch(catalog)
    catalog.touch_session(auth.session_hash)
    assert epoch(catalog) == before  # being seen changes nobody's access
    changes = [
        lambda: catalog.rename_tenant(tenant_id, "Renamed"),
        lambda: catalog.set_tenant_status(tenant_id, "suspended"),
        lambda: catalog.switch_session_tenant(auth.session_hash, tenant_id),
        lambda: catalog.remove_membership(auth.user_id, tenant_id),
        lambda: catalog.revoke_session(auth.session_hash),
        lambda: catalog.execute("UPDATE core_users SET name = 'x'"),
    ]
    for change in changes:
        moved_from = epoch(catalog)
        change()
        assert epoch(catalog) == moved_from + 1


def test_a_change_made_elsewhere_is_seen_on_the_next_lookup(two_catalogs):
    here, elsewhere = two_catalogs
    token, tenant_id = signed_in(here)
    assert here.resolve(token, idle_minutes=60).tenant_status == "active"
    assert here.resolve(token, idle_minutes=60) is here.resolve(token, idle_minutes=60)  # cached
    elsewhere.set_tenant_status(tenant_id, "suspended")
    assert here.resolve(token, idle_minutes=60).tenant_status == "suspended"
    elsewhere.remove_membership(here.resolve(token, idle_minutes=60).user_id, tenant_id)
    assert here.resolve(token, idle_minutes=60).role is None
    elsewhere.revoke_session(here.resolve(token, idle_minutes=60).session_hash)
    assert here.resolve(token, idle_minutes=60) is None


def test_two_server_processes_see_each_others_revocations(settings):
    """Sign-out, removal and suspension made through one process (or the catalog itself)
    take effect on the other process's very next request, on SQLite and PostgreSQL."""
    env = {**env_for(settings), "SECRET_KEY": "a-test-key-shared-by-two-processes-0123456789"}
    with AppServer(env) as first, AppServer(env) as second:
        with httpx.Client(base_url=first.url) as ada:
            token = sign_in_over_http(ada, "ada@example.com")
            cookies = dict(ada.cookies)
        with httpx.Client(base_url=second.url, cookies=cookies) as other:
            assert other.get("/dashboard").status_code == 200  # now cached in the second
            catalog = Catalog(settings.database_url)
            tenant_id = catalog.row("SELECT id FROM core_tenants")["id"]
            try:
                catalog.set_tenant_status(tenant_id, "suspended")
                assert other.get("/dashboard").status_code == 403
                catalog.set_tenant_status(tenant_id, "active")
                assert other.get("/dashboard").status_code == 200
                user_id = catalog.row("SELECT id FROM core_users")["id"]
                catalog.remove_membership(user_id, tenant_id)
                gone = other.get("/dashboard", follow_redirects=False)
                assert gone.status_code == 303 and gone.headers["location"] == "/tenants"
            finally:
                catalog.dispose()
        with httpx.Client(base_url=first.url, cookies=cookies) as ada:
            page = ada.get("/tenants")
            signed_out = ada.post("/logout", headers={"X-CSRF-Token": csrf_from(page.text)})
            assert signed_out.status_code in (200, 303), token
        with httpx.Client(base_url=second.url, cookies=cookies) as other:
            assert other.get("/tenants", follow_redirects=False).status_code == 303
        for server in (first, second):
            assert "Traceback" not in server.output(), server.output()[-3000:]
