"""Settings: typed, read once from the environment and an optional `.env` file.

Every name here is documented in `.env.example`. Production refuses to start on unsafe
values and names each problem, so a misconfigured deploy fails loudly instead of quietly.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

GOOGLE_METADATA_URL = "https://accounts.google.com/.well-known/openid-configuration"
ENVIRONMENTS = ("development", "production", "test")


class SettingsError(Exception):
    """Raised with every problem found, one per line, so an operator can fix them at once."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Refusing to start:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    app_env: str = "development"
    secret_key: str = ""
    base_url: str = "http://localhost:5001"
    host: str = "127.0.0.1"
    port: int = 5001
    data_dir: Path = Path("data")
    database_url: str = ""
    tenant_database_url: str = ""
    google_client_id: str = ""
    google_client_secret: str = ""
    oidc_metadata_url: str = GOOGLE_METADATA_URL
    session_idle_minutes: int = 60 * 24 * 3
    session_absolute_hours: int = 24 * 14
    tenant_engine_cache_size: int = 256
    blog_dir: Path = Path("blog")
    log_level: str = "INFO"
    smtp: dict[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def google_configured(self) -> bool:
        return bool(self.google_client_id and self.google_client_secret)

    @property
    def dev_login_enabled(self) -> bool:
        """The typed-email sign-in exists only outside production and only without real OIDC."""
        return not self.is_production and not self.google_configured

    @property
    def secure_cookies(self) -> bool:
        return self.is_production

    @property
    def session_cookie(self) -> str:
        # `__Host-` makes the browser refuse the cookie unless it is Secure, path=/ and has no
        # Domain, so a sibling subdomain cannot plant or overwrite it.
        return "__Host-sid" if self.secure_cookies else "sid"


def _read_env(env: dict[str, str] | None, env_file: Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if env is None else env)
    return values


def _int(values: dict[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = values.get(name, "").strip()
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, got {raw!r}")
        return default
    if number <= 0:
        problems.append(f"{name} must be positive, got {number}")
        return default
    return number


def load_settings(
    env: dict[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Build `Settings` from `env` (default: the process environment) plus `.env`.

    Raises `SettingsError` listing every problem; production is held to a stricter bar.
    """
    values = _read_env(env, env_file)
    problems: list[str] = []
    app_env = values.get("APP_ENV", "development").strip().lower() or "development"
    if app_env not in ENVIRONMENTS:
        problems.append(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
    data_dir = Path(values.get("DATA_DIR", "").strip() or "data")
    port = _int(values, "PORT", 5001, problems)
    settings = Settings(
        app_env=app_env,
        secret_key=values.get("SECRET_KEY", "").strip(),
        base_url=(values.get("BASE_URL", "").strip() or f"http://localhost:{port}").rstrip("/"),
        host=values.get("HOST", "").strip() or "127.0.0.1",
        port=port,
        data_dir=data_dir,
        database_url=values.get("DATABASE_URL", "").strip()
        or f"sqlite:///{(data_dir / 'host.db').as_posix()}",
        tenant_database_url=values.get("TENANT_DATABASE_URL", "").strip()
        or f"sqlite:///{(data_dir / 'tenants' / '{tenant_id}.db').as_posix()}",
        google_client_id=values.get("GOOGLE_CLIENT_ID", "").strip(),
        google_client_secret=values.get("GOOGLE_CLIENT_SECRET", "").strip(),
        oidc_metadata_url=values.get("OIDC_METADATA_URL", "").strip() or GOOGLE_METADATA_URL,
        session_idle_minutes=_int(values, "SESSION_IDLE_MINUTES", 60 * 24 * 3, problems),
        session_absolute_hours=_int(values, "SESSION_ABSOLUTE_HOURS", 24 * 14, problems),
        tenant_engine_cache_size=_int(values, "TENANT_ENGINE_CACHE_SIZE", 256, problems),
        blog_dir=Path(values.get("BLOG_DIR", "").strip() or "blog"),
        log_level=values.get("LOG_LEVEL", "").strip().upper() or "INFO",
        smtp={k[5:].lower(): v for k, v in values.items() if k.startswith("SMTP_")},
    )
    if "{tenant_id}" not in settings.tenant_database_url:
        problems.append("TENANT_DATABASE_URL must contain the placeholder {tenant_id}")
    if settings.is_production:
        problems += _production_problems(settings)
    if problems:
        raise SettingsError(problems)
    return settings


def _production_problems(s: Settings) -> list[str]:
    problems = []
    if not s.secret_key:
        problems.append("SECRET_KEY is missing (use at least 32 random bytes)")
    elif len(s.secret_key.encode()) < 32:
        problems.append("SECRET_KEY is shorter than 32 bytes")
    if not s.google_client_id:
        problems.append("GOOGLE_CLIENT_ID is missing")
    if not s.google_client_secret:
        problems.append("GOOGLE_CLIENT_SECRET is missing")
    if urlsplit(s.base_url).scheme != "https":
        problems.append(f"BASE_URL must be https in production, got {s.base_url!r}")
    if urlsplit(s.oidc_metadata_url).scheme != "https":
        problems.append("OIDC_METADATA_URL must be https in production")
    return problems


def secret_key(settings: Settings) -> str:
    """The configured key, or in development one generated once and kept in DATA_DIR.

    Keeping it on disk means a restart does not sign everybody out.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / ".secret_key"
    if path.is_file():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
