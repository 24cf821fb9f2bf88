"""Members (roles, removal, leaving, handing over ownership; always an owner) and several
workspaces per person (switching, creating)."""

from __future__ import annotations

import threading

import pytest

from app.routes.tenants import CREATE_MAX
from tenants import members
from tests.conftest import dev_sign_in
from tests.test_team import EMAILS, add_member, hx, make_team, membership_id, own_tenant, user_id


def role_of(app, email: str, tenant_id: str) -> str | None:
    row = app.state.catalog.row(
        "SELECT role FROM core_memberships WHERE user_id = :u AND tenant_id = :t",
        u=user_id(app, email),
        t=tenant_id,
    )
    return row["role"] if row else None


def actions(app, tenant_id: str) -> list[str]:
    return [
        r["action"]
        for r in app.state.catalog.rows(
            "SELECT action FROM sys_audit_logs WHERE tenant_id = :t ORDER BY at, id", t=tenant_id
        )
    ]


def test_an_owner_changes_a_role(app, client, new_client):
    team = make_team(app, client, new_client)
    mia = membership_id(app, EMAILS["member"], team.tenant)
    response = team.owner.post(
        f"/members/{mia}/role", data={"role": "admin"}, headers=hx(team.owner)
    )
    assert response.status_code == 200 and "mia@example.com is now admin" in response.text
    assert role_of(app, EMAILS["member"], team.tenant) == "admin"
    with app.state.databases.handle(team.tenant) as db:
        assert db.q("SELECT role FROM core_tenant_users WHERE email = :e", e=EMAILS["member"]) == [
            {"role": "admin"}
        ]
    entry = app.state.catalog.row(
        "SELECT details FROM sys_audit_logs WHERE action = 'member.role_changed'"
    )
    assert '"after": "admin"' in entry["details"] and '"before": "member"' in entry["details"]
    # the new admin can now manage members
    assert team.member.get("/invitations", headers={"HX-Request": "true"}).status_code == 200


def test_an_admin_cannot_touch_an_owner(app, client, new_client):
    team = make_team(app, client, new_client)
    olive = membership_id(app, EMAILS["owner"], team.tenant)
    demote = team.admin.post(
        f"/members/{olive}/role", data={"role": "member"}, headers=hx(team.admin)
    )
    remove = team.admin.post(f"/members/{olive}/remove", headers=hx(team.admin))
    assert (demote.status_code, remove.status_code) == (403, 403)
    assert role_of(app, EMAILS["owner"], team.tenant) == "owner"


def test_there_is_always_an_owner(app, client, new_client):
    team = make_team(app, client, new_client)
    olive = membership_id(app, EMAILS["owner"], team.tenant)
    owner = hx(team.owner)
    for path, form in (
        (f"/members/{olive}/role", {"role": "admin"}),
        (f"/members/{olive}/remove", None),
        ("/members/leave", None),
    ):
        response = team.owner.post(path, data=form, headers=owner)
        assert response.status_code == 409, path
        assert "needs an owner" in response.text
    assert role_of(app, EMAILS["owner"], team.tenant) == "owner"
    # with a second owner, the first may step down
    adam = membership_id(app, EMAILS["admin"], team.tenant)
    team.owner.post(f"/members/{adam}/role", data={"role": "owner"}, headers=owner)
    stepped_down = team.owner.post(f"/members/{olive}/role", data={"role": "admin"}, headers=owner)
    assert stepped_down.status_code == 200
    assert "/transfer" not in stepped_down.text  # the panel follows her new role at once


def test_simultaneous_demotions_still_leave_an_owner(app, client):
    dev_sign_in(client, EMAILS["owner"])
    tenant = own_tenant(app, EMAILS["owner"])
    ids = [
        membership_id(app, EMAILS["owner"], tenant),
        add_member(app, tenant, "otto@example.com", "owner"),
    ]
    barrier, outcomes = threading.Barrier(2), []

    def demote(membership: str) -> None:
        barrier.wait()
        try:
            members.set_role(
                app.state.catalog, tenant, membership, "admin", ("owner", "admin", "member")
            )
            outcomes.append("demoted")
        except members.LastOwner:
            outcomes.append("refused")

    threads = [threading.Thread(target=demote, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    owners = app.state.catalog.rows(
        "SELECT id FROM core_memberships WHERE tenant_id = :t AND role = 'owner'", t=tenant
    )
    assert len(owners) == 1


def test_handing_over_ownership(app, client, new_client):
    team = make_team(app, client, new_client)
    mia = membership_id(app, EMAILS["member"], team.tenant)
    refused = team.admin.post(f"/members/{mia}/transfer", headers=hx(team.admin))
    assert refused.status_code == 403
    handed = team.owner.post(f"/members/{mia}/transfer", headers=hx(team.owner))
    assert handed.status_code == 200 and "is now the owner" in handed.text
    assert role_of(app, EMAILS["member"], team.tenant) == "owner"
    assert role_of(app, EMAILS["owner"], team.tenant) == "admin"
    assert team.owner.get("/tenant/delete").status_code == 403
    assert team.member.get("/tenant/delete").status_code == 200
    assert "member.ownership_transferred" in actions(app, team.tenant)


def test_a_member_leaves(app, client, new_client):
    team = make_team(app, client, new_client)
    left = team.member.post("/members/leave", headers=hx(team.member))
    assert left.status_code == 200 and left.headers["hx-redirect"] == "/dashboard"
    assert role_of(app, EMAILS["member"], team.tenant) is None
    # she is back in her own workspace
    page = team.member.get("/dashboard").text
    assert "mia&#x27;s workspace" in page or "mia's workspace" in page
    assert "member.left" in actions(app, team.tenant)


def test_the_members_page_shows_roles_and_last_activity(app, client, new_client):
    team = make_team(app, client, new_client)
    add_member(app, team.tenant, "never@example.com", "member")
    page = team.owner.get("/members").text
    row = page.split('id="member-' + membership_id(app, EMAILS["admin"], team.tenant))[1]
    assert "adam@example.com" in row and "<time" in row.split("</tr>")[0]
    never = page.split('id="member-' + membership_id(app, "never@example.com", team.tenant))[1]
    assert "—" in never.split("</tr>")[0]


def test_switching_workspaces(app, client, new_client):
    team = make_team(app, client, new_client)
    adams_own = own_tenant(app, EMAILS["admin"])
    switched = team.admin.post(f"/tenants/{adams_own}/switch", headers=hx(team.admin))
    assert switched.status_code == 200 and switched.headers["hx-redirect"] == "/dashboard"
    assert "role: owner" in team.admin.get("/dashboard").text  # his own workspace
    team.admin.post(f"/tenants/{team.tenant}/switch", headers=hx(team.admin))
    assert "role: admin" in team.admin.get("/dashboard").text
    # a workspace he is not in, and nonsense, are not found; the session stays put
    olives_other = team.owner.post(
        "/tenants", data={"name": "Side project"}, headers=hx(team.owner)
    )
    assert olives_other.status_code == 200
    side = app.state.catalog.row("SELECT id FROM core_tenants WHERE name = 'Side project'")["id"]
    for target in (side, "nope", "../" + side, "' OR '1'='1"):
        response = team.admin.post(f"/tenants/{target}/switch", headers=hx(team.admin))
        assert response.status_code == 404, target
    assert "role: admin" in team.admin.get("/dashboard").text


def test_the_switcher_lists_the_other_workspaces(app, client, new_client):
    team = make_team(app, client, new_client)
    page = team.admin.get("/dashboard").text
    html = page[page.index('id="tenant-switcher"') : page.index("</details>")]
    assert "Olive&#x27;s" in html or "Olive's" in html
    assert f"/tenants/{own_tenant(app, EMAILS['admin'])}/switch" in html
    assert f"/tenants/{team.tenant}/switch" not in html  # not the current one


def test_creating_another_workspace(app, client):
    dev_sign_in(client, "olive@example.com")
    created = client.post("/tenants", data={"name": "  Side project  "}, headers=hx(client))
    assert created.status_code == 200 and created.headers["hx-redirect"] == "/dashboard"
    dashboard = client.get("/dashboard").text
    assert "Side project" in dashboard and "role: owner" in dashboard
    assert len(app.state.catalog.memberships(user_id(app, "olive@example.com"))) == 2
    for name, message in (
        ("", "Give your workspace a name."),
        ("   ", "Give your workspace a name."),
        ("x" * 81, "Keep the name to 80 characters or fewer."),
    ):
        refused = client.post("/tenants", data={"name": name}, headers=hx(client))
        assert refused.status_code == 200 and message in refused.text
    assert len(app.state.catalog.memberships(user_id(app, "olive@example.com"))) == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_one_person_creates_a_bounded_number_of_workspaces(app, client):
    dev_sign_in(client, "olive@example.com")
    app.state.catalog.execute(
        """INSERT INTO core_tenants (id, name, status, db_name, created_by, created_at, updated_at)
           SELECT 'filler' || n, 'Filler', 'active', 'x', u.id, '2000', '2000'
           FROM core_users u, (SELECT 1 AS n UNION SELECT 2 UNION SELECT 3 UNION SELECT 4
                UNION SELECT 5 UNION SELECT 6 UNION SELECT 7 UNION SELECT 8 UNION SELECT 9) AS k"""
    )
    refused = client.post("/tenants", data={"name": "One more"}, headers=hx(client))
    assert f"You have created {CREATE_MAX} workspaces" in refused.text
