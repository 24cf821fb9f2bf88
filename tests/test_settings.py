"""Settings: production refuses unsafe values and names each one; development keeps a key."""

import secrets
from pathlib import Path

import pytest
from dotenv import dotenv_values

from app.factory import create_app
from app.lib.email_send import SmtpConfigError
from app.settings import SettingsError, load_settings, secret_key

GOOD_PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "Xq7vR2mK9pL4sT8wY1zB6nC3dF5gH0jQ",
    "BASE_URL": "https://app.example.com",
    "GOOGLE_CLIENT_ID": "id",
    "GOOGLE_CLIENT_SECRET": "secret",
}


def test_production_with_safe_settings_loads():
    settings = load_settings(env=GOOD_PRODUCTION, env_file=None)
    assert settings.is_production
    assert settings.session_cookie == "__Host-sid"
    assert not settings.dev_login_enabled


def test_production_refuses_and_names_every_problem():
    env = {"APP_ENV": "production", "SECRET_KEY": "short", "BASE_URL": "http://app.example.com"}
    with pytest.raises(SettingsError) as refused:
        load_settings(env=env, env_file=None)
    message = str(refused.value)
    for name in ("SECRET_KEY is shorter than 32 bytes", "no way to sign in", "BASE_URL"):
        assert name in message


# Issue 13: several providers, each from its own settings; production needs one way in.

SMTP = {"SMTP_HOST": "mail.example.com", "SMTP_FROM": "a@example.com"}


def test_production_accepts_any_one_way_to_sign_in():
    base = {k: v for k, v in GOOD_PRODUCTION.items() if not k.startswith("GOOGLE")}
    for way in (
        {"GITHUB_CLIENT_ID": "id", "GITHUB_CLIENT_SECRET": "s"},
        {"MICROSOFT_CLIENT_ID": "id", "MICROSOFT_CLIENT_SECRET": "s"},
        {
            "OIDC_CLIENT_ID": "id",
            "OIDC_CLIENT_SECRET": "s",
            "OIDC_METADATA_URL": "https://id.example/.well-known/openid-configuration",
        },
        SMTP,  # email links alone
    ):
        assert load_settings(env={**base, **way}, env_file=None).is_production
    with pytest.raises(SettingsError, match="no way to sign in"):
        load_settings(env={**base, **SMTP, "EMAIL_SIGNIN": "false"}, env_file=None)


def test_each_provider_has_its_own_settings_and_the_old_names_still_work():
    env = {
        "APP_ENV": "development",
        "GOOGLE_CLIENT_ID": "g",
        "GOOGLE_CLIENT_SECRET": "gs",
        "MICROSOFT_CLIENT_ID": "m",
        "MICROSOFT_CLIENT_SECRET": "ms",
        "MICROSOFT_TENANT": "contoso.example",
        "GITHUB_CLIENT_ID": "h",
        "GITHUB_CLIENT_SECRET": "hs",
        "OIDC_CLIENT_ID": "o",
        "OIDC_CLIENT_SECRET": "os",
        "OIDC_METADATA_URL": "https://id.example/.well-known/openid-configuration",
        "OIDC_NAME": "Acme ID",
    }
    google, microsoft, github, generic = load_settings(env=env, env_file=None).providers
    assert google.metadata_url.startswith("https://accounts.google.com/")
    assert "/contoso.example/v2.0/" in microsoft.metadata_url
    assert (github.kind, github.api_url) == ("github", "https://api.github.com")
    assert (generic.label, generic.client_id) == ("Acme ID", "o")
    legacy = {  # before issue 13: Google's names meant any provider at OIDC_METADATA_URL
        "APP_ENV": "development",
        "GOOGLE_CLIENT_ID": "g",
        "GOOGLE_CLIENT_SECRET": "gs",
        "OIDC_METADATA_URL": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    [only] = load_settings(env=legacy, env_file=None).providers
    assert (only.slug, only.metadata_url) == ("google", legacy["OIDC_METADATA_URL"])
    with pytest.raises(SettingsError, match="GITHUB_CLIENT_SECRET is missing"):
        load_settings(env={"APP_ENV": "development", "GITHUB_CLIENT_ID": "h"}, env_file=None)


def test_production_wants_https_for_every_provider():
    env = {**GOOD_PRODUCTION, "GITHUB_CLIENT_ID": "h", "GITHUB_CLIENT_SECRET": "hs"}
    env["GITHUB_API_URL"] = "http://github.internal.example/api/v3"
    with pytest.raises(SettingsError, match=r"GitHub sign-in: http://github\.internal"):
        load_settings(env=env, env_file=None)


def test_production_refuses_missing_secret_key():
    env = {k: v for k, v in GOOD_PRODUCTION.items() if k != "SECRET_KEY"}
    with pytest.raises(SettingsError, match="SECRET_KEY is missing"):
        load_settings(env=env, env_file=None)


def test_bad_values_are_reported_not_crashed_on():
    with pytest.raises(SettingsError) as refused:
        load_settings(
            env={"APP_ENV": "staging", "PORT": "http", "TENANT_DATABASE_URL": "sqlite:///x.db"},
            env_file=None,
        )
    message = str(refused.value)
    assert "APP_ENV" in message and "PORT" in message and "{tenant_id}" in message


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text('PORT=6001\nLOG_LEVEL="debug"\n')
    settings = load_settings(env={"PORT": "7001"}, env_file=env_file)
    assert settings.port == 7001 and settings.log_level == "DEBUG"


def test_development_generates_a_secret_once_and_keeps_it(tmp_path):
    settings = load_settings(env={"DATA_DIR": str(tmp_path)}, env_file=None)
    first = secret_key(settings)
    assert len(first) >= 32
    assert secret_key(settings) == first
    assert (tmp_path / ".secret_key").stat().st_mode & 0o077 == 0


# Issue 16 item 9: Google credentials with APP_ENV left unset must not give a development
# server (dev-only routes mounted, no SMTP required).


def test_a_fresh_clone_is_development():
    settings = load_settings(env={}, env_file=None)
    assert settings.app_env == "development" and settings.dev_login_enabled


def test_sign_in_credentials_without_app_env_get_the_production_checks():
    env = {"GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "secret"}
    with pytest.raises(SettingsError) as refused:
        load_settings(env=env, env_file=None)
    assert "SECRET_KEY is missing" in str(refused.value)
    assert "BASE_URL must be https" in str(refused.value)
    only_id = {
        "GOOGLE_CLIENT_ID": "id",
        "SECRET_KEY": GOOD_PRODUCTION["SECRET_KEY"],
        "BASE_URL": "https://a.example",
    }
    with pytest.raises(SettingsError, match="GOOGLE_CLIENT_SECRET is missing"):
        load_settings(env=only_id, env_file=None)
    unset = {k: v for k, v in GOOD_PRODUCTION.items() if k != "APP_ENV"}
    assert load_settings(env=unset, env_file=None).is_production


def test_development_with_real_sign_in_is_asked_for_explicitly():
    env = {"APP_ENV": "development", "GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "secret"}
    settings = load_settings(env=env, env_file=None)
    assert settings.app_env == "development" and not settings.dev_login_enabled


def test_credentials_without_app_env_mount_no_dev_routes_and_need_smtp(tmp_path):
    env = {
        **{k: v for k, v in GOOD_PRODUCTION.items() if k != "APP_ENV"},
        "DATA_DIR": str(tmp_path / "data"),
        "OIDC_METADATA_URL": "https://127.0.0.1:9/.well-known/openid-configuration",
    }
    with pytest.raises(SmtpConfigError, match="SMTP_HOST is missing"):
        create_app(load_settings(env=env, env_file=None))
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_SECURITY": "none", "SMTP_FROM": "a@example.com"}
    app = create_app(load_settings(env={**env, **smtp}, env_file=None))
    try:
        paths = {getattr(route, "path", "") for route in app.routes}
        assert not {p for p in paths if p.startswith(("/dev", "/demo", "/login/dev"))}
    finally:
        app.state.databases.dispose()
        app.state.catalog.dispose()


# Issue 16 item 11


@pytest.mark.parametrize(
    "weak",
    [
        "a" * 32,
        "a" * 64,
        "ab" * 24,
        "abc" * 16,
        "0123456789abcdef" * 2,
        "secretsecretsecretsecretsecret!!",
        "passwordpasswordpasswordpassword",
    ],
)
def test_production_refuses_a_low_entropy_secret_key(weak):
    with pytest.raises(SettingsError, match="SECRET_KEY looks guessable"):
        load_settings(env={**GOOD_PRODUCTION, "SECRET_KEY": weak}, env_file=None)


def test_production_takes_keys_made_as_the_docs_say():
    for _ in range(50):
        for key in (secrets.token_urlsafe(48), secrets.token_urlsafe(32), secrets.token_hex(32)):
            settings = load_settings(env={**GOOD_PRODUCTION, "SECRET_KEY": key}, env_file=None)
            assert settings.secret_key == key


# Issue 16 item 24: BASE_URL follows HOST and PORT unless it is set.


@pytest.mark.parametrize(
    ("host", "port", "base_url"),
    [
        ("", "", "http://localhost:5001"),
        ("", "6001", "http://localhost:6001"),
        ("127.0.0.1", "6001", "http://localhost:6001"),
        ("0.0.0.0", "8080", "http://localhost:8080"),
        ("192.168.1.20", "6001", "http://192.168.1.20:6001"),
        ("app.internal", "7000", "http://app.internal:7000"),
        ("::1", "6001", "http://localhost:6001"),
        ("fd00::5", "6001", "http://[fd00::5]:6001"),
    ],
)
def test_base_url_defaults_to_where_the_server_listens(host, port, base_url):
    settings = load_settings(env={"HOST": host, "PORT": port}, env_file=None)
    assert settings.base_url == base_url


def test_env_example_leaves_base_url_to_follow_the_port():
    example = Path(__file__).resolve().parents[1] / ".env.example"
    settings = load_settings(env={"PORT": "6001"}, env_file=example)
    assert settings.base_url == "http://localhost:6001"
    assert settings.app_env == "development"  # copying it as .env keeps the safe default
    assert "APP_ENV" not in {k for k, v in dotenv_values(example).items() if v}
