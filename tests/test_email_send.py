"""Sending over SMTP to a real server on 127.0.0.1 (aiosmtpd): messages, TLS, failures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from app.lib.email import Mailer
from app.lib.email_render import TemplateError
from app.lib.email_send import DeliveryError, SmtpConfig
from tests.support.smtp import (
    closed_port,
    connection_counter,
    self_signed_certificate,
    smtp_server,
)
from tests.test_email_render import SITE, variables

SENDER = "Acme <no-reply@acme.example>"


def mailer(port: int, **config) -> Mailer:
    options = {"security": "none", "timeout": 5.0, **config}
    smtp = SmtpConfig(host="127.0.0.1", port=port, sender=SENDER, **options)
    return Mailer(smtp, SENDER, SITE)


def welcome(name: str = "Ada") -> dict[str, str]:
    return {k: v for k, v in variables("welcome", name=name).items() if k not in SITE}


def test_a_message_arrives_as_text_and_html_with_its_headers():
    with smtp_server() as server:
        message_id = mailer(server.port).send("welcome", "ada@example.com", welcome())
    [received] = server.received
    assert received.mail_from == "no-reply@acme.example"
    assert received.rcpt_tos == ["ada@example.com"]
    message = received.message
    assert message["From"] == SENDER
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Welcome to Acme, Ada"
    assert message["Message-ID"] == message_id
    assert re.fullmatch(r"<[^<>@\s]+@acme\.example>", message_id)
    sent_at = parsedate_to_datetime(message["Date"])
    assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=1)
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()  # plain first: clients show the last part they can
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert "# Welcome aboard, Ada" in text.get_content()
    assert "<h1>Welcome aboard, Ada</h1>" in html.get_content()
    assert not received.over_tls


def test_non_ascii_survives_the_trip():
    with smtp_server() as server:
        mailer(server.port).send("welcome", "zoe@example.com", welcome(name="Zoë Ωmega"))
    message = server.messages[0]
    assert message["Subject"] == "Welcome to Acme, Zoë Ωmega"
    assert "Welcome aboard, Zoë Ωmega" in message.get_body(("plain",)).get_content()
    assert "Zoë Ωmega</h1>" in message.get_body(("html",)).get_content()


def test_starttls_is_negotiated_and_verified_before_logging_in(tmp_path):
    certificate = self_signed_certificate(tmp_path)
    with smtp_server(certificate=certificate, credentials=("mailer", "s3cret")) as server:
        mailer(
            server.port,
            security="starttls",
            ca_file=certificate.cert_file,
            username="mailer",
            password="s3cret",
        ).send("welcome", "ada@example.com", welcome())
    [received] = server.received
    assert received.over_tls
    assert received.logged_in_as == "mailer"


def test_implicit_tls_works_too(tmp_path):
    certificate = self_signed_certificate(tmp_path)
    with smtp_server(certificate=certificate, implicit_tls=True) as server:
        mailer(server.port, security="ssl", ca_file=certificate.cert_file).send(
            "welcome", "ada@example.com", welcome()
        )
    assert server.received[0].over_tls


def test_a_certificate_we_do_not_trust_stops_the_send(tmp_path):
    certificate = self_signed_certificate(tmp_path)
    with (
        smtp_server(certificate=certificate) as server,
        pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        mailer(server.port, security="starttls").send("welcome", "a@example.com", welcome())
    assert server.received == []


def test_a_server_that_requires_starttls_refuses_plain_text(tmp_path):
    certificate = self_signed_certificate(tmp_path)
    with (
        smtp_server(certificate=certificate) as server,
        pytest.raises(DeliveryError, match=r"530 .*STARTTLS"),
    ):
        mailer(server.port, security="none").send("welcome", "a@example.com", welcome())
    assert server.received == []


def test_a_wrong_password_is_a_clear_error(tmp_path):
    certificate = self_signed_certificate(tmp_path)
    with smtp_server(certificate=certificate, credentials=("mailer", "s3cret")) as server:
        send = mailer(
            server.port,
            security="starttls",
            ca_file=certificate.cert_file,
            username="mailer",
            password="wrong",
        )
        with pytest.raises(DeliveryError, match=r"cannot use SMTP server 127\.0\.0\.1:\d+.*535"):
            send.send("welcome", "a@example.com", welcome())
    assert server.received == []


def test_smtp_down_raises_a_clear_error():
    port = closed_port()
    with pytest.raises(DeliveryError) as failure:
        mailer(port).send("welcome", "ada@example.com", welcome())
    assert f"cannot use SMTP server 127.0.0.1:{port} (none)" in str(failure.value)
    assert "refused" in str(failure.value).lower()


def test_a_batch_reports_each_recipient_and_one_refusal_does_not_stop_the_rest():
    recipients = [(f"{n.lower()}@example.com", welcome(n)) for n in ("Ada", "Bob", "Cy")]
    with smtp_server(refuse={"bob@example.com"}) as server:
        deliveries = mailer(server.port).send_batch("welcome", recipients)
    assert [(d.to, d.ok) for d in deliveries] == [
        ("ada@example.com", True),
        ("bob@example.com", False),
        ("cy@example.com", True),
    ]
    assert "550 5.1.1 No such mailbox" in deliveries[1].error
    assert [r.rcpt_tos for r in server.received] == [["ada@example.com"], ["cy@example.com"]]
    assert [m["Message-ID"] for m in server.messages] == [
        deliveries[0].message_id,
        deliveries[2].message_id,
    ]


def test_a_batch_with_smtp_down_reports_every_recipient_failed_without_raising():
    port = closed_port()
    recipients = [(f"{n}@example.com", welcome(n)) for n in ("ada", "bob")]
    deliveries = mailer(port).send_batch("welcome", recipients)
    assert [d.to for d in deliveries] == ["ada@example.com", "bob@example.com"]
    assert all(f"cannot use SMTP server 127.0.0.1:{port}" in d.error for d in deliveries)


@pytest.mark.parametrize("junk", ["not an address", "@example.com", "a@@example.com", "<x>"])
def test_a_malformed_address_fails_only_that_recipient(junk):
    recipients = [("ada@example.com", welcome()), (junk, welcome("X"))]
    with smtp_server() as server:
        deliveries = mailer(server.port).send_batch("welcome", recipients)
    assert deliveries[0].ok
    assert f"not an email address: {junk!r}" in deliveries[1].error
    assert len(server.received) == 1


def test_a_missing_variable_fails_before_any_connection_is_opened():
    with connection_counter() as counter:
        broken = mailer(counter.port, timeout=0.5)
        with pytest.raises(TemplateError, match="missing dashboard_url"):
            broken.send("welcome", "ada@example.com", {"name": "Ada", "tenant_name": "T"})
        # In a batch, one bad recipient stops everything before the first is sent.
        with pytest.raises(TemplateError, match="missing dashboard_url, tenant_name"):
            broken.send_batch(
                "welcome",
                [("ada@example.com", welcome()), ("bob@example.com", {"name": "Bob"})],
            )
        assert counter.connections() == 0


def test_a_header_injection_in_the_address_fails_before_any_connection():
    with connection_counter() as counter:
        with pytest.raises(ValueError, match="not an email address"):
            mailer(counter.port).send("welcome", "a@example.com\r\nBcc: x@evil.example", welcome())
        assert counter.connections() == 0
