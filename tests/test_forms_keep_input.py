"""Issue 16 item 17: a form that answers with an error still holds what the person typed,
so they can correct it instead of typing it all again. Every form of the app that takes
typed text is tried with a value it refuses; the answer must show the error and the value."""

from __future__ import annotations

import pytest

from tests.conftest import dev_sign_in
from tests.support.html import csrf_from, field_values
from tests.test_team import hx

LONG_NOTE = "A thought that went on " + "and on " * 300  # over the 2000 characters allowed


@pytest.fixture
def signed_in(client):
    dev_sign_in(client, "ada@example.com", "Ada")
    return client


def test_the_note_form(signed_in):
    response = signed_in.post("/notes", data={"body": LONG_NOTE}, headers=hx(signed_in))
    assert "Keep it under 2000 characters." in response.text
    assert field_values(response.text)["body"] == LONG_NOTE


def test_the_settings_form(signed_in):
    form = {"name": "Ada & co " + "x" * 80, "timezone": "Europe/Paris", "currency": "EUR"}
    response = signed_in.post("/settings", data=form, headers=hx(signed_in))
    assert "80 characters or fewer" in response.text
    assert field_values(response.text)["name"] == form["name"]
    assert 'value="Europe/Paris" selected' in response.text or (
        "<option selected>Europe/Paris</option>" in response.text
    )


def test_the_invitation_form(signed_in):
    typed = "ivan@@example.com"
    response = signed_in.post(
        "/invitations", data={"email": typed, "role": "admin"}, headers=hx(signed_in)
    )
    assert "Enter one email address" in response.text
    assert field_values(response.text)["email"] == typed
    assert '<option value="admin" selected>' in response.text


def test_the_new_workspace_form(signed_in):
    typed = "  "
    page = signed_in.get("/tenants").text
    response = signed_in.post("/tenants", data={"name": typed, "csrf_token": csrf_from(page)})
    assert "Give your workspace a name." in response.text
    long_name = "Side project " + "y" * 70
    response = signed_in.post("/tenants", data={"name": long_name, "csrf_token": csrf_from(page)})
    assert "80 characters or fewer" in response.text
    assert field_values(response.text)["name"] == long_name


@pytest.mark.parametrize(
    ("page", "action", "typed"),
    [
        ("/tenant/delete", "/tenant/delete", "Adas workspace"),  # not the workspace's name
        ("/account", "/account/delete", "ada@example.org"),  # not the account's email
    ],
)
def test_the_delete_confirmations(signed_in, page, action, typed):
    token = csrf_from(signed_in.get(page).text)
    response = signed_in.post(action, data={"confirm": typed, "csrf_token": token})
    assert response.status_code == 400 and "exactly to confirm" in response.text
    assert field_values(response.text)["confirm"] == typed


@pytest.mark.parametrize("typed", ["ada@", "ada at example.com", "<b>ada</b>@example.com"])
def test_the_development_sign_in_form(client, typed):
    page = client.get("/login").text
    response = client.post(
        "/login/dev", data={"email": typed, "name": "Ada L.", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 400 and "Enter a valid email address" in response.text
    assert field_values(response.text)["email"] == typed
    assert field_values(response.text)["name"] == "Ada L."


def test_the_audit_filter_form(signed_in):
    response = signed_in.get("/audit", params={"since": "yesterday", "until": "2026-01-31"})
    assert response.status_code == 400 and "must look like 2025-01-31" in response.text
    shown = field_values(response.text)
    assert (shown["since"], shown["until"]) == ("yesterday", "2026-01-31")
