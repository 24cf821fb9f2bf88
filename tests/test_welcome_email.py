"""Issue 16 item 23: a person's first sign-up sends the welcome email, as a background job
(never on the request path), once; later sign-ins send none."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from app.lib.email import outbox_for
from tests.conftest import dev_sign_in
from tests.support.smtp import closed_port
from tests.test_email_outbox import smtp_env
from tests.test_team import LINK, hx


def welcomes(app, to: str) -> list:
    outbox = outbox_for(app.state.settings)
    found = [outbox.get(i) for i in outbox.ids()]
    return [m for m in found if m.to == to and m.subject.startswith("Welcome to")]


def welcome_jobs(app) -> list[dict]:
    return app.state.catalog.rows(
        "SELECT status, payload FROM sys_jobs WHERE job_type = 'email.send'"
        " AND payload LIKE '%\"welcome\"%'"
    )


def test_the_first_sign_up_sends_the_welcome_once(app, client, new_client):
    dev_sign_in(client, "ada@example.com", "Ada")
    [message] = welcomes(app, "ada@example.com")
    assert message.subject == "Welcome to FastHTML SaaS, Ada"
    assert "Your workspace **Ada's workspace** is set up" in message.text
    assert f"{app.state.settings.base_url}/dashboard" in message.text
    [job] = welcome_jobs(app)
    assert job["status"] == "completed"  # delivered by the job system
    again = new_client()
    dev_sign_in(again, "ada@example.com", "Ada")  # a second sign-in, another browser
    dev_sign_in(client, "ada@example.com", "Ada")
    assert len(welcomes(app, "ada@example.com")) == 1 and len(welcome_jobs(app)) == 1


def test_an_invitee_is_welcomed_to_the_workspace_they_were_invited_to(app, client, new_client):
    dev_sign_in(client, "olive@example.com", "Olive")
    client.post("/invitations", data={"email": "ivan@example.com"}, headers=hx(client))
    outbox = outbox_for(app.state.settings)
    invitation = next(outbox.get(i) for i in outbox.ids() if outbox.get(i).to == "ivan@example.com")
    ivan = new_client()
    ivan.get(LINK.search(invitation.text).group(1))  # the link, then sign-up
    dev_sign_in_to(ivan, "ivan@example.com", "Ivan")
    [message] = welcomes(app, "ivan@example.com")
    assert "**Olive's workspace**" in message.text


def dev_sign_in_to(client: TestClient, email: str, name: str) -> None:
    """The development sign-in from wherever the person was sent (here: an invitation)."""
    from tests.support.html import csrf_from

    response = client.post(
        "/login/dev",
        data={"email": email, "name": name, "csrf_token": csrf_from(client.get("/login").text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def smtp_down_app(make_settings):
    from app.factory import create_app

    app = create_app(make_settings(APP_ENV="development", **smtp_env(closed_port())))
    yield app
    app.state.databases.dispose()
    app.state.catalog.dispose()


def test_the_welcome_never_holds_up_the_sign_up(smtp_down_app):
    """With the mail server down the sign-in still lands at once; the email is a job that
    failed and will be retried, not an error of the request."""
    app = smtp_down_app
    with TestClient(app, base_url="http://localhost") as client:
        started = time.monotonic()
        dev_sign_in(client, "grace@example.com", "Grace")
        assert time.monotonic() - started < 5
        assert client.get("/dashboard").status_code == 200
    [job] = welcome_jobs(app)
    assert job["status"] == "pending"  # failed once, waiting for its retry
    error = app.state.catalog.row("SELECT error FROM sys_jobs WHERE job_type = 'email.send'")
    assert "cannot use SMTP server" in error["error"]
