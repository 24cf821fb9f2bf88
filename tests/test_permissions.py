"""Roles and permissions: every team route x every role -> the expected status; a removed
member loses access on the next request; extra form fields change nothing."""

from __future__ import annotations

from types import SimpleNamespace

from starlette.testclient import TestClient

from app.web.permissions import can, manageable_roles
from tests.conftest import dev_sign_in, page_csrf
from tests.test_team import EMAILS, add_member, hx, make_team, membership_id, user_id

ROLES = ("member", "admin", "owner")  # least privileged first: the owner acts last


def allowed(*roles: str, ok: int = 200, refused: int = 403) -> dict[str, int]:
    return {role: ok if role in roles else refused for role in ROLES}


EVERYONE = allowed(*ROLES)
MANAGERS = allowed("owner", "admin")
OWNER = allowed("owner")

# (method, path, form, expected status per role). `{victim}`, `{heir}`, `{invitation}` and
# `{export}` are filled per role with a target of that role's own, so attempts are independent.
# Order matters where a row changes the team: transfers and leaving come last.
MATRIX = [
    ("GET", "/members", None, EVERYONE),
    ("GET", "/invitations", None, MANAGERS),
    ("POST", "/invitations", {"email": "new-{role}@example.com", "role": "member"}, MANAGERS),
    ("POST", "/invitations/{invitation}/resend", None, MANAGERS),
    ("POST", "/invitations/{invitation}/revoke", None, MANAGERS),
    ("POST", "/members/{victim}/role", {"role": "admin"}, MANAGERS),
    ("POST", "/members/{victim}/remove", None, MANAGERS),
    ("GET", "/audit", None, MANAGERS),
    ("POST", "/account/export", None, EVERYONE),
    ("GET", "/account/exports/{export}", None, EVERYONE),
    ("GET", "/account/exports/{export}/download", None, EVERYONE),
    ("GET", "/tenant/delete", None, OWNER),
    ("POST", "/tenant/delete", {"confirm": "not the name"}, allowed("owner", ok=400)),
    ("GET", "/dashboard", None, EVERYONE),
    ("GET", "/settings", None, EVERYONE),
    ("POST", "/settings", {"name": "Renamed", "timezone": "UTC", "currency": "EUR"}, MANAGERS),
    ("GET", "/account", None, EVERYONE),
    ("GET", "/tenants", None, EVERYONE),
    ("POST", "/members/{heir}/transfer", None, OWNER),
    ("POST", "/members/leave", None, EVERYONE),
]


def targets(app, team, client: TestClient, role: str) -> dict[str, str]:
    """Members to act on, an invitation to resend and revoke, an export to fetch."""
    team.owner.post(
        "/invitations", data={"email": f"invitee-{role}@example.com"}, headers=hx(team.owner)
    )
    app.state.catalog.execute(  # sent long ago, so it may be sent again now
        "UPDATE core_invitations SET sent_at = '2000-01-01T00:00:00.000000Z' WHERE email = :e",
        e=f"invitee-{role}@example.com",
    )
    client.post("/account/export", headers=hx(client))
    with app.state.databases.handle(team.tenant) as db:
        export = db.q(
            """SELECT id FROM tenant_jobs WHERE job_type = 'account.export'
               ORDER BY created_at DESC LIMIT 1"""
        )[0]["id"]
    return {
        "victim": add_member(app, team.tenant, f"victim-{role}@example.com", "member"),
        "heir": add_member(app, team.tenant, f"heir-{role}@example.com", "member"),
        "invitation": app.state.catalog.row(
            "SELECT id FROM core_invitations WHERE email = :e", e=f"invitee-{role}@example.com"
        )["id"],
        "export": export,
        "role": role,
    }


def test_every_route_and_role_gets_the_expected_status(app, client, new_client):
    team = make_team(app, client, new_client)
    ids = {role: targets(app, team, team.client(role), role) for role in ROLES}
    for method, template, form, expected in MATRIX:
        for role in ROLES:
            browser = team.client(role)
            path = template.format(**ids[role])
            data = {k: v.format(**ids[role]) for k, v in (form or {}).items()}
            response = browser.request(method, path, data=data or None, headers=hx(browser))
            assert response.status_code == expected[role], (method, path, role, response.text)
            assert "Traceback" not in response.text


def test_the_matrix_covers_every_team_route(app):
    covered = {(m, p) for m, p, _, _ in MATRIX}
    names = {
        "membership_id": ("victim", "heir"),
        "invitation_id": ("invitation",),
        "job_id": ("export",),
    }
    for route in app.routes:
        if app.state.access.classify(route.path) != "tenant":
            continue
        if not route.path.startswith(
            ("/members", "/invitations", "/audit", "/account", "/tenant/")
        ):
            continue
        for method in sorted(set(route.methods or []) - {"HEAD"}):
            templates = {route.path}
            for param, ours in names.items():
                templates = {
                    t.replace("{" + param + "}", "{" + o + "}") for t in templates for o in ours
                }
            assert covered & {(method, t) for t in templates}, (
                f"{method} {route.path} not in MATRIX"
            )


def test_the_ui_shows_only_what_the_role_may_do(app, client, new_client):
    team = make_team(app, client, new_client)
    member_view = team.member.get("/members").text
    assert "Invite" not in member_view and "/remove" not in member_view
    assert 'hx-post="/members/leave"' in member_view
    admin_view = team.admin.get("/members").text
    assert "Invite" in admin_view and "/remove" in admin_view and "/transfer" not in admin_view
    assert 'value="owner"' not in admin_view  # an admin cannot make owners
    owner_view = team.owner.get("/members").text
    assert "/transfer" in owner_view and 'value="owner"' in owner_view
    assert manageable_roles("member") == ()


def test_a_removed_member_loses_access_on_the_next_request(app, client, new_client):
    team = make_team(app, client, new_client)
    assert team.member.get("/members").status_code == 200
    mia = membership_id(app, EMAILS["member"], team.tenant)
    removed = team.owner.post(f"/members/{mia}/remove", headers=hx(team.owner))
    assert removed.status_code == 200 and EMAILS["member"] not in removed.text.split("toast")[0]
    # Mia also has her own workspace, so she is moved there; Olive's is gone for her.
    response = team.member.get("/members", follow_redirects=False)
    assert response.status_code == 303
    assert "olive@example.com" not in team.member.get("/members").text
    with app.state.databases.handle(team.tenant) as db:
        assert db.q("SELECT id FROM core_tenant_users WHERE email = :e", e=EMAILS["member"]) == []


def test_a_member_cannot_raise_their_own_role(app, client, new_client):
    team = make_team(app, client, new_client)
    for role, email in (("member", EMAILS["member"]), ("admin", EMAILS["admin"])):
        browser = team.client(role)
        mine = membership_id(app, email, team.tenant)
        raised = browser.post(f"/members/{mine}/role", data={"role": "owner"}, headers=hx(browser))
        assert raised.status_code == 403
        assert app.state.catalog.row(
            "SELECT role FROM core_memberships WHERE id = :id", id=mine
        ) == {"role": role}


def test_extra_fields_change_nothing(app, client, new_client):
    team = make_team(app, client, new_client)
    catalog = app.state.catalog
    before = catalog.tenant(team.tenant)
    saved = team.owner.post(
        "/settings",
        data={
            "name": "Olive & co",
            "timezone": "UTC",
            "currency": "EUR",
            "plan_tier": "enterprise",
            "status": "active",
            "role": "owner",
        },
        headers=hx(team.owner),
    )
    assert saved.status_code == 200
    after = catalog.tenant(team.tenant)
    assert after["name"] == "Olive & co" and after["plan_tier"] == before["plan_tier"]
    invited = team.admin.post(
        "/invitations",
        data={
            "email": "ivan@example.com",
            "role": "member",
            "invited_by": user_id(app, EMAILS["owner"]),
            "expires_at": "2999-01-01T00:00:00.000000Z",
            "accepted_at": "2000-01-01T00:00:00.000000Z",
        },
        headers=hx(team.admin),
    )
    assert invited.status_code == 200
    row = catalog.row("SELECT * FROM core_invitations WHERE email = 'ivan@example.com'")
    assert row["invited_by"] == user_id(app, EMAILS["admin"])
    assert row["accepted_at"] is None and row["expires_at"] < "2100"


def test_naming_another_tenant_is_refused(app, client, new_client):
    team = make_team(app, client, new_client)
    other = new_client()
    dev_sign_in(other, "bob@example.com")
    bobs = app.state.catalog.row(
        "SELECT tenant_id FROM core_memberships WHERE user_id = :u",
        u=user_id(app, "bob@example.com"),
    )["tenant_id"]
    token = page_csrf(team.owner)
    mia = membership_id(app, EMAILS["member"], team.tenant)
    for path, form in (
        ("/invitations", {"email": "ivan@example.com", "role": "member", "tenant_id": bobs}),
        (f"/members/{mia}/role", {"role": "admin", "tenant_id": bobs}),
        (f"/members/{mia}/remove", {"tenant_id": bobs}),
        ("/account/export", {"tenant_id": bobs}),
    ):
        response = team.owner.post(path, data=form, headers={"X-CSRF-Token": token})
        assert response.status_code == 404, path
    assert app.state.catalog.rows("SELECT id FROM core_invitations") == []
    assert app.state.catalog.row("SELECT role FROM core_memberships WHERE id = :id", id=mia) == {
        "role": "member"
    }


def test_a_file_posted_as_a_text_field_is_refused(app, client, new_client):
    team = make_team(app, client, new_client)
    mia = membership_id(app, EMAILS["member"], team.tenant)
    for path, field in (
        ("/invitations", "email"),
        ("/invitations", "role"),
        (f"/members/{mia}/role", "role"),
        ("/tenants", "name"),
        ("/tenant/delete", "confirm"),
        ("/account/delete", "confirm"),
    ):
        response = team.owner.post(
            path, files={field: ("x.txt", b"olive@example.com")}, headers=hx(team.owner)
        )
        assert 400 <= response.status_code < 500 or "error" in response.text, (path, field)
    assert app.state.catalog.tenant(team.tenant)["status"] == "active"
    assert app.state.catalog.rows("SELECT id FROM core_invitations") == []
    assert len(app.state.catalog.memberships(user_id(app, EMAILS["owner"]))) == 1


def test_the_permission_table_is_the_tenants_own(app, client, new_client):
    team = make_team(app, client, new_client)
    assert team.member.get("/audit").status_code == 403
    with app.state.databases.handle(team.tenant) as db:
        db.q(
            """INSERT INTO core_permissions (id, role, resource, action)
               VALUES ('member-audit-view', 'member', 'audit', 'view')"""
        )
        db.commit()
    assert team.member.get("/audit").status_code == 200  # granted by this tenant, no deploy
    outside = SimpleNamespace(role="owner", db=None)  # a signed-in page has no tenant database
    assert not can(outside, "audit", "view")
