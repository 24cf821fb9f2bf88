"""Isolation: a member of tenant A can never see, change or detect tenant B's data.

Every tenant-scoped route is tried with B's ids (path, query, form). New tenant routes must
be added to TENANT_PROBES; `test_every_tenant_route_is_probed` fails until they are.
"""

import pytest

from app.web.access import ACCESS_CLASSES
from tests.conftest import dev_sign_in, page_csrf

# (method, path template, form) — {note} is B's note id, {tenant} is B's tenant id.
TENANT_PROBES = [
    ("GET", "/dashboard?tenant_id={tenant}", None),
    ("GET", "/settings?tenant_id={tenant}", None),
    (
        "POST",
        "/settings",
        {"tenant_id": "{tenant}", "name": "pwned", "timezone": "UTC", "currency": "USD"},
    ),
    ("GET", "/notes?tenant_id={tenant}", None),
    ("POST", "/notes", {"tenant_id": "{tenant}", "body": "pwned"}),
    ("DELETE", "/notes/{note}", None),
    ("DELETE", "/notes/{note}?tenant_id={tenant}", None),
    ("GET", "/dashboard/activity?tenant_id={tenant}", None),
    ("GET", "/settings/team?tenant_id={tenant}", None),
    ("GET", "/settings/danger?tenant_id={tenant}", None),
    ("GET", "/demo?tenant_id={tenant}", None),
    ("POST", "/demo/jobs", {"tenant_id": "{tenant}"}),
    ("POST", "/demo/changes", {"tenant_id": "{tenant}"}),
]


@pytest.fixture
def two_tenants(app, client, new_client):
    dev_sign_in(client, "ada@example.com")
    bob = new_client()
    dev_sign_in(bob, "bob@example.com")
    bob_token = page_csrf(bob)
    bob.post("/notes", data={"body": "bob's secret"}, headers={"X-CSRF-Token": bob_token})
    catalog = app.state.catalog
    b_tenant = catalog.row(
        """SELECT m.tenant_id FROM core_memberships m JOIN core_users u ON u.id = m.user_id
           WHERE u.email = 'bob@example.com'"""
    )["tenant_id"]
    with app.state.databases.handle(b_tenant) as db:
        b_note = db.q("SELECT id FROM notes")[0]["id"]
    return {"tenant": b_tenant, "note": b_note}


def snapshot(app, tenant_id: str) -> dict:
    with app.state.databases.handle(tenant_id) as db:
        notes = db.q("SELECT id, body FROM notes ORDER BY id")
        settings = db.q("SELECT * FROM core_settings")
    tenant = app.state.catalog.row(
        "SELECT name, status FROM core_tenants WHERE id = :id", id=tenant_id
    )
    return {"notes": notes, "settings": settings, "tenant": tenant}


def test_foreign_ids_get_404_and_change_nothing(app, client, two_tenants):
    before = snapshot(app, two_tenants["tenant"])
    token = page_csrf(client)
    for method, template, form in TENANT_PROBES:
        path = template.format(**two_tenants)
        data = {k: v.format(**two_tenants) for k, v in (form or {}).items()}
        response = client.request(method, path, data=data or None, headers={"X-CSRF-Token": token})
        assert response.status_code == 404, (method, path, response.status_code)
        assert "bob" not in response.text.lower()
    assert snapshot(app, two_tenants["tenant"]) == before


def test_every_tenant_route_is_probed(app):
    probed = {(m, p.split("?")[0].replace("{note}", "{note_id}")) for m, p, _ in TENANT_PROBES}
    for route in app.routes:
        if app.state.access.classify(route.path) != "tenant":
            continue
        for method in sorted(set(route.methods or []) - {"HEAD"}):
            assert (method, route.path) in probed or _probed_elsewhere(route.path), (
                f"{method} {route.path} is tenant-scoped but has no isolation probe"
            )


def _probed_elsewhere(path: str) -> bool:
    """Routes owned by other areas carry their own isolation tests (named in this list)."""
    return any(path.startswith(prefix) for prefix in OTHER_AREAS)


# area route prefix -> its isolation tests live in that area's test module
OTHER_AREAS = (
    "/jobs",
    "/settings/webhooks",
    "/webhook-endpoints",
    "/sync",
    "/data",
    # tests/test_team_isolation.py
    "/members",
    "/invitations",
    "/audit",
    "/account/export",
    "/tenant/delete",
)


def test_every_route_has_an_access_class(app):
    unclassified = []
    for route in app.routes:
        if route.path == "" or route.path.startswith("/static"):
            continue
        if app.state.access.classify(route.path) not in ACCESS_CLASSES:
            unclassified.append(route.path)
    assert not unclassified, f"routes with no access class: {unclassified}"


def test_an_unclassified_route_is_caught(app):
    @app.route("/sneaky")
    def sneaky():
        return "hi"

    with pytest.raises(AssertionError, match="sneaky"):
        test_every_route_has_an_access_class(app)
