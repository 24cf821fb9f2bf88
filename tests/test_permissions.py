"""Roles and permissions: every tenant route x every role -> what the tenant's permission
table says, under the default table and under a reshuffled one (so a route that decides from a
hard-coded role list fails); a removed member loses access on the next request; extra form
fields change nothing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from app.demo.graphql import DemoStore
from app.demo.sync import DEMO, in_process_client
from app.syncs.sources import SPECS
from app.web.permissions import can, manageable_roles
from app.webhooks import outbound
from app.work.jobs import job_manager
from tenants import invitations
from tenants import webhooks as webhook_store
from tenants.stamp import new_id, now
from tests.conftest import dev_sign_in, page_csrf
from tests.test_team import EMAILS, add_member, hx, make_team, membership_id, user_id

ROLES = ("member", "admin", "owner")  # least privileged first: the owner acts last
# One live endpoint per source and there are two sources, so the member and the owner share
# theirs: whichever of them may manage webhooks revokes it before creating one again.
WEBHOOK_SOURCE = {"member": "github", "admin": "demo", "owner": "github"}


@dataclass(frozen=True)
class Row:
    """A request and what decides its answer: the permission it needs from the tenant's table
    (None: any member), and the one rule about people that is not in the table (only an owner
    hands over ownership). `ok` is the answer when allowed; a refusal is 403."""

    method: str
    path: str
    needs: tuple[str, str] | None = None
    form: dict[str, str] | None = None
    ok: int = 200
    only: tuple[str, ...] = ROLES

    def expected(self, role: str, table: set[tuple[str, str, str]]) -> int:
        allowed = self.needs is None or (role, *self.needs) in table
        return self.ok if allowed and role in self.only else 403


MANAGE_MEMBERS = ("members", "manage")
MANAGE_WEBHOOKS = ("webhooks", "manage")
MANAGE_API = ("api", "manage")
DELETE_TENANT = ("tenant", "delete")
MANAGE_BILLING = ("billing", "manage")

# Placeholders are filled per role with targets of that role's own (see `targets`), so the
# attempts are independent. Order matters where a row changes the team or a target: webhook
# endpoints are revoked before each role creates one again; transfers and leaving come last.
MATRIX = [
    Row("GET", "/dashboard"),
    Row("GET", "/dashboard/activity"),
    Row("GET", "/notes"),
    Row("POST", "/notes", form={"body": "a note by {role}"}),
    Row("DELETE", "/notes/{note}"),
    Row("POST", "/notes/{note}/restore"),  # the note each role just deleted
    Row("POST", "/onboarding/docs"),
    Row("GET", "/settings"),
    Row(
        "POST",
        "/settings",
        ("settings", "edit"),
        {"name": "Renamed by {role}", "timezone": "UTC", "currency": "EUR"},
    ),
    Row("GET", "/settings/danger"),
    Row("GET", "/settings/security"),
    Row("POST", "/settings/security", ("security", "manage"), {"require_passkey": ""}),
    Row("GET", "/settings/team", MANAGE_MEMBERS),
    Row("GET", "/members"),
    Row("GET", "/invitations", MANAGE_MEMBERS),
    Row("POST", "/invitations", MANAGE_MEMBERS, {"email": "new-{role}@example.com"}),
    Row("POST", "/invitations/{invitation}/resend", MANAGE_MEMBERS),
    Row("POST", "/invitations/{invitation}/revoke", MANAGE_MEMBERS),
    Row("POST", "/members/{victim}/role", MANAGE_MEMBERS, {"role": "admin"}),
    Row("POST", "/members/{victim}/remove", MANAGE_MEMBERS),
    Row("GET", "/audit", ("audit", "view")),
    Row("POST", "/account/export"),
    Row("GET", "/account/exports/{export}"),
    Row("GET", "/account/exports/{export}/download"),
    Row("GET", "/jobs"),
    Row("GET", "/jobs/{export}"),
    Row("POST", "/jobs/{export}/cancel", ("jobs", "manage")),
    Row("POST", "/jobs/{export}/retry", ("jobs", "manage")),
    Row("GET", "/settings/webhooks"),
    Row("GET", "/settings/webhooks/deliveries"),
    Row("POST", "/settings/webhooks/{endpoint}/rotate", MANAGE_WEBHOOKS),
    Row("POST", "/settings/webhooks/{endpoint}/test", MANAGE_WEBHOOKS),
    Row("POST", "/settings/webhooks/secrets/{secret}/revoke", MANAGE_WEBHOOKS),
    Row("POST", "/settings/webhooks/{endpoint}/revoke", MANAGE_WEBHOOKS),
    Row("POST", "/settings/webhooks", MANAGE_WEBHOOKS, {"source": "{webhook_source}"}),
    Row("GET", "/settings/api-keys"),
    Row(
        "POST",
        "/settings/api-keys",
        MANAGE_API,
        {"name": "{role}'s", "scope": "read", "expires": "never"},
    ),
    Row("POST", "/settings/api-keys/{api_key}/revoke", MANAGE_API),
    Row("GET", "/settings/outbound-webhooks"),
    Row(
        "POST",
        "/settings/outbound-webhooks",
        MANAGE_WEBHOOKS,
        {"url": "http://127.0.0.1:9/{role}", "events": "member.joined"},
    ),
    Row("POST", "/settings/outbound-webhooks/{outbound}/disable", MANAGE_WEBHOOKS),
    Row("POST", "/settings/outbound-webhooks/{outbound}/enable", MANAGE_WEBHOOKS),
    Row("POST", "/settings/outbound-webhooks/deliveries/{delivery}/replay", MANAGE_WEBHOOKS),
    Row("POST", "/settings/outbound-webhooks/{outbound}/delete", MANAGE_WEBHOOKS),
    Row("GET", "/sync"),
    Row("GET", "/sync/{source}/status"),
    Row("GET", "/sync/{source}/rows"),
    Row("POST", "/sync/{source}/run", ("sync", "run"), {"mode": "incremental"}),
    Row("POST", "/sync/{source}/cancel", ("sync", "run")),
    Row("POST", "/sync/{source}/schedule", ("sync", "manage"), {"schedule": "daily"}),
    Row("GET", "/demo"),
    Row("POST", "/demo/jobs"),
    Row("POST", "/demo/changes"),
    Row("GET", "/settings/billing", ("billing", "view")),
    # Without Stripe keys (as here) checkout and the portal answer 409: not configured.
    Row(
        "POST",
        "/settings/billing/checkout",
        MANAGE_BILLING,
        {"plan": "pro", "interval": "year"},
        ok=409,
    ),
    Row("POST", "/settings/billing/portal", MANAGE_BILLING, ok=409),
    Row("POST", "/settings/billing/dev-plan", MANAGE_BILLING, {"plan": "team", "status": "active"}),
    Row("GET", "/tenant/delete", DELETE_TENANT),
    Row("POST", "/tenant/delete", DELETE_TENANT, {"confirm": "not the name"}, ok=400),
    Row("GET", "/account"),
    Row("GET", "/tenants"),
    Row("POST", "/members/{heir}/transfer", MANAGE_MEMBERS, only=("owner",)),
    Row("POST", "/members/leave"),
]
# A route's own parameter names -> the placeholders MATRIX uses for them.
PLACEHOLDERS = {
    "membership_id": ("victim", "heir"),
    "invitation_id": ("invitation",),
    "job_id": ("export",),
    "note_id": ("note",),
    "endpoint_id": ("endpoint",),
    "secret_id": ("secret",),
    "source_id": ("source",),
    "key_id": ("api_key",),
    "outbound_id": ("outbound",),
    "delivery_id": ("delivery",),
}


@pytest.fixture
def small_demo(monkeypatch):
    """A small demo upstream of this test's own, so the syncs it starts finish quickly."""
    store = DemoStore(count=60)
    spec = dataclasses.replace(DEMO, connect=lambda: in_process_client(store), page_size=50)
    monkeypatch.setitem(SPECS, DEMO.kind, spec)


def permission_table(app, tenant_id: str) -> set[tuple[str, str, str]]:
    with app.state.databases.handle(tenant_id) as db:
        rows = db.q("SELECT role, resource, action FROM core_permissions")
    return {(r["role"], r["resource"], r["action"]) for r in rows}


def reshuffle(app, tenant_id: str) -> None:
    """Turn the table around: every role that had one of these permissions loses it, every
    role that lacked it gains it. (Managing members stays as it is: who may change whose role
    is also a rule about people, `manageable_roles`, which the table does not decide.)"""
    resources = {row.needs for row in MATRIX if row.needs and row.needs != MANAGE_MEMBERS}
    table = permission_table(app, tenant_id)
    with app.state.databases.handle(tenant_id) as db:
        for resource, action in sorted(resources):
            for role in ROLES:
                if (role, resource, action) in table:
                    db.q(
                        """DELETE FROM core_permissions
                           WHERE role = :r AND resource = :res AND action = :a""",
                        r=role,
                        res=resource,
                        a=action,
                    )
                else:
                    db.q(
                        """INSERT INTO core_permissions (id, role, resource, action)
                           VALUES (:id, :r, :res, :a)""",
                        id=new_id(),
                        r=role,
                        res=resource,
                        a=action,
                    )
        db.commit()


def live_endpoint(catalog, tenant: str, source: str) -> str:
    return catalog.row(
        """SELECT id FROM core_webhook_endpoints
           WHERE tenant_id = :t AND source = :s AND revoked_at IS NULL""",
        t=tenant,
        s=source,
    )["id"]


def targets(app, team, client: TestClient, role: str) -> dict[str, str]:
    """Members to act on, an invitation, an export, a note, a webhook endpoint with its secret
    and the workspace's sync source, all for this role alone."""
    catalog, tenant = app.state.catalog, team.tenant
    invitation, _ = invitations.create(
        catalog, tenant, f"invitee-{role}@example.com", "member", user_id(app, EMAILS["owner"])
    )
    catalog.execute(  # sent long ago, so it may be sent again now
        "UPDATE core_invitations SET sent_at = '2000-01-01T00:00:00.000000Z' WHERE id = :id",
        id=invitation,
    )
    assert client.post("/account/export", headers=hx(client)).status_code == 200
    assert client.get("/sync").status_code == 200  # the demo source exists from the first view
    created = webhook_store.create_endpoint(catalog, tenant, WEBHOOK_SOURCE[role])
    if created is None:  # the other role's, for the same source
        created = (live_endpoint(catalog, tenant, WEBHOOK_SOURCE[role]), "")
    endpoint, _ = created
    note = new_id()
    with app.state.databases.handle(tenant) as db:
        export = db.q(
            """SELECT id FROM tenant_jobs WHERE job_type = 'account.export'
               ORDER BY created_at DESC LIMIT 1"""
        )[0]["id"]
        secret, _ = webhook_store.add_secret(db.conn, endpoint)
        db.q(
            """INSERT INTO notes (id, body, author_id, created_at)
               VALUES (:id, 'to delete', :author, :t)""",
            id=note,
            author=user_id(app, EMAILS[role]),
            t=now(),
        )
        source = db.q("SELECT id FROM sync_sources")[0]["id"]
        # an outbound endpoint on a closed loopback port, with one delivery in its log
        outbound_id = outbound.create_endpoint(db, "http://127.0.0.1:9/", ["member.joined"], "")
        outbound.emit(job_manager(app), db, "member.joined", {"email": f"x-{role}@example.com"})
        delivery = db.q("SELECT id FROM outbound_deliveries WHERE endpoint_id = :e", e=outbound_id)[
            0
        ]["id"]
        db.commit()
    api_key, _ = app.state.api_keys.create(
        tenant, f"{role}'s", "read", user_id(app, EMAILS[role]), None
    )
    return {
        "victim": add_member(app, tenant, f"victim-{role}@example.com", "member"),
        "heir": add_member(app, tenant, f"heir-{role}@example.com", "member"),
        "invitation": invitation,
        "export": export,
        "note": note,
        "endpoint": endpoint,
        "secret": secret,
        "webhook_source": WEBHOOK_SOURCE[role],
        "source": source,
        "api_key": api_key,
        "outbound": outbound_id,
        "delivery": delivery,
        "role": role,
    }


@pytest.mark.parametrize("table", ["default", "reshuffled"])
def test_every_route_and_role_gets_what_the_permission_table_says(
    app, client, new_client, small_demo, table
):
    team = make_team(app, client, new_client)
    if table == "reshuffled":
        reshuffle(app, team.tenant)
    granted = permission_table(app, team.tenant)
    ids = {role: targets(app, team, team.client(role), role) for role in ROLES}
    wrong = []
    for row in MATRIX:
        for role in ROLES:
            browser = team.client(role)
            path = row.path.format(**ids[role])
            data = {k: v.format(**ids[role]) for k, v in (row.form or {}).items()}
            response = browser.request(row.method, path, data=data or None, headers=hx(browser))
            expected = row.expected(role, granted)
            if response.status_code != expected or "Traceback" in response.text:
                wrong.append(
                    f"{role} {row.method} {row.path}: {response.status_code}, not {expected}"
                )
    assert not wrong, "\n".join(wrong)


def _templates(path: str) -> set[str]:
    """The MATRIX spellings of a route path."""
    spellings = {path}
    for param, ours in PLACEHOLDERS.items():
        spellings = {s.replace("{" + param + "}", "{" + o + "}") for s in spellings for o in ours}
    return spellings


def test_the_matrix_covers_every_tenant_route(app):
    covered = {(row.method, row.path) for row in MATRIX}
    missing = [
        f"{method} {route.path}"
        for route in app.routes
        if app.state.access.classify(getattr(route, "path", "")) == "tenant"
        for method in sorted(set(route.methods or []) - {"HEAD"})
        if not covered & {(method, t) for t in _templates(route.path)}
    ]
    assert not missing, f"tenant routes missing from MATRIX: {missing}"


def test_the_matrix_names_only_real_routes(app):
    real = {
        (method, t)
        for route in app.routes
        for method in (getattr(route, "methods", None) or [])
        for t in _templates(getattr(route, "path", ""))
    }
    stale = [f"{row.method} {row.path}" for row in MATRIX if (row.method, row.path) not in real]
    assert not stale, f"MATRIX rows that match no route: {stale}"


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
