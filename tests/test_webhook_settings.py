"""The webhook settings section: shown-once secrets, test events, roles, foreign ids."""

from __future__ import annotations

import re
from types import SimpleNamespace

from fasthtml.common import to_xml

from app.routes.webhook_settings import WebhooksPanel
from tests.conftest import dev_sign_in, page_csrf
from tests.test_webhooks import SECRET, counts, make_endpoint, tenant_of


def hx(client) -> dict[str, str]:
    return {"X-CSRF-Token": page_csrf(client, "/settings/webhooks"), "HX-Request": "true"}


def endpoint_id_of(app, tenant_id: str, source: str = "demo") -> str:
    return app.state.catalog.row(
        """SELECT id FROM core_webhook_endpoints
           WHERE tenant_id = :t AND source = :s AND revoked_at IS NULL""",
        t=tenant_id,
        s=source,
    )["id"]


def test_url_and_secret_are_shown_once(app, client):
    dev_sign_in(client, "ada@example.com")
    path, secret = make_endpoint(client)
    token = path.rsplit("/", 1)[1]
    page = client.get("/settings/webhooks").text
    assert secret not in page and token not in page
    assert f"/webhooks/demo/{token[:6]}…" in page  # a hint to tell URLs apart
    tenant = tenant_of(app, "ada@example.com")
    actions = [a["action"] for a in app.state.catalog.recent_audit(tenant)]
    assert "webhook.endpoint_created" in actions


def test_one_live_endpoint_per_source_and_only_known_sources(client):
    dev_sign_in(client, "ada@example.com")
    make_endpoint(client)
    again = client.post("/settings/webhooks", data={"source": "demo"}, headers=hx(client))
    assert again.status_code == 409 and "already an endpoint" in again.text
    unknown = client.post("/settings/webhooks", data={"source": "evil'"}, headers=hx(client))
    assert unknown.status_code == 400 and "Traceback" not in unknown.text


def test_send_test_event_goes_through_the_real_receiver(app, client):
    dev_sign_in(client, "ada@example.com")
    make_endpoint(client)
    tenant = tenant_of(app, "ada@example.com")
    endpoint_id = endpoint_id_of(app, tenant)
    response = client.post(f"/settings/webhooks/{endpoint_id}/test", headers=hx(client))
    assert response.status_code == 200
    assert "Test event sent." in response.text
    assert "demo.ping" in response.text
    assert counts(app, tenant) == {"events": 1, "jobs": 1, "notes": 1}
    deliveries = client.get("/settings/webhooks/deliveries", headers={"HX-Request": "true"}).text
    assert "processed" in deliveries and "hx-trigger" not in deliveries  # nothing left to wait for
    assert "Webhook: Test event from settings" in client.get("/notes").text


def test_the_test_event_needs_a_live_secret(app, client):
    dev_sign_in(client, "ada@example.com")
    _, secret = make_endpoint(client)
    tenant = tenant_of(app, "ada@example.com")
    with app.state.databases.handle(tenant) as db:
        secret_id = db.q("SELECT id FROM webhook_secrets WHERE secret = :s", s=secret)[0]["id"]
    client.post(f"/settings/webhooks/secrets/{secret_id}/revoke", headers=hx(client))
    endpoint_id = endpoint_id_of(app, tenant)
    response = client.post(f"/settings/webhooks/{endpoint_id}/test", headers=hx(client))
    assert response.status_code == 409
    assert "no live secret" in response.text
    assert counts(app, tenant)["events"] == 0


def test_rotating_shows_only_the_new_secret(app, client):
    dev_sign_in(client, "ada@example.com")
    _, old = make_endpoint(client)
    endpoint_id = endpoint_id_of(app, tenant_of(app, "ada@example.com"))
    rotated = client.post(f"/settings/webhooks/{endpoint_id}/rotate", headers=hx(client)).text
    assert SECRET.search(rotated).group(0) != old and old not in rotated
    assert "expires" in rotated and "current" in rotated


def test_members_see_the_section_but_cannot_manage_it(app, client, new_client):
    dev_sign_in(client, "ada@example.com")
    make_endpoint(client)
    tenant = tenant_of(app, "ada@example.com")
    catalog = app.state.catalog
    member = catalog.upsert_user("urn:dev-sign-in", "mia@example.com", "mia@example.com", "", "")
    catalog.execute(
        """INSERT INTO core_memberships (id, user_id, tenant_id, role, created_at)
           VALUES ('m1', :u, :t, 'member', '2025-01-01T00:00:00.000000Z')""",
        u=member,
        t=tenant,
    )
    mia = new_client()
    dev_sign_in(mia, "mia@example.com")
    page = mia.get("/settings/webhooks").text
    assert "demo" in page and "Rotate secret" not in page and "Create endpoint" not in page
    endpoint_id = endpoint_id_of(app, tenant)
    assert mia.post(f"/settings/webhooks/{endpoint_id}/rotate", headers=hx(mia)).status_code == 403
    created = mia.post("/settings/webhooks", data={"source": "github"}, headers=hx(mia))
    assert created.status_code == 403


def test_another_tenants_endpoint_and_secret_ids_are_not_found(app, client, new_client):
    dev_sign_in(client, "ada@example.com")
    make_endpoint(client)
    bob = new_client()
    dev_sign_in(bob, "bob@example.com")
    make_endpoint(bob)
    b_tenant = tenant_of(app, "bob@example.com")
    b_endpoint = endpoint_id_of(app, b_tenant)

    def b_state():
        with app.state.databases.handle(b_tenant) as db:
            secrets = db.q("SELECT * FROM webhook_secrets ORDER BY id")
        endpoint = app.state.catalog.row(
            "SELECT * FROM core_webhook_endpoints WHERE id = :id", id=b_endpoint
        )
        return secrets, endpoint, counts(app, b_tenant)

    before = b_state()
    b_secret = before[0][0]["id"]
    headers = hx(client)
    for path in (
        f"/settings/webhooks/{b_endpoint}/rotate",
        f"/settings/webhooks/{b_endpoint}/revoke",
        f"/settings/webhooks/{b_endpoint}/test",
        f"/settings/webhooks/secrets/{b_secret}/revoke",
    ):
        assert client.post(path, headers=headers).status_code == 404, path
    assert b_state() == before


def test_the_panel_renders_for_the_settings_page(app, client):
    dev_sign_in(client, "ada@example.com")
    make_endpoint(client)
    tenant = tenant_of(app, "ada@example.com")
    with app.state.databases.handle(tenant) as db:
        auth = SimpleNamespace(tenant_id=tenant, role="owner", db=db)
        html = to_xml(WebhooksPanel(SimpleNamespace(app=app), auth))
    assert 'id="webhooks-panel"' in html and "Send test event" in html


def test_the_shown_secret_stays_until_dismissed_and_has_copy_buttons(app, client):
    """Issue 16 item 14: the one-time secret vanished with the next action (Send test event,
    Rotate, Revoke), which re-renders the panel. It now lives outside the panel, arrives out
    of band, and only a new secret or the person's Dismiss replaces it."""
    dev_sign_in(client, "ada@example.com")
    page = client.get("/settings/webhooks").text
    assert re.search(r'<div id="shown-once"></div>', page)  # its place, outside the panel
    assert page.index('id="shown-once"') < page.index('id="webhooks-panel"')
    assert '<script src="/static/copy.js" defer></script>' in page
    created = client.post("/settings/webhooks", data={"source": "demo"}, headers=hx(client)).text
    shown = re.search(r'<article[^>]*id="shown-once"[^>]*>.*?</article>', created, re.S).group(0)
    assert 'hx-swap-oob="true"' in shown
    secret = SECRET.search(shown).group(0)
    assert secret not in created.replace(shown, "")  # nowhere else, the panel included
    assert re.search(r'<code id="shown-once-secret">' + secret + "</code>", shown)
    assert 'data-copy="shown-once-secret"' in shown and 'data-copy="shown-once-url"' in shown
    assert 'data-dismiss="shown-once"' in shown and "<script" not in shown  # no inline script
    endpoint_id = endpoint_id_of(app, tenant_of(app, "ada@example.com"))
    base = f"/settings/webhooks/{endpoint_id}"
    tested = client.post(f"{base}/test", headers=hx(client))
    assert tested.status_code == 200 and 'id="shown-once"' not in tested.text  # left alone
    rotated = client.post(f"{base}/rotate", headers=hx(client)).text
    new = re.search(r'<article[^>]*id="shown-once"[^>]*>.*?</article>', rotated, re.S).group(0)
    assert SECRET.search(new).group(0) != secret and 'hx-swap-oob="true"' in new
    revoked = client.post(f"{base}/revoke", headers=hx(client))
    assert revoked.status_code == 200 and 'id="shown-once"' not in revoked.text
    script = client.get("/static/copy.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "navigator.clipboard" in script.text
