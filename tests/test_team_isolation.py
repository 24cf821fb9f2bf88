"""Isolation of the team routes: signed in to workspace A, ids of workspace B (a member, an
invitation, an export) are not found (404), and B is unchanged. The probe list covers every
tenant route of members, invitations, audit and the account lifecycle (see
tests/test_isolation.py, which leaves these areas to this module)."""

from __future__ import annotations

from tests.conftest import dev_sign_in, page_csrf
from tests.test_account_lifecycle import export
from tests.test_team import add_member, hx, own_tenant

# (method, path template, form): {member}, {invitation}, {export} and {tenant} are B's.
PROBES = [
    ("GET", "/members?tenant_id={tenant}", None),
    ("POST", "/members/{member}/role", {"role": "owner"}),
    ("POST", "/members/{member}/remove", None),
    ("POST", "/members/{member}/transfer", None),
    ("POST", "/members/leave", {"tenant_id": "{tenant}"}),
    ("GET", "/invitations?tenant_id={tenant}", None),
    ("POST", "/invitations", {"email": "x@example.com", "role": "owner", "tenant_id": "{tenant}"}),
    ("POST", "/invitations/{invitation}/resend", None),
    ("POST", "/invitations/{invitation}/revoke", None),
    ("GET", "/audit?tenant_id={tenant}", None),
    ("POST", "/account/export", {"tenant_id": "{tenant}"}),
    ("GET", "/account/exports/{export}", None),
    ("GET", "/account/exports/{export}/download", None),
    ("GET", "/tenant/delete?tenant_id={tenant}", None),
    ("POST", "/tenant/delete", {"tenant_id": "{tenant}", "confirm": "bob's workspace"}),
    ("POST", "/tenants/{tenant}/switch", None),  # signed in, not a member of B
]


def snapshot(app, tenant_id: str) -> dict:
    catalog = app.state.catalog
    with app.state.databases.handle(tenant_id) as db:
        jobs = db.q("SELECT id, status, payload FROM tenant_jobs ORDER BY id")
        people = db.q("SELECT id, role FROM core_tenant_users ORDER BY id")
    return {
        "tenant": catalog.tenant(tenant_id),
        "members": catalog.rows(
            "SELECT id, user_id, role FROM core_memberships WHERE tenant_id = :t ORDER BY id",
            t=tenant_id,
        ),
        "invitations": catalog.rows(
            "SELECT * FROM core_invitations WHERE tenant_id = :t ORDER BY id", t=tenant_id
        ),
        "jobs": jobs,
        "people": people,
    }


def test_foreign_ids_get_404_and_change_nothing(app, client, new_client):
    dev_sign_in(client, "olive@example.com")
    bob = new_client()
    dev_sign_in(bob, "bob@example.com")
    b = own_tenant(app, "bob@example.com")
    ids = {
        "tenant": b,
        "member": add_member(app, b, "bea@example.com", "member"),
        "export": export(app, bob, b),
    }
    bob.post("/invitations", data={"email": "ivan@example.com"}, headers=hx(bob))
    ids["invitation"] = app.state.catalog.row("SELECT id FROM core_invitations")["id"]
    app.state.catalog.execute("UPDATE core_invitations SET sent_at = '2000-01-01T00:00:00.000000Z'")
    before = snapshot(app, b)

    token = page_csrf(client)
    for method, template, form in PROBES:
        path = template.format(**ids)
        data = {k: v.format(**ids) for k, v in (form or {}).items()}
        response = client.request(method, path, data=data or None, headers={"X-CSRF-Token": token})
        assert response.status_code == 404, (method, path, response.status_code)
        assert "bob" not in response.text.lower() and "bea@" not in response.text
    assert snapshot(app, b) == before
    assert (
        app.state.catalog.rows("SELECT id FROM core_invitations WHERE tenant_id <> :t", t=b) == []
    )


def test_every_team_route_is_probed(app):
    names = {
        "{membership_id}": "{member}",
        "{invitation_id}": "{invitation}",
        "{job_id}": "{export}",
    }
    probed = set()
    for method, template, _ in PROBES:
        path = template.split("?")[0]
        for theirs, ours in names.items():
            path = path.replace(ours, theirs)
        probed.add((method, path))
    for route in app.routes:
        if app.state.access.classify(route.path) != "tenant":
            continue
        if not route.path.startswith(
            ("/members", "/invitations", "/audit", "/account", "/tenant/")
        ):
            continue
        for method in sorted(set(route.methods or []) - {"HEAD"}):
            assert (method, route.path) in probed, f"{method} {route.path} has no isolation probe"
