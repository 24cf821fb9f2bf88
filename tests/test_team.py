"""Teams end to end: an owner invites by email, the invitee reads the message from a real SMTP
server (aiosmtpd on 127.0.0.1), follows the link, signs in at a real OpenID provider and
lands in the owner's workspace with the invited role. Also: SMTP down.

The helpers here (`make_team`, `join`, `hx`, ...) are shared by the other team test modules.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest
from oidc_provider_mock import User
from starlette.testclient import TestClient

from app.factory import create_app
from tenants import members
from tests.conftest import dev_sign_in, page_csrf
from tests.support.html import csrf_from
from tests.support.oidc import oidc_env, oidc_provider
from tests.support.smtp import closed_port, smtp_server
from tests.test_email_outbox import smtp_env
from tests.test_oidc import consent, start

LINK = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+)")


def hx(client: TestClient) -> dict[str, str]:
    """Headers of an htmx request from a signed-in page (the CSRF token rides along)."""
    return {"X-CSRF-Token": page_csrf(client, "/account"), "HX-Request": "true"}


def user_id(app, email: str) -> str:
    return app.state.catalog.row("SELECT id FROM core_users WHERE email = :e", e=email)["id"]


def own_tenant(app, email: str) -> str:
    """The workspace this person's first sign-in made."""
    return app.state.catalog.row(
        "SELECT id FROM core_tenants WHERE created_by = :u ORDER BY created_at",
        u=user_id(app, email),
    )["id"]


def memberships(app, email: str) -> list[tuple[str, str]]:
    return [(m["id"], m["role"]) for m in app.state.catalog.memberships(user_id(app, email))]


def membership_id(app, email: str, tenant_id: str) -> str:
    return app.state.catalog.row(
        "SELECT id FROM core_memberships WHERE user_id = :u AND tenant_id = :t",
        u=user_id(app, email),
        t=tenant_id,
    )["id"]


def add_member(app, tenant_id: str, email: str, role: str) -> str:
    """Make `email` (a user created if need be) `role` in the tenant; returns the membership id."""
    catalog = app.state.catalog
    known = catalog.row("SELECT id FROM core_users WHERE email = :e", e=email)
    user = catalog.user(
        known["id"] if known else catalog.upsert_user("urn:test", email, email, "", "")
    )
    with catalog.begin() as conn:
        members.add(conn, tenant_id, user["id"], role)
    with app.state.databases.begin(tenant_id) as db:
        members.mirror(db, user, role)
    return membership_id(app, email, tenant_id)


def join(app, client: TestClient, email: str, tenant_id: str, role: str) -> None:
    """Sign `client` in as `email`, make them `role` in the tenant, and switch to it."""
    dev_sign_in(client, email)
    add_member(app, tenant_id, email, role)
    response = client.post(f"/tenants/{tenant_id}/switch", headers=hx(client))
    assert response.status_code in (200, 303), response.text


@dataclass
class Team:
    tenant: str
    owner: TestClient
    admin: TestClient
    member: TestClient

    def client(self, role: str) -> TestClient:
        return getattr(self, role)


EMAILS = {"owner": "olive@example.com", "admin": "adam@example.com", "member": "mia@example.com"}


def make_team(app, client: TestClient, new_client) -> Team:
    """Olive's workspace with Adam as admin and Mia as member, each in their own browser."""
    dev_sign_in(client, EMAILS["owner"], "Olive")
    tenant = own_tenant(app, EMAILS["owner"])
    admin, member = new_client(), new_client()
    join(app, admin, EMAILS["admin"], tenant, "admin")
    join(app, member, EMAILS["member"], tenant, "member")
    return Team(tenant, client, admin, member)


def wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


# -- end to end ---------------------------------------------------------------------------

USERS = [
    User(
        sub="olive-sub",
        claims={"email": "olive@example.com", "email_verified": True, "name": "Olive"},
    ),
    User(
        sub="ivan-sub", claims={"email": "ivan@example.com", "email_verified": True, "name": "Ivan"}
    ),
]


@pytest.fixture
def provider():
    with oidc_provider(USERS) as issuer:
        yield issuer


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def app_with(make_settings):
    """`app_with(**env)`: an app on settings of its own, closed after the test."""
    made = []

    def make(**env: str):
        made.append(create_app(make_settings(**env)))
        return made[-1]

    yield make
    for app in made:
        app.state.databases.dispose()
        app.state.catalog.dispose()


def oidc_sign_in(client: TestClient, subject: str):
    return client.get(consent(start(client), subject), follow_redirects=False)


def test_invite_email_link_sign_in_lands_in_the_workspace_with_the_role(app_with, provider, smtp):
    app = app_with(  # as deployed: OpenID sign-in, mail over SMTP (not the test outbox)
        APP_ENV="development",
        **oidc_env(provider),
        BASE_URL="http://localhost",
        **smtp_env(smtp.port),
    )
    with TestClient(app, base_url="http://localhost") as olive:
        assert oidc_sign_in(olive, "olive-sub").headers["location"] == "/dashboard"
        sent = olive.post(
            "/invitations", data={"email": "Ivan@Example.com", "role": "admin"}, headers=hx(olive)
        )
        assert sent.status_code == 200 and "Invitation sent to ivan@example.com" in sent.text
    [message] = smtp.messages
    assert message["To"] == "ivan@example.com"
    assert message["Subject"] == "Olive invited you to join Olive's workspace on FastHTML SaaS"
    link = LINK.search(message.get_body(("plain",)).get_content()).group(1)

    with TestClient(app, base_url="http://localhost") as ivan:
        assert "Sign in to accept" in ivan.get(link).text
        landed = oidc_sign_in(ivan, "ivan-sub")
        assert landed.status_code == 303 and landed.headers["location"] == link
        page = ivan.get(link)
        assert "Join Olive&#x27;s workspace" in page.text or "Join Olive's workspace" in page.text
        accepted = ivan.post(
            f"{link}/accept", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
        )
        assert accepted.status_code == 303 and accepted.headers["location"] == "/dashboard"
        dashboard = ivan.get("/dashboard").text
        assert "role: admin" in dashboard

    olives = own_tenant(app, "olive@example.com")
    assert memberships(app, "ivan@example.com") == [(olives, "admin")]  # no workspace of his own
    with app.state.databases.handle(olives) as db:
        mirrored = db.q("SELECT email, role FROM core_tenant_users ORDER BY email")
    assert mirrored == [
        {"email": "ivan@example.com", "role": "admin"},
        {"email": "olive@example.com", "role": "owner"},
    ]


def test_smtp_down_retries_then_fails_visibly_and_nothing_else_breaks(app_with, monkeypatch):
    monkeypatch.setenv("JOB_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("JOB_POLL_SECONDS", "0.1")
    port = closed_port()
    app = app_with(APP_ENV="development", **smtp_env(port))
    with TestClient(app, base_url="http://localhost") as client:
        dev_sign_in(client, "olive@example.com")
        started = time.monotonic()
        sent = client.post(
            "/invitations", data={"email": "ivan@example.com", "role": "member"}, headers=hx(client)
        )
        assert sent.status_code == 200 and "Invitation sent" in sent.text
        assert time.monotonic() - started < 5  # the request never waits for retries

        def failed():
            panel = client.get("/invitations", headers={"HX-Request": "true"}).text
            return panel if "failed" in panel else None

        panel = wait_for(failed)
        assert f"cannot use SMTP server 127.0.0.1:{port}" in panel
        assert "hx-trigger" not in panel  # nothing left to wait for: polling stops
        job = app.state.catalog.row(
            """SELECT j.status, j.attempts FROM sys_jobs j
               JOIN core_invitations i ON i.email_job_id = j.id"""
        )
        assert job == {"status": "failed", "attempts": 3}
        # the rest of the app carries on
        assert client.get("/dashboard").status_code == 200
        assert client.get("/members").status_code == 200
        invitation = app.state.catalog.row("SELECT accepted_at, revoked_at FROM core_invitations")
        assert invitation == {"accepted_at": None, "revoked_at": None}  # still open: resend later
