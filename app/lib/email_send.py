"""Delivering email over SMTP: the `SMTP_*` settings, building a message, and sending one
message (raises) or a batch (reports each recipient).

Retrying is not done here: a failed send raises, and the job system retries with backoff.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import Message
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from markdown_merge import create_multipart_msg

from app.lib.email_render import RenderedEmail
from app.settings import Settings, SettingsError

SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_TIMEOUT = 10.0
SMTP_SETTINGS = ("host", "port", "security", "username", "password", "from", "timeout", "ca_file")

# The server said no to this message; the connection is still good for the next one.
MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


class SmtpConfigError(SettingsError):
    """Bad `SMTP_*` settings, every problem listed (the CLI reports it like any setting)."""


class DeliveryError(Exception):
    """The message was not delivered: the server could not be reached or refused it."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    sender: str  # the From header: "Acme <no-reply@acme.example>" or a bare address
    port: int = DEFAULT_PORTS["starttls"]
    security: str = "starttls"  # starttls | ssl | none
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = DEFAULT_TIMEOUT
    ca_file: Path | None = None  # trust this CA instead of the system's (a private relay)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """The `SMTP_*` settings, checked; None when SMTP_HOST is unset (never in production).

        Raises `SmtpConfigError` listing every bad, missing or unknown value.
        """
        raw = {key: value.strip() for key, value in settings.smtp.items()}
        problems = [
            f"SMTP_{key.upper()} is not a setting (known: "
            f"{', '.join('SMTP_' + k.upper() for k in SMTP_SETTINGS)})"
            for key in sorted(set(raw) - set(SMTP_SETTINGS))
        ]
        if not raw.get("host"):
            if settings.is_production:
                problems.append("SMTP_HOST is missing: production delivers real email")
            if problems:
                raise SmtpConfigError(problems)
            return None
        config = cls._parse(raw, problems)
        if settings.is_production and config.security == "none" and not _loopback(config.host):
            problems.append("SMTP_SECURITY=none is only allowed for a relay on this machine")
        if problems:
            raise SmtpConfigError(problems)
        return config

    @classmethod
    def _parse(cls, raw: dict[str, str], problems: list[str]) -> SmtpConfig:
        security = raw.get("security", "").lower() or "starttls"
        if security not in SECURITY_MODES:
            problems.append(
                f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, got {security!r}"
            )
            security = "starttls"
        port = _number(raw, "port", int, DEFAULT_PORTS[security], problems)
        if not 0 < port < 65536:
            problems.append(f"SMTP_PORT must be between 1 and 65535, got {port}")
        sender = raw.get("from", "")
        if not sender:
            problems.append(
                "SMTP_FROM is missing: the From address, like 'Acme <no-reply@acme.example>'"
            )
        else:
            try:
                parse_sender(sender)
            except ValueError as exc:
                problems.append(f"SMTP_FROM {exc}")
        username, password = raw.get("username", ""), raw.get("password", "")
        if bool(username) != bool(password):
            problems.append("SMTP_USERNAME and SMTP_PASSWORD go together: set both or neither")
        if password and security == "none":
            problems.append("SMTP_SECURITY=none would send SMTP_PASSWORD unencrypted")
        ca_file = Path(raw["ca_file"]) if raw.get("ca_file") else None
        if ca_file and not ca_file.is_file():
            problems.append(f"SMTP_CA_FILE {str(ca_file)!r} is not a file")
        return cls(
            host=raw["host"],
            sender=sender,
            port=port,
            security=security,
            username=username,
            password=password,
            timeout=_number(raw, "timeout", float, DEFAULT_TIMEOUT, problems),
            ca_file=ca_file,
        )


@dataclass(frozen=True)
class Delivery:
    """What happened to one message of a batch."""

    to: str
    message_id: str
    error: str = ""  # empty when the server accepted the message

    @property
    def ok(self) -> bool:
        return not self.error


def parse_sender(value: str) -> Address:
    """One address with a domain, optionally with a display name: `Acme <hi@acme.example>`."""
    header = policy.default.header_factory("From", value)
    addresses = header.addresses
    if len(addresses) != 1 or header.defects or not addresses[0].domain:
        raise ValueError(
            f"must be one email address like 'Acme <no-reply@example.com>', got {value!r}"
        )
    return addresses[0]


def normalize_address(value: str) -> str:
    """`value` as one address a mail provider would deliver to, lower-cased, with its domain
    in ASCII (IDNA); raises ValueError saying what is wrong. Refused: display names, lists,
    quoted local parts, IP literals, dotless and special-use domains (localhost, .test, ...),
    and non-ASCII local parts, which need SMTPUTF8 that not every server speaks. No DNS."""
    try:
        valid = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as e:
        raise ValueError(str(e)) from None
    return str(valid.ascii_email).lower()


def parse_recipient(value: str) -> Address:
    """A bare address (`ada@example.com`); raises ValueError on anything else."""
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, TypeError, HeaderParseError):  # the parser's junk errors
        address = None
    if address is None or not address.domain:
        raise ValueError(f"not an email address: {value!r}")
    return address


def build_message(rendered: RenderedEmail, *, to: str, sender: str) -> Message:
    """A multipart/alternative message (text, then HTML) with Date and Message-ID set."""
    recipient = parse_recipient(to)
    headers = {
        "Date": format_datetime(datetime.now(UTC)),
        # A domain of our own: without one, make_msgid asks DNS for this host's name.
        "Message-ID": make_msgid(domain=parse_sender(sender).domain),
    }
    return create_multipart_msg(
        rendered.subject,
        sender,
        recipient.addr_spec,
        md=rendered.text,
        html=rendered.html,
        hdrs=headers,
    )


def send_message(config: SmtpConfig, message: Message) -> None:
    """Deliver one message over a connection of its own; raises `DeliveryError` on failure."""
    with _connection(config) as smtp:
        try:
            smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(_failure(config, message, exc)) from exc


def send_batch(config: SmtpConfig, messages: Sequence[Message]) -> list[Delivery]:
    """Deliver each message over one connection; never raises for a delivery failure.

    A refused message does not stop the others. A dropped connection is reopened for the
    next message; if the server cannot be reached at all, the rest are reported failed
    without a connection attempt each (each could cost the whole timeout).
    """
    deliveries: list[Delivery] = []
    smtp: smtplib.SMTP | None = None
    try:
        for index, message in enumerate(messages):
            if smtp is None:
                try:
                    smtp = _connect(config)
                except DeliveryError as exc:
                    deliveries += [_delivery(m, str(exc)) for m in messages[index:]]
                    break
            try:
                smtp.send_message(message)
            except MESSAGE_REFUSED as exc:
                deliveries.append(_delivery(message, _failure(config, message, exc)))
            except (OSError, smtplib.SMTPException) as exc:
                deliveries.append(_delivery(message, _failure(config, message, exc)))
                _close(smtp)
                smtp = None
            else:
                deliveries.append(_delivery(message))
    finally:
        if smtp is not None:
            _close(smtp)
    return deliveries


@contextmanager
def _connection(config: SmtpConfig) -> Iterator[smtplib.SMTP]:
    smtp = _connect(config)
    try:
        yield smtp
    finally:
        _close(smtp)


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    """An open, secured and logged-in connection, or `DeliveryError` saying which step failed."""
    tls = ssl.create_default_context(cafile=config.ca_file)  # verifies the certificate and name
    smtp: smtplib.SMTP | None = None
    try:
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=tls)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        if config.security == "starttls":
            smtp.starttls(context=tls)  # raises if the server does not offer STARTTLS
        if config.username:
            smtp.login(config.username, config.password)
    except (OSError, smtplib.SMTPException) as exc:
        if smtp is not None:
            smtp.close()
        raise DeliveryError(f"cannot use SMTP server {config.server}: {_reason(exc)}") from exc
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    with suppress(OSError, smtplib.SMTPException):  # the server may already have hung up
        smtp.quit()
    smtp.close()


def _delivery(message: Message, error: str = "") -> Delivery:
    return Delivery(to=str(message["To"]), message_id=str(message["Message-ID"]), error=error)


def _failure(config: SmtpConfig, message: Message, exc: Exception) -> str:
    return f"SMTP server {config.server} did not deliver to {message['To']}: {_reason(exc)}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(_reply(code, text) for code, text in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    return str(exc) or type(exc).__name__


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _number(
    raw: dict[str, str],
    key: str,
    kind: type[int] | type[float],
    default: float,
    problems: list[str],
) -> Any:
    if not raw.get(key):
        return default
    try:
        number = kind(raw[key])
    except ValueError:
        problems.append(f"SMTP_{key.upper()} must be a number, got {raw[key]!r}")
        return default
    if not 0 < number < float("inf"):  # also refuses nan
        problems.append(f"SMTP_{key.upper()} must be positive, got {raw[key]!r}")
        return default
    return number


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
