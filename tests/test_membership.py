"""Membership is checked on every request; suspended tenants are refused."""

from tests.conftest import dev_sign_in


def tenant_of(app, email: str) -> str:
    return app.state.catalog.row(
        """SELECT m.tenant_id FROM core_memberships m JOIN core_users u ON u.id = m.user_id
           WHERE u.email = :e""",
        e=email,
    )["tenant_id"]


def test_revoked_membership_loses_access_on_the_next_request(app, client):
    dev_sign_in(client, "ada@example.com")
    assert client.get("/dashboard").status_code == 200
    user = app.state.catalog.row("SELECT id FROM core_users")["id"]
    app.state.catalog.remove_membership(user, tenant_of(app, "ada@example.com"))
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/tenants"
    assert "Create" in client.get("/tenants").text


def test_revoked_membership_falls_back_to_another_tenant(app, client, new_client):
    dev_sign_in(client, "ada@example.com")
    bob = new_client()
    dev_sign_in(bob, "bob@example.com")
    catalog = app.state.catalog
    ada = catalog.row("SELECT id FROM core_users WHERE email = 'ada@example.com'")["id"]
    bobs_tenant = tenant_of(app, "bob@example.com")
    adas_tenant = tenant_of(app, "ada@example.com")
    catalog.execute(
        "INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at)"
        " VALUES ('m2', :u, :t, 'member', '2000-01-01T00:00:00.000000Z')",
        u=ada,
        t=bobs_tenant,
    )
    catalog.remove_membership(ada, adas_tenant)
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    page = client.get("/dashboard")
    assert "bob&#x27;s workspace" in page.text or "bob's workspace" in page.text


def test_suspended_tenant_is_refused(app, client, new_client):
    dev_sign_in(client, "ada@example.com")
    app.state.catalog.set_tenant_status(tenant_of(app, "ada@example.com"), "suspended")
    response = client.get("/settings")
    assert response.status_code == 403
    assert "suspended" in response.text
    # signing in again does not quietly make a fresh tenant to escape the suspension
    dev_sign_in(new_client(), "ada@example.com")
    assert app.state.catalog.rows("SELECT count(*) AS n FROM core_tenants") == [{"n": 1}]
