"""Logging, configured once at startup: level and optional rotating file from settings.

Production writes one JSON object per line (for a log collector), development readable lines.
Every line carries the id of the request it belongs to (app/request_id.py), and passes
through `Redact` first: emails become `a***@example.com`, and passwords, tokens, the webhook
token in a URL and the configured secrets become `***`, whoever logged them.

One line per event: an error's traceback is written once (`OneTracebackPerError`), and the
HTTP clients' own INFO line per request (httpx, and httpx2 under authlib) is left out: a
sync of a thousand pages is one event, reported by the job, not a thousand.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from app.settings import Settings
from app.web.request_id import current_request_id

READABLE_FORMAT = "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5
QUIET_LOGGERS = ("httpx", "httpcore", "httpx2", "httpcore2")  # WARNING and above only

# Order matters: a DSN's password goes before the email rule could read `pass@host` as an email.
SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(://[^:/@\s]+):[^@\s/]+@"), r"\1:***@"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), r"\1 ***"),
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|client_secret|token|access_token|refresh_token"
            r"|id_token|api_key|code|state|csrf_token|sid)=[^&\s\"',;]+"
        ),
        r"\1=***",
    ),
    (
        re.compile(
            r'(?i)("(?:password|secret|client_secret|token|access_token|api_key)"\s*:\s*")[^"]*'
        ),
        r"\1***",
    ),
    (re.compile(r"(/webhooks/[^/\s]+/)[^/\s?\"']+"), r"\1***"),
    (
        re.compile(r"\b([\w.%+-])[\w.%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"),
        r"\1***@\2",
    ),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class Redact(logging.Filter):
    """Rewrites the record's final text (message, traceback, stack) before any formatter."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        # Longest first, so a secret containing another is replaced whole. Values too short to
        # be real secrets would turn ordinary words into `***`.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


class OneTracebackPerError(logging.Filter):
    """Drops a record whose exception an earlier record already logged. Starlette hands an
    unhandled error to the app's 500 handler, which logs it with its request, and then
    re-raises it to the server, which logs it again ("Exception in ASGI application"). Every
    handler sees the same first record, so each keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return True
        first = getattr(error, "_first_log_record", None)
        if first is None:
            try:
                error._first_log_record = record  # type: ignore[attr-defined]
            except AttributeError:  # an exception type without attributes: log it each time
                return True
            return True
        return first is record


class WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def known_secrets(settings: Settings) -> list[str]:
    """Configured values that must never appear in a log, whatever pattern they have."""
    values = [
        settings.secret_key,
        *(provider.client_secret for provider in settings.providers),
        settings.smtp.get("password", ""),
    ]
    for url in (settings.database_url, settings.tenant_database_url):
        values.append(make_url(url).password or "")
    return [v for v in values if v]


def configure_logging(settings: Settings) -> None:
    """Replace the root logger's handlers: stderr, plus LOG_FILE (rotated) if set."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if settings.log_file is not None:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                settings.log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS
            )
        )
    formatter = JsonLines() if settings.is_production else logging.Formatter(READABLE_FORMAT)
    # Filters on the handlers (not the loggers) also see records propagated from any logger.
    redacting, once = Redact(known_secrets(settings)), OneTracebackPerError()
    for handler in handlers:
        handler.addFilter(once)
        handler.addFilter(WithRequestId())
        handler.addFilter(redacting)
        handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
