"""The audit trail: security-relevant actions are recorded with actor, tenant, time, IP and
details; owners and admins read them with filters and pages, and only their own tenant's."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import dev_sign_in
from tests.support.html import field_values
from tests.test_team import EMAILS, hx, make_team, membership_id, user_id


def entries(app, tenant_id: str) -> list[dict]:
    return app.state.catalog.rows(
        "SELECT * FROM sys_audit_logs WHERE tenant_id = :t ORDER BY at, id", t=tenant_id
    )


def test_team_actions_are_recorded_with_who_where_and_what(app, client, new_client):
    team = make_team(app, client, new_client)
    owner = hx(team.owner)
    team.owner.post(
        "/invitations", data={"email": "ivan@example.com", "role": "admin"}, headers=owner
    )
    invitation = app.state.catalog.row("SELECT id FROM core_invitations")["id"]
    team.owner.post(f"/invitations/{invitation}/revoke", headers=owner)
    mia = membership_id(app, EMAILS["member"], team.tenant)
    team.owner.post(f"/members/{mia}/role", data={"role": "admin"}, headers=owner)
    team.owner.post(f"/members/{mia}/remove", headers=owner)
    team.admin.post("/account/export", headers=hx(team.admin))
    team.owner.post(
        "/settings", data={"name": "Renamed", "timezone": "UTC", "currency": "USD"}, headers=owner
    )

    recorded = {e["action"]: e for e in entries(app, team.tenant)}
    olive, adam = user_id(app, EMAILS["owner"]), user_id(app, EMAILS["admin"])
    expected = {
        "invitation.sent": (olive, {"email": "ivan@example.com", "role": "admin"}),
        "invitation.revoked": (olive, {"email": "ivan@example.com"}),
        "member.role_changed": (olive, {"email": EMAILS["member"], "after": "admin"}),
        "member.removed": (olive, {"email": EMAILS["member"]}),
        "account.export_requested": (adam, {"tenant_tables": False}),
        "settings.changed": (olive, {"name": "Renamed"}),
    }
    for action, (actor, details) in expected.items():
        entry = recorded[action]
        assert entry["actor_user_id"] == actor, action
        assert entry["ip"] == "testclient" and re.fullmatch(r"\d{4}-\d\d-\d\dT.*Z", entry["at"])
        assert details.items() <= json.loads(entry["details"]).items(), action


def test_owners_and_admins_read_the_trail_with_filters(app, client, new_client):
    team = make_team(app, client, new_client)
    team.owner.post("/invitations", data={"email": "ivan@example.com"}, headers=hx(team.owner))
    team.admin.post("/invitations", data={"email": "ivy@example.com"}, headers=hx(team.admin))
    page = team.admin.get("/audit").text
    assert "invitation.sent" in page and "olive@example.com" in page and "testclient" in page
    only_invites = team.admin.get("/audit", params={"action": "invitation.sent"}).text
    assert "invitation.sent" in only_invites.split("<tbody>")[1]
    assert "auth.sign_in" not in only_invites.split("<tbody>")[1]
    adam = user_id(app, EMAILS["admin"])
    by_adam = team.admin.get("/audit", params={"actor": adam}).text.split("<tbody>")[1]
    assert "olive@example.com" not in by_adam and "ivy@example.com" in by_adam
    past = team.admin.get("/audit", params={"until": "2001-01-01"}).text
    assert "No entries match." in past
    today = team.admin.get("/audit", params={"since": "2001-01-01", "until": "2999-12-31"}).text
    assert "invitation.sent" in today


@pytest.mark.parametrize(
    "params",
    [
        {"action": "made.up"},
        {"action": "' OR '1'='1"},
        {"actor": "someone-else"},
        {"since": "yesterday"},
        {"until": "2025-13-45"},
        {"page": "-1"},
        {"page": "x"},
        {"page": "9" * 50},
    ],
)
def test_bad_filters_are_refused_clearly(app, client, params):
    dev_sign_in(client, "olive@example.com")
    response = client.get("/audit", params=params)
    assert response.status_code == 400 and "Traceback" not in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"since": "9999-12-31", "until": "9999-12-31"},  # issue 16 item 4: was OverflowError
        {"until": "9999-12-31"},
        {"since": "0001-01-01", "until": "9999-12-31"},
        {"since": "0001-01-01"},
    ],
)
def test_the_calendars_ends_are_dates_like_any_other(app, client, params):
    dev_sign_in(client, "olive@example.com")
    response = client.get("/audit", params=params)
    assert response.status_code == 200, response.text
    everything = "since" not in params or params["since"] == "0001-01-01"
    assert ("No entries match." not in response.text) == everything
    shown = field_values(response.text)  # the filter form keeps what was asked
    assert (shown["since"], shown["until"]) == (params.get("since", ""), params.get("until", ""))


def test_paging_keeps_the_filters(app, client):
    dev_sign_in(client, "olive@example.com")
    tenant = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    olive = user_id(app, "olive@example.com")
    for n in range(120):
        app.state.catalog.audit("demo.event", actor=olive, tenant=tenant, n=n)
    first = client.get("/audit", params={"action": "demo.event"}).text
    assert "Page 1 of 3" in first and first.count("demo.event") >= 50
    older = re.search(r'href="(/audit\?[^"]+page=2)"', first).group(1).replace("&amp;", "&")
    assert "action=demo.event" in older
    second = client.get(older).text
    assert "Page 2 of 3" in second and "n: 69" in second  # newest first: 119..70, then 69..20
    beyond = client.get("/audit", params={"action": "demo.event", "page": "99"}).text
    assert "Page 3 of 3" in beyond and "n: 0" in beyond


def test_another_tenants_entries_never_show(app, client, new_client):
    dev_sign_in(client, "olive@example.com")
    bob = new_client()
    dev_sign_in(bob, "bob@example.com")
    bob.post("/invitations", data={"email": "secret-contact@example.com"}, headers=hx(bob))
    page = client.get("/audit").text
    assert "secret-contact" not in page and "bob@example.com" not in page
    bobs_id = user_id(app, "bob@example.com")
    assert client.get("/audit", params={"actor": bobs_id}).status_code == 400
