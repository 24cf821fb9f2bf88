"""Email sign-in end to end through a real SMTP server (aiosmtpd on 127.0.0.1): ask, receive,
sign in; reused, expired, other-browser and tampered links refused; the code typed in the
asking browser only; the same answer with or without an account; the limits per address
and per IP; a first sign-in makes the person and workspace like OpenID does; one person
whichever verified way they use (issue 13 item 1)."""

from __future__ import annotations

import re

import pytest
from oidc_provider_mock import User
from starlette.testclient import TestClient

from app.factory import create_app
from tests.support.html import csrf_from
from tests.support.oidc import oidc_env, oidc_provider
from tests.support.smtp import smtp_server
from tests.test_email_outbox import smtp_env
from tests.test_oidc import consent, start

LINK = re.compile(r"http://localhost(/login/email/[A-Za-z0-9_-]+)")
CODE = re.compile(r"\*\*(\d{6})\*\*")
USERS = [
    User(sub="ada-sub", claims={"email": "ada@example.com", "email_verified": True, "name": "Ada"}),
    User(sub="eve-sub", claims={"email": "eve@example.com", "email_verified": False}),
]


@pytest.fixture(scope="module")
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def provider():
    with oidc_provider(USERS) as issuer:
        yield issuer


@pytest.fixture
def make_app(make_settings, smtp):
    made = []

    def make(**env: str):
        settings = make_settings(
            APP_ENV="development", BASE_URL="http://localhost", **smtp_env(smtp.port), **env
        )
        made.append(create_app(settings))
        return made[-1]

    yield make
    for app in made:
        app.state.databases.dispose()
        app.state.catalog.dispose()


@pytest.fixture
def app(make_app, smtp):
    smtp.received.clear()
    return make_app()


def browser(app) -> TestClient:
    return TestClient(app, base_url="http://localhost")


def ask(client: TestClient, email: str):
    page = client.get("/login")
    return client.post("/login/email", data={"email": email, "csrf_token": csrf_from(page.text)})


def mail_to(smtp, address: str) -> tuple[str, str]:
    """(link path, code) of the last sign-in email to `address`."""
    [*_, message] = [
        m for m in smtp.messages if m["To"] == address and "sign-in link" in m["Subject"]
    ]
    text = message.get_body(("plain",)).get_content()
    return LINK.search(text).group(1), CODE.search(text).group(1)


def signed_in_as(client: TestClient) -> str | None:
    page = client.get("/account", follow_redirects=False)
    return page.text if page.status_code == 200 else None


def test_ask_receive_and_sign_in_once(app, smtp):
    with browser(app) as ada:
        asked = ask(ada, "Ada@Example.com")
        assert asked.status_code == 200 and "Check your email" in asked.text
        link, _ = mail_to(smtp, "ada@example.com")
        landed = ada.get(link, follow_redirects=False)
        assert landed.status_code == 303 and landed.headers["location"] == "/dashboard"
        assert "ada@example.com" in signed_in_as(ada)
        again = ada.get(link, follow_redirects=False)  # reused, even by the same browser
        assert again.status_code == 400 and "invalid, used or expired" in again.text
    # A first sign-in by email makes the person, their workspace and the welcome, as OpenID does.
    user = app.state.catalog.row(
        "SELECT id, issuer FROM core_users WHERE email = 'ada@example.com'"
    )
    assert user["issuer"] == "email"
    assert [m["role"] for m in app.state.catalog.memberships(user["id"])] == ["owner"]
    assert [m["Subject"] for m in smtp.messages if m["To"] == "ada@example.com"] == [
        "Your FastHTML SaaS sign-in link",
        "Welcome to FastHTML SaaS, ada",
    ]
    stored = app.state.catalog.row("SELECT token_hash, code_hash FROM core_email_links")
    assert link.rsplit("/", 1)[1] not in str(stored)  # hashed at rest


def test_other_browser_tampered_and_expired_links_are_refused(app, smtp):
    with browser(app) as ada, browser(app) as stranger:
        ask(ada, "ada@example.com")
        link, code = mail_to(smtp, "ada@example.com")
        elsewhere = stranger.get(link, follow_redirects=False)
        assert elsewhere.status_code == 403 and "only in the browser" in elsewhere.text
        form = stranger.get("/login")
        typed = stranger.post(
            "/login/email/code", data={"code": code, "csrf_token": csrf_from(form.text)}
        )
        assert typed.status_code == 400 and signed_in_as(stranger) is None
        tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
        assert ada.get(tampered, follow_redirects=False).status_code == 400
        app.state.catalog.execute(
            "UPDATE core_email_links SET expires_at = '2000-01-01T00:00:00.000000Z'"
        )
        assert ada.get(link, follow_redirects=False).status_code == 400
        assert signed_in_as(ada) is None and signed_in_as(stranger) is None
    assert app.state.catalog.rows("SELECT id FROM core_users") == []


def test_the_code_works_in_the_asking_browser_and_wrong_codes_kill_the_link(app, smtp):
    with browser(app) as ada:
        page = ask(ada, "ada@example.com")
        _, code = mail_to(smtp, "ada@example.com")
        token = csrf_from(page.text)
        wrong = ada.post("/login/email/code", data={"code": "not-it", "csrf_token": token})
        assert wrong.status_code == 400 and "not right" in wrong.text  # inline, on the page
        done = ada.post(
            "/login/email/code", data={"code": code, "csrf_token": token}, follow_redirects=False
        )
        assert done.status_code == 303 and signed_in_as(ada)
    with browser(app) as bob:
        page = ask(bob, "bob@example.com")
        link, code = mail_to(smtp, "bob@example.com")
        for _ in range(5):
            bob.post(
                "/login/email/code", data={"code": "000000x", "csrf_token": csrf_from(page.text)}
            )
        late = bob.post(
            "/login/email/code", data={"code": code, "csrf_token": csrf_from(page.text)}
        )
        assert late.status_code == 400 and bob.get(link, follow_redirects=False).status_code == 400


def test_the_answer_is_the_same_with_or_without_an_account(app, smtp):
    with browser(app) as ada:
        ask(ada, "ada@example.com")
        ada.get(mail_to(smtp, "ada@example.com")[0])
    with browser(app) as visitor:
        known, unknown = ask(visitor, "ada@example.com"), ask(visitor, "nobody@example.com")
        assert (known.status_code, known.text) == (unknown.status_code, unknown.text)
    assert mail_to(smtp, "nobody@example.com")  # a first sign-in by email makes the account


def test_bad_addresses_get_an_inline_message_and_send_nothing(app, smtp):
    with browser(app) as visitor:
        for bad in (
            "",
            "not-an-address",
            "a@b",
            "x" * 300 + "@example.com",
            "ada@example.com\r\nBcc: e@x",
        ):
            response = ask(visitor, bad)
            assert response.status_code == 400 and "Enter a valid email address" in response.text
    assert smtp.received == []


def test_the_limits_per_address_and_per_ip_hold(make_app, smtp):
    app = make_app(RATE_LIMIT_EMAIL_ADDRESS="2/hour", RATE_LIMIT_EMAIL_IP="4/hour")
    smtp.received.clear()
    with browser(app) as visitor:
        assert [ask(visitor, "ada@example.com").status_code for _ in range(3)] == [200, 200, 429]
        # Every ask counts for the IP, refused ones too: the fourth goes out, the fifth not.
        assert [ask(visitor, f"p{i}@example.com").status_code for i in range(2)] == [200, 429]
    assert len(smtp.received) == 3  # nothing past either limit


def test_one_person_through_a_verified_provider_and_a_link(make_app, smtp, provider):
    app = make_app(**oidc_env(provider))
    with browser(app) as ada:
        ada.get(consent(start(ada), "ada-sub"), follow_redirects=False)
        ada.post("/logout", data={"csrf_token": csrf_from(ada.get("/account").text)})
        ask(ada, "ada@example.com")
        ada.get(mail_to(smtp, "ada@example.com")[0])
        assert "Email link" in signed_in_as(ada)
    catalog = app.state.catalog
    [person] = catalog.rows("SELECT id FROM core_users")
    ways = catalog.rows("SELECT issuer FROM core_identities WHERE user_id = :u", u=person["id"])
    assert sorted(w["issuer"] for w in ways) == ["email", provider]
    assert len(catalog.memberships(person["id"])) == 1  # one workspace, not two


def test_an_unverified_provider_email_never_links(make_app, smtp, provider):
    app = make_app(**oidc_env(provider))
    with browser(app) as eve:
        ask(eve, "eve@example.com")
        eve.get(mail_to(smtp, "eve@example.com")[0])  # the real Eve, by her inbox
    with browser(app) as mallory:
        refused = mallory.get(consent(start(mallory), "eve-sub"), follow_redirects=False)
        assert refused.status_code == 403 and signed_in_as(mallory) is None
    ways = app.state.catalog.rows("SELECT issuer FROM core_identities")
    assert [w["issuer"] for w in ways] == ["email"]


def test_a_lost_passkey_is_recovered_through_a_link_in_the_asking_browser_audited(app, smtp):
    """The workspace requires a passkey; Ada has one but not at hand: the second-step page
    emails her a recovery link, which passes the step for that session only, audited in the
    workspace's trail and the host's."""
    catalog = app.state.catalog
    with browser(app) as ada, browser(app) as thief:
        ask(ada, "ada@example.com")
        ada.get(mail_to(smtp, "ada@example.com")[0])
        user = catalog.row("SELECT id FROM core_users WHERE email = 'ada@example.com'")
        [membership] = catalog.memberships(user["id"])
        catalog.execute(  # a passkey she registered earlier (the browser test registers real ones)
            """INSERT INTO core_passkeys (id, user_id, credential_id, public_key, sign_count,
                                          name, transports, created_at)
               VALUES ('p1', :u, 'cred', 'key', 0, 'Old phone', '[]', '2026-01-01T00:00:00Z')""",
            u=user["id"],
        )
        catalog.execute(
            "UPDATE core_tenants SET require_passkey = 1 WHERE id = :t", t=membership["id"]
        )
        step = ada.get("/dashboard", follow_redirects=False)
        assert step.status_code == 303 and step.headers["location"].startswith("/login/second-step")
        page = ada.get("/login/second-step")
        asked = ada.post(
            "/login/second-step/recover",
            data={"email": "thief@example.com", "csrf_token": csrf_from(page.text)},
        )
        assert asked.status_code == 200 and "Check your email" in asked.text
        assert not [m for m in smtp.messages if m["To"] == "thief@example.com"]
        link, _ = mail_to(smtp, "ada@example.com")
        assert thief.get(link, follow_redirects=False).status_code == 403
        landed = ada.get(link, follow_redirects=False)
        assert landed.status_code == 303 and landed.headers["location"] == "/account#passkeys"
        assert ada.get("/dashboard", follow_redirects=False).status_code == 200
        assert ada.get(link, follow_redirects=False).status_code == 400  # once only
    for where in ("tenant_id IS NULL", "tenant_id = :t"):
        found = catalog.rows(
            f"SELECT actor_user_id FROM sys_audit_logs WHERE action = 'auth.passkey_recovered'"
            f" AND {where}",
            t=membership["id"],
        )
        assert [r["actor_user_id"] for r in found] == [user["id"]], where
    trail = [r["action"] for r in catalog.recent_audit(membership["id"], limit=20)]
    assert "auth.passkey_recovery_asked" in trail
