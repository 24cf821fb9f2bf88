"""`SMTP_*` settings: parsed into a typed `SmtpConfig`, every problem reported at once."""

from __future__ import annotations

import pytest

from app.lib.email_send import SmtpConfig, SmtpConfigError
from app.settings import Settings, SettingsError

GOOD = {"host": "smtp.example.com", "from": "Acme <no-reply@acme.example>"}


def config(app_env: str = "development", **smtp: str) -> SmtpConfig | None:
    return SmtpConfig.from_settings(Settings(app_env=app_env, smtp=smtp))


def problems(app_env: str = "development", **smtp: str) -> list[str]:
    with pytest.raises(SmtpConfigError) as failure:
        config(app_env, **smtp)
    return failure.value.problems


def test_no_smtp_host_means_no_smtp_outside_production():
    assert config() is None
    assert config(app_env="test") is None


def test_production_requires_smtp():
    assert problems("production") == ["SMTP_HOST is missing: production delivers real email"]


def test_a_full_configuration(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    smtp = config(
        **GOOD,
        port="2525",
        security="STARTTLS",
        username="apikey",
        password="s3cret",
        timeout="2.5",
        ca_file=str(ca),
    )
    assert smtp == SmtpConfig(
        host="smtp.example.com",
        sender="Acme <no-reply@acme.example>",
        port=2525,
        security="starttls",
        username="apikey",
        password="s3cret",
        timeout=2.5,
        ca_file=ca,
    )
    assert "s3cret" not in repr(smtp)


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_the_port_defaults_to_the_one_for_the_security_mode(security, port):
    assert config(**GOOD, security=security).port == port


def test_every_problem_is_listed_at_once():
    found = problems(
        host="smtp.example.com",
        port="smtp",
        security="tls",
        username="apikey",
        timeout="-1",
        ca_file="/nowhere/ca.pem",
        user="typo",
        **{"from": "nobody"},
    )
    assert found == [
        "SMTP_USER is not a setting (known: SMTP_HOST, SMTP_PORT, SMTP_SECURITY, "
        "SMTP_USERNAME, SMTP_PASSWORD, SMTP_FROM, SMTP_TIMEOUT, SMTP_CA_FILE)",
        "SMTP_SECURITY must be one of starttls, ssl, none, got 'tls'",
        "SMTP_PORT must be a number, got 'smtp'",
        "SMTP_FROM must be one email address like 'Acme <no-reply@example.com>', got 'nobody'",
        "SMTP_USERNAME and SMTP_PASSWORD go together: set both or neither",
        "SMTP_CA_FILE '/nowhere/ca.pem' is not a file",
        "SMTP_TIMEOUT must be positive, got '-1'",
    ]


def test_an_unknown_setting_is_reported_even_without_a_host():
    assert problems(hostname="smtp.example.com")[0].startswith("SMTP_HOSTNAME is not a setting")


@pytest.mark.parametrize(
    ("smtp", "problem"),
    [
        ({"port": "70000"}, "SMTP_PORT must be between 1 and 65535, got 70000"),
        ({"timeout": "nan"}, "SMTP_TIMEOUT must be positive, got 'nan'"),
        ({"from": ""}, "SMTP_FROM is missing"),
        ({"from": "a@example.com, b@example.com"}, "SMTP_FROM must be one email address"),
        (
            {"security": "none", "username": "u", "password": "p"},
            "SMTP_SECURITY=none would send SMTP_PASSWORD unencrypted",
        ),
    ],
)
def test_bad_values(smtp, problem):
    assert any(p.startswith(problem) for p in problems(**{**GOOD, **smtp}))


def test_production_allows_unencrypted_smtp_only_to_a_local_relay():
    local = {**GOOD, "security": "none"}
    assert config("production", **{**local, "host": "127.0.0.1"}).security == "none"
    assert config("production", **{**local, "host": "localhost"}).port == 25
    assert problems("production", **GOOD, security="none") == [
        "SMTP_SECURITY=none is only allowed for a relay on this machine"
    ]


def test_smtp_errors_are_settings_errors_so_startup_reports_them():
    with pytest.raises(SettingsError, match="Refusing to start:\n  - SMTP_PORT"):
        config(**GOOD, port="x")


def test_values_are_trimmed():
    smtp = config(host=" smtp.example.com ", **{"from": " a@acme.example "}, port=" 25 ")
    assert (smtp.host, smtp.sender, smtp.port, smtp.ca_file) == (
        "smtp.example.com",
        "a@acme.example",
        25,
        None,
    )
