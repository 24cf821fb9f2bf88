"""Settings: production refuses unsafe values and names each one; development keeps a key."""

import pytest

from app.settings import SettingsError, load_settings, secret_key

GOOD_PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "k" * 40,
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
    for name in (
        "SECRET_KEY is shorter than 32 bytes",
        "GOOGLE_CLIENT_ID",
        "GOOGLE_CLIENT_SECRET",
        "BASE_URL",
    ):
        assert name in message


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
