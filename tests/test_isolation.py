"""Isolation: a member of tenant A can never see, change or detect tenant B's data.

Every tenant route, and every signed-in route that takes an id, is tried from A with B's ids
(in the path, the query or the form) and must answer 404 and leave B as it was. A new route
needs a probe in PROBES: `test_every_route_that_needs_a_probe_has_one` fails until it has one,
and `test_every_probe_names_a_real_route` fails for a probe whose route is gone.
"""

from __future__ import annotations

import dataclasses

import pytest

from app.demo.graphql import DemoStore
from app.demo.sync import DEMO, in_process_client
from app.lib.email import outbox_for
from app.syncs.sources import SPECS
from app.web.access import ACCESS_CLASSES
from app.webhooks import outbound
from app.work.jobs import job_manager
from tenants import user_sessions
from tenants import webhooks as webhook_store
from tests.conftest import dev_sign_in, page_csrf
from tests.test_account_lifecycle import export
from tests.test_team import add_member, hx, own_tenant

# (method, path template, form). The placeholders are B's: {tenant}, {note}, {member} (a
# membership), {invitation}, {job} (B's export), {endpoint}, {secret}, {source} (a sync
# source) and {message} (an email in the development outbox from B's workspace).
PROBES = [
    ("GET", "/dashboard?tenant_id={tenant}", None),
    ("GET", "/notes?tenant_id={tenant}", None),
    ("POST", "/notes", {"tenant_id": "{tenant}", "body": "pwned"}),
    ("DELETE", "/notes/{note}", None),
    ("DELETE", "/notes/{note}?tenant_id={tenant}", None),
    ("POST", "/notes/{note}/restore", None),
    ("POST", "/onboarding/docs", {"tenant_id": "{tenant}"}),
    ("GET", "/settings?tenant_id={tenant}", None),
    (
        "POST",
        "/settings",
        {"tenant_id": "{tenant}", "name": "pwned", "timezone": "UTC", "currency": "USD"},
    ),
    ("GET", "/dashboard/activity?tenant_id={tenant}", None),
    ("GET", "/settings/danger?tenant_id={tenant}", None),
    ("GET", "/settings/team?tenant_id={tenant}", None),
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
    ("GET", "/account/exports/{job}", None),
    ("GET", "/account/exports/{job}/download", None),
    ("GET", "/tenant/delete?tenant_id={tenant}", None),
    ("POST", "/tenant/delete", {"tenant_id": "{tenant}", "confirm": "bob's workspace"}),
    ("GET", "/jobs?tenant_id={tenant}", None),
    ("GET", "/jobs/{job}", None),
    ("POST", "/jobs/{job}/cancel", None),
    ("POST", "/jobs/{job}/retry", None),
    ("GET", "/settings/webhooks?tenant_id={tenant}", None),
    ("GET", "/settings/webhooks/deliveries?tenant_id={tenant}", None),
    ("POST", "/settings/webhooks", {"source": "github", "tenant_id": "{tenant}"}),
    ("POST", "/settings/webhooks/{endpoint}/rotate", None),
    ("POST", "/settings/webhooks/{endpoint}/test", None),
    ("POST", "/settings/webhooks/{endpoint}/revoke", None),
    ("POST", "/settings/webhooks/secrets/{secret}/revoke", None),
    ("GET", "/settings/api-keys?tenant_id={tenant}", None),
    (
        "POST",
        "/settings/api-keys",
        {"tenant_id": "{tenant}", "name": "pwned", "scope": "write", "expires": "never"},
    ),
    ("POST", "/settings/api-keys/{api_key}/revoke", None),
    ("GET", "/settings/outbound-webhooks?tenant_id={tenant}", None),
    (
        "POST",
        "/settings/outbound-webhooks",
        {"tenant_id": "{tenant}", "url": "http://127.0.0.1:9/", "events": "note.created"},
    ),
    ("POST", "/settings/outbound-webhooks/{outbound}/disable", None),
    ("POST", "/settings/outbound-webhooks/{outbound}/enable", None),
    ("POST", "/settings/outbound-webhooks/{outbound}/delete", None),
    ("POST", "/settings/outbound-webhooks/deliveries/{delivery}/replay", None),
    ("GET", "/sync?tenant_id={tenant}", None),
    ("GET", "/sync/{source}/status", None),
    ("GET", "/sync/{source}/rows?page=1", None),
    ("POST", "/sync/{source}/run", {"mode": "full"}),
    ("POST", "/sync/{source}/cancel", None),
    ("POST", "/sync/{source}/schedule", {"schedule": "daily"}),
    ("GET", "/settings/billing?tenant_id={tenant}", None),
    (
        "POST",
        "/settings/billing/checkout",
        {"tenant_id": "{tenant}", "plan": "pro", "interval": "month"},
    ),
    ("POST", "/settings/billing/portal", {"tenant_id": "{tenant}"}),
    (
        "POST",
        "/settings/billing/dev-plan",
        {"tenant_id": "{tenant}", "plan": "free", "status": "active"},
    ),
    ("GET", "/demo?tenant_id={tenant}", None),
    ("POST", "/demo/jobs", {"tenant_id": "{tenant}"}),
    ("POST", "/demo/changes", {"tenant_id": "{tenant}"}),
    # Signed-in routes that take an id: A is no member of B, and B's mail is not A's.
    ("POST", "/tenants/{tenant}/switch", None),
    ("POST", "/invitations/{invitation}/accept", None),
    ("GET", "/dev/outbox/{message}", None),
    ("GET", "/dev/outbox/{message}/html", None),
    # Issue 13: the workspace's sign-in rule, and a person's own passkeys and sessions.
    ("GET", "/settings/security?tenant_id={tenant}", None),
    ("POST", "/settings/security", {"tenant_id": "{tenant}", "require_passkey": "on"}),
    ("POST", "/account/passkeys/{passkey}/rename", {"name": "pwned"}),
    ("POST", "/account/passkeys/{passkey}/remove", None),
    ("POST", "/account/sessions/{session}/revoke", None),
]
# A route's parameter names -> the placeholders PROBES use for them.
PLACEHOLDERS = {
    "tenant_id": "tenant",
    "note_id": "note",
    "membership_id": "member",
    "invitation_id": "invitation",
    "token": "invitation",
    "job_id": "job",
    "endpoint_id": "endpoint",
    "secret_id": "secret",
    "source_id": "source",
    "message_id": "message",
    "key_id": "api_key",
    "outbound_id": "outbound",
    "delivery_id": "delivery",
    "passkey_id": "passkey",
    "session_id": "session",
}


@pytest.fixture
def small_demo(monkeypatch):
    store = DemoStore(count=40)
    spec = dataclasses.replace(DEMO, connect=lambda: in_process_client(store), page_size=50)
    monkeypatch.setitem(SPECS, DEMO.kind, spec)


@pytest.fixture
def two_tenants(app, client, new_client, small_demo) -> dict[str, str]:
    """Ada signed in to her workspace (A); Bob's workspace (B) with one of everything."""
    dev_sign_in(client, "ada@example.com")
    bob = new_client()
    dev_sign_in(bob, "bob@example.com")
    b = own_tenant(app, "bob@example.com")
    bob.post("/notes", data={"body": "bob's secret"}, headers=hx(bob))
    bob.post("/invitations", data={"email": "ivan@example.com"}, headers=hx(bob))
    catalog = app.state.catalog
    catalog.execute("UPDATE core_invitations SET sent_at = '2000-01-01T00:00:00.000000Z'")
    assert bob.get("/sync").status_code == 200  # makes B's demo source
    endpoint, _ = webhook_store.create_endpoint(catalog, b, "demo")
    with app.state.databases.handle(b) as db:
        secret, _ = webhook_store.add_secret(db.conn, endpoint)
        note = db.q("SELECT id FROM notes")[0]["id"]
        source = db.q("SELECT id FROM sync_sources")[0]["id"]
        outbound_id = outbound.create_endpoint(db, "http://127.0.0.1:9/", ["note.created"], "")
        outbound.emit(job_manager(app), db, "note.created", {"body": "bob's secret"})
        delivery = db.q("SELECT id FROM outbound_deliveries")[0]["id"]
        # in the log as failed, before its job could run: nothing moves during the probes
        db.q("UPDATE outbound_deliveries SET status = 'failed' WHERE id = :id", id=delivery)
        db.q("UPDATE tenant_jobs SET status = 'failed' WHERE job_type = 'webhooks.deliver'")
        db.commit()
    bob_id = catalog.row("SELECT id FROM core_users WHERE email = 'bob@example.com'")["id"]
    api_key, _ = app.state.api_keys.create(b, "bob's key", "write", bob_id, None)
    outbox = outbox_for(app.state.settings)
    [message] = [i for i in outbox.ids() if "ivan@example.com" in outbox.get(i).to]
    bobs = catalog.row("SELECT id FROM core_users WHERE email = 'bob@example.com'")["id"]
    catalog.execute(
        """INSERT INTO core_passkeys (id, user_id, credential_id, public_key, name, created_at)
           VALUES ('bobs-passkey-0001', :u, 'Y3JlZA', 'a2V5', 'Bob''s phone', :t)""",
        u=bobs,
        t="2026-01-01T00:00:00.000000Z",
    )
    [bobs_session] = user_sessions.live_sessions(catalog, bobs)
    return {
        "tenant": b,
        "note": note,
        "member": add_member(app, b, "bea@example.com", "member"),
        "invitation": catalog.row("SELECT id FROM core_invitations WHERE tenant_id = :t", t=b)[
            "id"
        ],
        "job": export(app, bob, b),
        "endpoint": endpoint,
        "secret": secret,
        "source": source,
        "message": message,
        "api_key": api_key,
        "outbound": outbound_id,
        "delivery": delivery,
        "passkey": "bobs-passkey-0001",
        "session": bobs_session["public_id"],
    }


def snapshot(app, tenant_id: str) -> dict:
    catalog = app.state.catalog
    with app.state.databases.handle(tenant_id) as db:
        tenant_side = {
            table: db.q(f"SELECT * FROM {table} ORDER BY 1")
            for table in (
                "notes",
                "onboarding_steps",
                "core_settings",
                "core_tenant_users",
                "core_permissions",
                "tenant_jobs",
                "webhook_secrets",
                "webhook_events",
                "sync_sources",
                "sync_state",
                "demo_orders",
                "outbound_endpoints",
            )
        }
        tenant_side["outbound_deliveries"] = db.q("SELECT * FROM outbound_deliveries ORDER BY id")
    return {
        **tenant_side,
        "tenant": catalog.tenant(tenant_id),
        "members": catalog.rows(
            "SELECT id, user_id, role FROM core_memberships WHERE tenant_id = :t ORDER BY id",
            t=tenant_id,
        ),
        "invitations": catalog.rows(
            "SELECT * FROM core_invitations WHERE tenant_id = :t ORDER BY id", t=tenant_id
        ),
        "api_keys": catalog.rows(
            "SELECT id, name, scope, revoked_at FROM core_api_keys WHERE tenant_id = :t",
            t=tenant_id,
        ),
        "endpoints": catalog.rows(
            "SELECT * FROM core_webhook_endpoints WHERE tenant_id = :t ORDER BY id", t=tenant_id
        ),
        "billing": catalog.rows(
            "SELECT * FROM core_subscriptions WHERE tenant_id = :t ORDER BY id", t=tenant_id
        )
        + catalog.rows("SELECT * FROM core_invoices WHERE tenant_id = :t ORDER BY id", t=tenant_id),
        "passkeys": catalog.rows("SELECT * FROM core_passkeys ORDER BY id"),
        "sessions": catalog.rows(
            "SELECT id_hash, revoked_at FROM core_sessions WHERE tenant_id = :t ORDER BY 1",
            t=tenant_id,
        ),
    }


def test_foreign_ids_get_404_and_change_nothing(app, client, two_tenants):
    before = snapshot(app, two_tenants["tenant"])
    token = page_csrf(client)
    answered = []
    for method, template, form in PROBES:
        path = template.format(**two_tenants)
        data = {k: v.format(**two_tenants) for k, v in (form or {}).items()}
        response = client.request(method, path, data=data or None, headers={"X-CSRF-Token": token})
        if response.status_code != 404 or "bob" in response.text.lower():
            answered.append(f"{method} {template}: {response.status_code}")
    assert not answered, f"answered with B's ids: {answered}"
    assert snapshot(app, two_tenants["tenant"]) == before
    memberships = app.state.catalog.memberships
    ada = app.state.catalog.row("SELECT id FROM core_users WHERE email = 'ada@example.com'")
    assert [m["id"] for m in memberships(ada["id"])] == [own_tenant(app, "ada@example.com")]


def _as_placeholders(path: str) -> str:
    for param, placeholder in PLACEHOLDERS.items():
        path = path.replace("{" + param + "}", "{" + placeholder + "}")
    return path


def needs_probe(app, route) -> bool:
    """Tenant routes (and unclassified ones, which the guard treats as tenant routes), and
    signed-in routes that take an id."""
    if not getattr(route, "methods", None):
        return False  # the /static mount
    access = app.state.access.classify(route.path)
    return access in ("tenant", None) or (access == "signed_in" and "{" in route.path)


def test_every_route_that_needs_a_probe_has_one(app):
    probed = {(method, template.split("?")[0]) for method, template, _ in PROBES}
    missing = [
        f"{method} {route.path}"
        for route in app.routes
        if needs_probe(app, route)
        for method in sorted(set(route.methods) - {"HEAD"})
        if (method, _as_placeholders(route.path)) not in probed
    ]
    assert not missing, f"routes with no isolation probe: {missing}"


def test_every_probe_names_a_real_route(app):
    real = {
        (method, _as_placeholders(route.path))
        for route in app.routes
        for method in (getattr(route, "methods", None) or [])
    }
    stale = [
        f"{method} {template}"
        for method, template, _ in PROBES
        if (method, template.split("?")[0]) not in real
    ]
    assert not stale, f"probes that match no route: {stale}"


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


def test_a_new_tenant_route_without_a_probe_is_caught(app):
    @app.route("/projects/{project_id}")
    def project(project_id: str):
        return project_id

    with pytest.raises(AssertionError, match="projects"):
        test_every_route_that_needs_a_probe_has_one(app)
