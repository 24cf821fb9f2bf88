"""The settings form: allow-listed fields, inline errors, nothing changes unless all valid."""

import html
import re

import pytest

from app.ui.components import SETTINGS_TABS
from tenants.names import NAME_MAX
from tests.conftest import dev_sign_in, page_csrf
from tests.support.html import field_values


@pytest.fixture
def signed_in(app, client):
    dev_sign_in(client, "ada@example.com")
    tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    return {"X-CSRF-Token": page_csrf(client), "HX-Request": "true"}, tenant_id


def current(app, tenant_id):
    with app.state.databases.handle(tenant_id) as db:
        row = db.q("SELECT timezone, currency FROM core_settings")[0]
    return app.state.catalog.tenant(tenant_id)["name"], row["timezone"], row["currency"]


def test_valid_change_is_saved_audited_and_toasted(app, client, signed_in):
    headers, tenant_id = signed_in
    form = {"name": "Acme <Labs>", "timezone": "Europe/Paris", "currency": "EUR"}
    response = client.post("/settings", data=form, headers=headers)
    assert response.status_code == 200
    assert "Settings saved." in response.text and "toast" in response.text
    assert current(app, tenant_id) == ("Acme <Labs>", "Europe/Paris", "EUR")
    assert "Acme &lt;Labs&gt;" in client.get("/dashboard").text
    audit = app.state.catalog.row(
        "SELECT action, actor_user_id FROM sys_audit_logs WHERE action = 'settings.changed'"
    )
    assert audit is not None


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "", "timezone": "UTC", "currency": "USD"}, "Give your workspace a name."),
        ({"name": "x" * 81, "timezone": "UTC", "currency": "USD"}, "80 characters or fewer"),
        ({"name": "ok", "timezone": "Mars/Olympus", "currency": "USD"}, "Choose a timezone"),
        (
            {"name": "ok", "timezone": "UTC", "currency": "usd'; DROP TABLE core_settings;--"},
            "Choose a currency",
        ),
        ({"name": "ok"}, "Choose a timezone"),
    ],
)
def test_bad_input_is_shown_inline_and_changes_nothing(app, client, signed_in, form, message):
    headers, tenant_id = signed_in
    before = current(app, tenant_id)
    response = client.post("/settings", data=form, headers=headers)
    assert response.status_code == 200
    assert message in response.text and 'aria-invalid="true"' in response.text
    assert current(app, tenant_id) == before


def test_extra_fields_are_ignored(app, client, signed_in):
    headers, tenant_id = signed_in
    before = app.state.catalog.tenant(tenant_id)["plan_tier"]  # a new workspace's trial plan
    form = {
        "name": "n",
        "timezone": "UTC",
        "currency": "USD",
        "plan_tier": "enterprise",
        "role": "owner",
        "status": "active",
        "id": "2",
    }
    assert client.post("/settings", data=form, headers=headers).status_code == 200
    tenant = app.state.catalog.tenant(tenant_id)
    assert tenant["plan_tier"] == before != "enterprise"
    with app.state.databases.handle(tenant_id) as db:
        assert db.q("SELECT count(*) AS n FROM core_settings") == [{"n": 1}]


def test_members_cannot_change_settings(app, client, signed_in):
    headers, tenant_id = signed_in
    app.state.catalog.execute("UPDATE core_memberships SET role = 'member'")
    page = client.get("/settings").text
    assert "Your role cannot change these" in page and "disabled" in page
    before = current(app, tenant_id)
    response = client.post(
        "/settings", data={"name": "x", "timezone": "UTC", "currency": "USD"}, headers=headers
    )
    assert response.status_code == 403
    assert current(app, tenant_id) == before


@pytest.mark.parametrize("length", [1, 68, 69, 100])
def test_the_generated_workspace_name_always_fits_the_settings_form(app, client, length):
    """Issue 16 item 16: a display name of 69+ characters made a workspace name over the
    limit, after which saving the settings always failed, even for the timezone alone."""
    name = "Bartholomew-" + "x" * (length - 12) if length > 12 else "B" * length
    dev_sign_in(client, "long@example.com", name)
    tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    generated = app.state.catalog.tenant(tenant_id)["name"]
    assert 0 < len(generated) <= NAME_MAX and generated.endswith("'s workspace")
    assert generated.startswith(name[:40])
    shown = field_values(client.get("/settings").text)["name"]
    assert shown == generated
    headers = {"X-CSRF-Token": page_csrf(client), "HX-Request": "true"}
    form = {"name": shown, "timezone": "Europe/Paris", "currency": "USD"}
    saved = client.post("/settings", data=form, headers=headers)
    assert "Settings saved." in saved.text, saved.text
    assert current(app, tenant_id) == (generated, "Europe/Paris", "USD")


def test_a_rename_updates_the_switcher_and_the_title_in_place(app, client, signed_in):
    """Issue 16 item 18: the answer to a rename carries the new switcher (out of band) and
    title, so the page shows the new name without a reload (htmx swaps both)."""
    headers, tenant_id = signed_in
    title = re.search(
        r"<title>Settings · (.*?) · FastHTML SaaS</title>", client.get("/settings").text
    )
    assert html.unescape(title.group(1)) == app.state.catalog.tenant(tenant_id)["name"]
    form = {"name": "Acme <Labs>", "timezone": "UTC", "currency": "USD"}
    saved = client.post("/settings", data=form, headers=headers).text
    assert "<title>Settings · Acme &lt;Labs&gt; · FastHTML SaaS</title>" in saved
    switcher = re.search(r'<details[^>]*id="tenant-switcher"[^>]*>.*?</details>', saved, re.S)
    assert switcher and 'hx-swap-oob="true"' in switcher.group(0)
    summary = re.search(r"<summary[^>]*>.*?</summary>", switcher.group(0), re.S).group(0)
    assert "<strong>Acme &lt;Labs&gt;</strong>" in summary  # the new name, escaped
    refused = client.post("/settings", data={**form, "name": ""}, headers=headers).text
    assert "tenant-switcher" not in refused and "<title>" not in refused  # nothing was renamed


def test_the_settings_tabs_show_only_what_the_role_may_open(app, client, new_client):
    from tests.test_team import make_team

    team = make_team(app, client, new_client)
    for role, hidden in (("owner", set()), ("admin", set()), ("member", {"Team", "Billing"})):
        page = team.client(role).get("/settings")
        assert page.status_code == 200
        for label, path, _ in SETTINGS_TABS:
            shown = f'href="{path}"' in page.text
            assert shown is (label not in hidden), (role, label)
            if shown:  # every tab a role sees opens for it
                assert team.client(role).get(path).status_code == 200, (role, path)
