"""Settings: typed, read once from the environment and an optional `.env` file.

Every name here is documented in `.env.example`. Production refuses to start on unsafe
values and names each problem, so a misconfigured deploy fails loudly instead of quietly.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values, load_dotenv

from app.billing.plans import price_problems

GOOGLE_METADATA_URL = "https://accounts.google.com/.well-known/openid-configuration"
STRIPE_API_BASE = "https://api.stripe.com"
MICROSOFT_METADATA_URL = (
    "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
)
GITHUB_URL, GITHUB_API_URL = "https://github.com", "https://api.github.com"
# Credentials that only a deployment has: with any of them and no APP_ENV, it is production.
PROVIDER_CREDENTIALS = tuple(
    f"{p}_CLIENT_{part}"
    for p in ("GOOGLE", "MICROSOFT", "GITHUB", "OIDC")
    for part in ("ID", "SECRET")
)
ENVIRONMENTS = ("development", "production", "test")
INVITE_EMAIL_MISMATCH = ("confirm", "refuse")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600}
SECRET_KEY_BITS = 128  # estimated from the key's own characters; 32 random bytes give ~200+
LOCAL_HOSTS = ("", "127.0.0.1", "localhost", "::1", "0.0.0.0", "::")  # noqa: S104

Rate = tuple[int, int]  # (requests, per seconds): "20/minute" is (20, 60)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Provider:
    """One way to sign in through someone else: an OpenID provider or GitHub's OAuth 2."""

    slug: str  # in the paths: /auth/<slug> (the way out), /auth/<slug>/callback (back)
    label: str  # on its button: "Sign in with <label>"
    kind: str  # "oidc" or "github"
    client_id: str
    client_secret: str
    metadata_url: str = ""  # OpenID: the discovery document
    web_url: str = ""  # GitHub: where people authorize (GitHub Enterprise: your server)
    api_url: str = ""  # GitHub: its REST API

    @property
    def callback_path(self) -> str:
        # Google's redirect URI predates the others, and deployments have it registered.
        return "/auth/callback" if self.slug == "google" else f"/auth/{self.slug}/callback"


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
    providers: tuple[Provider, ...] = ()  # sign-in providers, each from its own settings
    email_signin: bool = True  # sign-in links by email (production: needs SMTP_HOST)
    superuser_emails: tuple[str, ...] = ()  # operators of the service, besides promoted ones
    session_idle_minutes: int = 60 * 24 * 3
    session_absolute_hours: int = 24 * 14
    tenant_engine_cache_size: int = 256
    blog_dir: Path = Path("blog")
    log_level: str = "INFO"
    smtp: dict[str, str] = field(default_factory=dict)
    # An invitation opened by an account with another email: confirm (join anyway) | refuse.
    invite_email_mismatch: str = "confirm"
    # Operations: logging, connection pools, request limits (docs/deploy.md).
    log_file: Path | None = None
    database_pool_size: int = 10
    database_pool_overflow: int = 20
    tenant_pool_size: int = 2
    tenant_pool_overflow: int = 8
    tenant_idle_minutes: int = 10
    tenant_db_roles: bool = False
    trusted_proxies: tuple[Network, ...] = ()
    allowed_hosts: tuple[str, ...] = ()  # production: host names besides BASE_URL's
    max_body_bytes: int = 2 * 1024 * 1024
    rate_limit_signin: Rate | None = (20, 60)
    rate_limit_webhooks: Rate | None = (600, 60)
    rate_limit_writes: Rate | None = (120, 60)
    rate_limit_email_ip: Rate | None = (10, 3600)  # sign-in links asked for, per IP
    rate_limit_email_address: Rate | None = (5, 3600)  # sign-in links sent, per address
    # Background jobs (app/work/jobs.py) and webhook deliveries (app/webhooks/inbound.py).
    job_lease_seconds: float = 60.0
    job_poll_seconds: float = 1.0
    job_retry_base_seconds: float = 2.0
    job_retry_cap_seconds: float = 600.0
    job_workers: int = 8
    webhook_max_body_bytes: int = 1024 * 1024
    # The REST API, outbound webhooks and telemetry (issue 14).
    rate_limit_api: Rate | None = (600, 60)
    outbound_timeout_seconds: float = 10.0
    outbound_attempts: int = 8
    outbound_retry_base_seconds: float = 15.0
    outbound_disable_after: int = 5
    metrics_token: str = ""
    sentry_dsn: str = ""
    # Billing (app/billing/): Stripe keys, the price ids of the paid plans, the grace period.
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = STRIPE_API_BASE
    stripe_prices: dict[str, str] = field(default_factory=dict)  # "pro_monthly" -> "price_..."
    billing_grace_days: int = 7

    @property
    def billing_configured(self) -> bool:
        """Stripe is set up: without it the billing page shows the plans and says so."""
        return bool(self.stripe_secret_key)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def dev_login_enabled(self) -> bool:
        """The typed-email sign-in exists only outside production and only without providers."""
        return not self.is_production and not self.providers

    @property
    def email_signin_enabled(self) -> bool:
        """Email links where mail can go out (production needs an SMTP server)."""
        return self.email_signin and (not self.is_production or bool(self.smtp.get("host")))

    @property
    def secure_cookies(self) -> bool:
        return self.is_production

    @property
    def session_cookie(self) -> str:
        # `__Host-` makes the browser refuse the cookie unless it is Secure, path=/ and has no
        # Domain, so a sibling subdomain cannot plant or overwrite it.
        return "__Host-sid" if self.secure_cookies else "sid"


def _read_env(env: dict[str, str] | None, env_file: Path | None) -> dict[str, str]:
    """The process environment (or `env`) over `.env`.

    For the process environment, `.env` is loaded into `os.environ` (never overriding), so
    child processes and libraries that read the environment see the same values.
    """
    if env is None:
        if env_file is not None and env_file.is_file():
            load_dotenv(env_file, override=False)
        return dict(os.environ)
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(env)
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


def _seconds(
    values: dict[str, str], name: str, default: float, problems: list[str], zero: bool = False
) -> float:
    """A number of seconds, fractions allowed; positive (or zero, where `zero` says so)."""
    raw = values.get(name, "").strip()
    if not raw:
        return default
    try:
        number = float(raw)
    except ValueError:
        problems.append(f"{name} must be a number of seconds, got {raw!r}")
        return default
    if not (number > 0 or (zero and number == 0)) or number == float("inf"):
        problems.append(f"{name} must be {'zero or more' if zero else 'positive'}, got {raw!r}")
        return default
    return number


def _bool(values: dict[str, str], name: str, default: bool, problems: list[str]) -> bool:
    raw = values.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        problems.append(f"{name} must be true or false, got {raw!r}")
        return default
    return raw in ("true", "1", "yes")


def _rate(values: dict[str, str], name: str, default: Rate, problems: list[str]) -> Rate | None:
    """`N/second`, `N/minute` or `N/hour`; `off` turns the limit off."""
    raw = values.get(name, "").strip().lower()
    if not raw:
        return default
    if raw == "off":
        return None
    count, _, period = raw.partition("/")
    if not count.isdigit() or int(count) <= 0 or period not in RATE_PERIODS:
        problems.append(f"{name} must look like 20/minute (or off), got {raw!r}")
        return default
    return int(count), RATE_PERIODS[period]


def _networks(values: dict[str, str], name: str, problems: list[str]) -> tuple[Network, ...]:
    networks = []
    for part in values.get(name, "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            problems.append(f"{name}: {part!r} is not an IP address or CIDR range")
    return tuple(networks)


def load_settings(
    env: dict[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Build `Settings` from `env` (default: the process environment) plus `.env`.

    Raises `SettingsError` listing every problem; production is held to a stricter bar.
    """
    values = _read_env(env, env_file)
    problems: list[str] = []
    app_env = _app_env(values)
    if app_env not in ENVIRONMENTS:
        problems.append(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
    data_dir = Path(values.get("DATA_DIR", "").strip() or "data")
    host = values.get("HOST", "").strip()
    port = _int(values, "PORT", 5001, problems)
    settings = Settings(
        app_env=app_env,
        secret_key=values.get("SECRET_KEY", "").strip(),
        base_url=(values.get("BASE_URL", "").strip() or _local_url(host, port)).rstrip("/"),
        host=host or "127.0.0.1",
        port=port,
        data_dir=data_dir,
        database_url=values.get("DATABASE_URL", "").strip()
        or f"sqlite:///{(data_dir / 'host.db').as_posix()}",
        tenant_database_url=values.get("TENANT_DATABASE_URL", "").strip()
        or f"sqlite:///{(data_dir / 'tenants' / '{tenant_id}.db').as_posix()}",
        providers=_providers(values, problems),
        email_signin=_bool(values, "EMAIL_SIGNIN", True, problems),
        superuser_emails=tuple(
            e.lower() for e in values.get("SUPERUSER_EMAILS", "").replace(",", " ").split()
        ),
        session_idle_minutes=_int(values, "SESSION_IDLE_MINUTES", 60 * 24 * 3, problems),
        session_absolute_hours=_int(values, "SESSION_ABSOLUTE_HOURS", 24 * 14, problems),
        tenant_engine_cache_size=_int(values, "TENANT_ENGINE_CACHE_SIZE", 256, problems),
        blog_dir=Path(values.get("BLOG_DIR", "").strip() or "blog"),
        log_level=values.get("LOG_LEVEL", "").strip().upper() or "INFO",
        smtp={k[5:].lower(): v for k, v in values.items() if k.startswith("SMTP_")},
        invite_email_mismatch=values.get("INVITE_EMAIL_MISMATCH", "").strip().lower() or "confirm",
        log_file=Path(values["LOG_FILE"].strip()) if values.get("LOG_FILE", "").strip() else None,
        database_pool_size=_int(values, "DATABASE_POOL_SIZE", 10, problems),
        database_pool_overflow=_int(values, "DATABASE_POOL_OVERFLOW", 20, problems),
        tenant_pool_size=_int(values, "TENANT_POOL_SIZE", 2, problems),
        tenant_pool_overflow=_int(values, "TENANT_POOL_OVERFLOW", 8, problems),
        tenant_idle_minutes=_int(values, "TENANT_IDLE_MINUTES", 10, problems),
        tenant_db_roles=_bool(values, "TENANT_DB_ROLES", False, problems),
        trusted_proxies=_networks(values, "TRUSTED_PROXIES", problems),
        allowed_hosts=tuple(values.get("ALLOWED_HOSTS", "").replace(",", " ").lower().split()),
        max_body_bytes=_int(values, "MAX_BODY_BYTES", 2 * 1024 * 1024, problems),
        rate_limit_signin=_rate(values, "RATE_LIMIT_SIGNIN", (20, 60), problems),
        rate_limit_webhooks=_rate(values, "RATE_LIMIT_WEBHOOKS", (600, 60), problems),
        rate_limit_writes=_rate(values, "RATE_LIMIT_WRITES", (120, 60), problems),
        rate_limit_email_ip=_rate(values, "RATE_LIMIT_EMAIL_IP", (10, 3600), problems),
        rate_limit_email_address=_rate(values, "RATE_LIMIT_EMAIL_ADDRESS", (5, 3600), problems),
        job_lease_seconds=_seconds(values, "JOB_LEASE_SECONDS", 60.0, problems),
        job_poll_seconds=_seconds(values, "JOB_POLL_SECONDS", 1.0, problems),
        job_retry_base_seconds=_seconds(values, "JOB_RETRY_BASE_SECONDS", 2.0, problems, True),
        job_retry_cap_seconds=_seconds(values, "JOB_RETRY_CAP_SECONDS", 600.0, problems),
        job_workers=_int(values, "JOB_WORKERS", 8, problems),
        webhook_max_body_bytes=_int(values, "WEBHOOK_MAX_BODY_BYTES", 1024 * 1024, problems),
        rate_limit_api=_rate(values, "RATE_LIMIT_API", (600, 60), problems),
        outbound_timeout_seconds=_seconds(
            values, "OUTBOUND_WEBHOOK_TIMEOUT_SECONDS", 10.0, problems
        ),
        outbound_attempts=_int(values, "OUTBOUND_WEBHOOK_ATTEMPTS", 8, problems),
        outbound_retry_base_seconds=_seconds(
            values, "OUTBOUND_WEBHOOK_RETRY_BASE_SECONDS", 15.0, problems
        ),
        outbound_disable_after=_int(values, "OUTBOUND_WEBHOOK_DISABLE_AFTER", 5, problems),
        metrics_token=values.get("METRICS_TOKEN", "").strip(),
        sentry_dsn=values.get("SENTRY_DSN", "").strip(),
        stripe_secret_key=values.get("STRIPE_SECRET_KEY", "").strip(),
        stripe_webhook_secret=values.get("STRIPE_WEBHOOK_SECRET", "").strip(),
        stripe_api_base=(values.get("STRIPE_API_BASE", "").strip() or STRIPE_API_BASE).rstrip("/"),
        stripe_prices={
            k[len("STRIPE_PRICE_") :].lower(): v.strip()
            for k, v in values.items()
            if k.startswith("STRIPE_PRICE_") and v.strip()
        },
        billing_grace_days=_int(values, "BILLING_GRACE_DAYS", 7, problems),
    )
    if settings.log_level not in LOG_LEVELS:
        problems.append(
            f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {settings.log_level!r}"
        )
    if settings.tenant_db_roles and settings.tenant_database_url.startswith("sqlite"):
        problems.append("TENANT_DB_ROLES needs PostgreSQL tenant databases (TENANT_DATABASE_URL)")
    if settings.invite_email_mismatch not in INVITE_EMAIL_MISMATCH:
        problems.append(
            f"INVITE_EMAIL_MISMATCH must be confirm or refuse, got {settings.invite_email_mismatch!r}"
        )
    if "{tenant_id}" not in settings.tenant_database_url:
        problems.append("TENANT_DATABASE_URL must contain the placeholder {tenant_id}")
    problems += _stripe_problems(settings)
    if settings.is_production:
        problems += _production_problems(settings)
    if problems:
        raise SettingsError(problems)
    return settings


def _app_env(values: dict[str, str]) -> str:
    """APP_ENV, or the safe default when it is not set: development on a fresh clone, but
    production (with all its checks, and no dev-only routes) as soon as real sign-in
    credentials are configured, since only a deployment has those. Developing against a
    real OpenID provider takes APP_ENV=development, said explicitly."""
    explicit = values.get("APP_ENV", "").strip().lower()
    if explicit:
        return explicit
    credentials = PROVIDER_CREDENTIALS
    return "production" if any(values.get(k, "").strip() for k in credentials) else "development"


def _providers(values: dict[str, str], problems: list[str]) -> tuple[Provider, ...]:
    """Each provider whose client id and secret are both set, in button order.

    OIDC_* is any OpenID provider. Before there were several, GOOGLE_CLIENT_ID/SECRET with
    OIDC_METADATA_URL meant "the provider at that URL": without OIDC_CLIENT_ID that still
    holds (the Google button then goes to OIDC_METADATA_URL).
    """

    def get(name: str) -> str:
        return values.get(name, "").strip()

    generic = bool(get("OIDC_CLIENT_ID"))
    google_metadata = get("GOOGLE_METADATA_URL") or ("" if generic else get("OIDC_METADATA_URL"))
    microsoft_tenant = get("MICROSOFT_TENANT") or "common"
    candidates = [
        (
            "google",
            "Google",
            "oidc",
            "GOOGLE",
            {"metadata_url": google_metadata or GOOGLE_METADATA_URL},
        ),
        (
            "microsoft",
            "Microsoft",
            "oidc",
            "MICROSOFT",
            {
                "metadata_url": get("MICROSOFT_METADATA_URL")
                or MICROSOFT_METADATA_URL.format(tenant=microsoft_tenant)
            },
        ),
        (
            "github",
            "GitHub",
            "github",
            "GITHUB",
            {
                "web_url": (get("GITHUB_URL") or GITHUB_URL).rstrip("/"),
                "api_url": (get("GITHUB_API_URL") or GITHUB_API_URL).rstrip("/"),
            },
        ),
        (
            "oidc",
            get("OIDC_NAME") or "OpenID",
            "oidc",
            "OIDC",
            {"metadata_url": get("OIDC_METADATA_URL")},
        ),
    ]
    providers = []
    for slug, label, kind, prefix, where in candidates:
        client_id, secret = get(f"{prefix}_CLIENT_ID"), get(f"{prefix}_CLIENT_SECRET")
        if not (client_id or secret):
            continue
        if not (client_id and secret):
            missing = f"{prefix}_CLIENT_SECRET" if client_id else f"{prefix}_CLIENT_ID"
            problems.append(f"{missing} is missing ({prefix} sign-in needs both id and secret)")
            continue
        if kind == "oidc" and not where["metadata_url"]:
            problems.append(f"{prefix}_METADATA_URL is missing (the provider's discovery URL)")
            continue
        providers.append(Provider(slug, label[:40], kind, client_id, secret, **where))
    return tuple(providers)


def _local_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server listening on HOST:PORT."""
    if host in LOCAL_HOSTS:  # loopback, or every interface (a container)
        return f"http://localhost:{port}"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def key_strength_bits(key: str) -> float:
    """A rough upper bound on the key's entropy: its length times the Shannon entropy of its
    characters; nothing for a key that is a shorter piece repeated. Catches the obvious
    (`aaaa...`, `abcabc...`, a word typed twice) and never a key made with `secrets`."""
    if len(key) > 1 and key in (key + key)[1:-1]:  # periodic: "abcabc", "0123...f0123...f"
        return 0.0
    counts = Counter(key)
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    return per_char * len(key)


def _stripe_problems(s: Settings) -> list[str]:
    """Stripe's settings, each in the form Stripe issues it, and a price for every paid plan
    (app/billing/plans.py) once Stripe is set up."""
    problems = price_problems(s.stripe_prices, s.billing_configured)
    if s.stripe_secret_key and not s.stripe_secret_key.startswith(("sk_", "rk_")):
        problems.append("STRIPE_SECRET_KEY must be a secret or restricted key (sk_... or rk_...)")
    if s.stripe_webhook_secret and not s.stripe_webhook_secret.startswith("whsec_"):
        problems.append("STRIPE_WEBHOOK_SECRET must be an endpoint's signing secret (whsec_...)")
    if s.stripe_secret_key and not s.stripe_webhook_secret:
        problems.append(
            "STRIPE_WEBHOOK_SECRET is missing: without it no subscription change reaches the app"
        )
    scheme = urlsplit(s.stripe_api_base).scheme
    if scheme != "https" and (s.is_production or scheme != "http"):
        problems.append(f"STRIPE_API_BASE must be an https URL, got {s.stripe_api_base!r}")
    return problems


def _production_problems(s: Settings) -> list[str]:
    problems = []
    if not s.secret_key:
        problems.append("SECRET_KEY is missing (use at least 32 random bytes)")
    elif len(s.secret_key.encode()) < 32:
        problems.append("SECRET_KEY is shorter than 32 bytes")
    elif key_strength_bits(s.secret_key) < SECRET_KEY_BITS:
        problems.append(
            "SECRET_KEY looks guessable (repeated or too few different characters); make one "
            'with python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    if not s.providers and not s.email_signin_enabled:
        problems.append(
            "no way to sign in: configure a provider (GOOGLE_, MICROSOFT_, GITHUB_ or OIDC_"
            "CLIENT_ID and _CLIENT_SECRET) or email sign-in (SMTP_HOST, EMAIL_SIGNIN on)"
        )
    if urlsplit(s.base_url).scheme != "https":
        problems.append(f"BASE_URL must be https in production, got {s.base_url!r}")
    if s.metrics_token and len(s.metrics_token) < 32:
        problems.append("METRICS_TOKEN is shorter than 32 characters")
    for provider in s.providers:
        for url in (provider.metadata_url, provider.web_url, provider.api_url):
            if url and urlsplit(url).scheme != "https":
                problems.append(f"{provider.label} sign-in: {url} must be https in production")
    if any(network.prefixlen == 0 for network in s.trusted_proxies):
        problems.append("TRUSTED_PROXIES must not trust every address (anyone could fake their IP)")
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
