"""Where mail goes per APP_ENV, the development outbox, and its dev-only pages."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

import pytest

from app.lib.email import Mailer, Outbox, SmtpConfigError, mailer_for, outbox_for
from app.settings import Settings
from tests.conftest import dev_sign_in
from tests.support.smtp import connection_counter, smtp_server
from tests.test_email_send import welcome

SMTP_SENDER = "Acme <no-reply@acme.example>"


@pytest.fixture
def settings(make_settings) -> Settings:
    """The outbox does not touch tenant data: SQLite is enough for the app these tests use."""
    return make_settings()


def smtp_env(port: int) -> dict[str, str]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": SMTP_SENDER,
        "SMTP_TIMEOUT": "1",
    }


def test_test_mode_never_opens_a_connection_even_with_smtp_configured(make_settings):
    with connection_counter() as counter:
        mailer = mailer_for(make_settings(**smtp_env(counter.port)), app_name="Acme")
        mailer.send("welcome", "ada@example.com", welcome())
        mailer.send_batch("welcome", [("bob@example.com", welcome("Bob"))])
        assert counter.connections() == 0
    assert isinstance(mailer.transport, Outbox)
    assert len(mailer.transport.ids()) == 2


def test_development_without_smtp_writes_to_the_outbox(make_settings):
    settings = make_settings(APP_ENV="development")
    message_id = mailer_for(settings, app_name="Acme").send("welcome", "ada@example.com", welcome())
    outbox = outbox_for(settings)
    assert outbox.directory == settings.data_dir / "outbox"
    [only] = outbox.ids()
    message = outbox.get(only)
    assert message.message_id == message_id
    assert message.sender == "Acme <no-reply@localhost>"
    assert message.to == "ada@example.com"
    assert message.subject == "Welcome to Acme, Ada"
    assert "# Welcome aboard, Ada" in message.text
    assert "<h1>Welcome aboard, Ada</h1>" in message.html
    # A real .eml file, which a mail client can open.
    with (outbox.directory / f"{only}.eml").open("rb") as file:
        assert BytesParser(policy=policy.default).parse(file)["Message-ID"] == message_id


def test_development_with_smtp_configured_delivers_over_smtp(make_settings):
    with smtp_server() as server:
        settings = make_settings(APP_ENV="development", **smtp_env(server.port))
        mailer_for(settings, app_name="Acme").send("welcome", "ada@example.com", welcome())
    assert server.messages[0]["From"] == SMTP_SENDER
    assert outbox_for(settings).ids() == []


def test_production_without_smtp_refuses():
    with pytest.raises(SmtpConfigError, match="SMTP_HOST is missing"):
        mailer_for(Settings(app_env="production"), app_name="Acme")


def test_bad_smtp_settings_are_reported_in_every_environment(make_settings):
    with pytest.raises(SmtpConfigError, match="SMTP_PORT must be a number"):
        mailer_for(make_settings(SMTP_HOST="x", SMTP_PORT="x"), app_name="Acme")


def test_outbox_lists_newest_first_and_ignores_other_files(tmp_path):
    outbox = Outbox(tmp_path)
    mailer = Mailer(outbox, SMTP_SENDER, {"app_name": "Acme", "base_url": "http://x"})
    for name in ("Ada", "Bob", "Cy"):
        mailer.send("welcome", f"{name.lower()}@example.com", welcome(name))
    (tmp_path / "notes.eml").write_text("not ours")
    (tmp_path / ".20990101T000000000000-00000000.partial").write_text("half written")
    assert [outbox.get(i).to for i in outbox.ids()] == [
        "cy@example.com",
        "bob@example.com",
        "ada@example.com",
    ]


HOSTILE_IDS = [
    "..",
    "../host.db",
    "..%2F..%2Fhost.db",
    "%2e%2e%2f%2e%2e%2fsecret_key",
    "notes",
    "20990101T000000000000-deadbeef",  # the right shape, but no such message
    "20990101T000000000000-DEADBEEF",
    "x" * 5000,
]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_outbox_get_refuses_anything_but_a_real_id(tmp_path, hostile):
    (tmp_path / "notes.eml").write_text("Subject: not ours\n\nhi\n")
    assert Outbox(tmp_path / "outbox").get(hostile) is None
    assert Outbox(tmp_path).get(hostile) is None


# The pages


def send_welcomes(settings: Settings, *names: str) -> None:
    mailer = mailer_for(settings, app_name="Acme")
    for name in names:
        mailer.send("welcome", "ada@example.com", welcome(name))


def message_links(html: str) -> list[str]:
    return re.findall(r'href="/dev/outbox/([0-9A-Za-z-]+)"', html)


def test_the_outbox_is_for_signed_in_people_only(client):
    response = client.get("/dev/outbox", follow_redirects=False)
    assert response.status_code in (302, 303, 401, 403)


def test_the_outbox_page_lists_messages_newest_first(client, settings):
    send_welcomes(settings, "First", "<script>alert(1)</script>")
    dev_sign_in(client, "ada@example.com")
    page = client.get("/dev/outbox")
    assert page.status_code == 200
    assert "Welcome to Acme, &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    assert page.text.index("&lt;script&gt;") < page.text.index("Welcome to Acme, First")
    assert message_links(page.text) == outbox_for(settings).ids()


def test_the_outbox_page_is_paginated(client, settings):
    dev_sign_in(client, "ada@example.com")  # her own welcome, then 30 more
    send_welcomes(settings, *[f"Person {n}" for n in range(30)])
    first, second = client.get("/dev/outbox"), client.get("/dev/outbox?page=2")
    assert len(message_links(first.text)) == 25
    assert len(message_links(second.text)) == 6
    assert 'href="/dev/outbox?page=2"' in first.text
    assert message_links(first.text) + message_links(second.text) == outbox_for(settings).ids()
    for missing in ("3", "0", "abc", "-1", "9" * 30):
        assert client.get(f"/dev/outbox?page={missing}").status_code == 404


def test_an_empty_outbox_says_so(client, settings):
    dev_sign_in(client, "dev@example.com")
    for message in outbox_for(settings).directory.glob("*.eml"):  # her welcome email
        message.unlink()
    assert "No messages yet" in client.get("/dev/outbox").text


def test_a_message_page_shows_headers_text_and_a_sandboxed_frame(client, settings):
    send_welcomes(settings, "<b>Ada</b>")
    [message_id] = outbox_for(settings).ids()
    message = outbox_for(settings).get(message_id)
    dev_sign_in(client, "ada@example.com")
    page = client.get(f"/dev/outbox/{message_id}")
    assert page.status_code == 200
    for value in ("Acme &lt;no-reply@localhost&gt;", "ada@example.com", message.date):
        assert value in page.text
    assert re.search(rf'<iframe src="/dev/outbox/{message_id}/html" sandbox=""', page.text)
    assert "# Welcome aboard, &lt;b&gt;Ada&lt;/b&gt;" in page.text  # the text part
    assert "<b>Ada</b>" not in page.text


def test_the_html_part_is_served_alone_under_a_sandboxing_csp(client, settings):
    send_welcomes(settings, "Ada")
    [message_id] = outbox_for(settings).ids()
    dev_sign_in(client, "ada@example.com")
    response = client.get(f"/dev/outbox/{message_id}/html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = [d.strip() for d in response.headers["content-security-policy"].split(";")]
    assert csp[0] == "sandbox"  # no scripts, no forms, an origin of its own
    assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.text == outbox_for(settings).get(message_id).html


@pytest.mark.parametrize("hostile", [*HOSTILE_IDS, "%00", "a%0Ab"])
def test_hostile_message_ids_are_404(client, settings, hostile):
    send_welcomes(settings, "Ada")
    dev_sign_in(client, "ada@example.com")
    for path in (f"/dev/outbox/{hostile}", f"/dev/outbox/{hostile}/html"):
        response = client.get(path)
        # control characters never reach a route: the edge refuses them (400)
        assert response.status_code == (400 if "%0" in hostile else 404), path
        assert "Welcome aboard" not in response.text


def test_each_person_sees_only_mail_to_them_or_from_their_workspace(app, client, new_client):
    """Issue 16 item 9: an invitation link in another workspace's mail is a way into it."""
    from tests.test_team import hx, join, own_tenant  # that module imports this one

    bob, mia, ivan = new_client(), new_client(), new_client()
    dev_sign_in(bob, "bob@example.com")
    bobs = own_tenant(app, "bob@example.com")
    assert bob.post("/invitations", data={"email": "ivan@example.com"}, headers=hx(bob)).is_success
    send_welcomes(app.state.settings, "Ada")  # to ada@example.com, from no workspace
    outbox = outbox_for(app.state.settings)
    invitation = next(i for i in outbox.ids() if outbox.get(i).to == "ivan@example.com")
    welcome_id = next(i for i in outbox.ids() if outbox.get(i).to == "ada@example.com")

    dev_sign_in(client, "ada@example.com")
    adas = {i for i in outbox.ids() if outbox.get(i).to == "ada@example.com"}
    assert welcome_id in adas and set(message_links(client.get("/dev/outbox").text)) == adas
    for path in (f"/dev/outbox/{invitation}", f"/dev/outbox/{invitation}/html"):
        response = client.get(path)
        assert response.status_code == 404 and "/invitations/" not in response.text
    join(app, mia, "mia@example.com", bobs, "member")  # from Bob's workspace: hers to see
    assert invitation in message_links(mia.get("/dev/outbox").text)
    assert mia.get(f"/dev/outbox/{invitation}/html").status_code == 200
    dev_sign_in(ivan, "ivan@example.com")  # sent to him
    assert invitation in message_links(ivan.get("/dev/outbox").text)
    assert "/invitations/" in ivan.get(f"/dev/outbox/{invitation}").text
    # Removed from Bob's workspace, Mia no longer sees its mail.
    app.state.catalog.execute(
        "DELETE FROM core_memberships WHERE tenant_id = :t AND user_id ="
        " (SELECT id FROM core_users WHERE email = 'mia@example.com')",
        t=bobs,
    )
    assert invitation not in message_links(mia.get("/dev/outbox").text)
