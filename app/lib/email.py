"""Email for the app: a `Mailer` renders a template and delivers it, over SMTP or into the
development outbox.

Where mail goes depends on APP_ENV:

- production: SMTP, which must be configured (`SMTP_*`).
- development: SMTP when SMTP_HOST is set, else the outbox in DATA_DIR (shown at /dev/outbox).
- test: always the outbox. No connection is ever opened, whatever `SMTP_*` says.

Rendering lives in `email_render`, SMTP in `email_send`; this module ties them together.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import formataddr, getaddresses
from pathlib import Path
from urllib.parse import urlsplit

from app.lib.email_render import TEMPLATES_DIR, RenderedEmail, TemplateError, render_email
from app.lib.email_send import (
    Delivery,
    DeliveryError,
    SmtpConfig,
    SmtpConfigError,
    build_message,
    send_batch,
    send_message,
)
from app.settings import Settings

__all__ = [
    "Delivery",
    "DeliveryError",
    "Mailer",
    "Outbox",
    "OutboxMessage",
    "SmtpConfig",
    "SmtpConfigError",
    "TemplateError",
    "mailer_for",
    "outbox_for",
]

OUTBOX_DIR = "outbox"
# Outbox files only (never mail that leaves over SMTP): the workspace a message was sent
# from, so /dev/outbox shows each person only their own mail and their workspace's.
WORKSPACE_HEADER = "X-Outbox-Workspace"
# The id is the file name: a UTC timestamp to the microsecond, so names sort by age, and a
# random part. Anything else (`..`, slashes, other files) is not a message.
OUTBOX_ID = re.compile(r"[0-9]{8}T[0-9]{12}-[0-9a-f]{8}")

Recipient = tuple[str, Mapping[str, str | int]]  # an address and its template variables


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    sender: str
    to: str
    subject: str
    date: str
    message_id: str
    text: str
    html: str
    workspace: str = ""  # the tenant it was sent from; "" for mail about a person

    def visible_to(self, email: str, workspace: str | None) -> bool:
        """Sent to `email`, or from `workspace` (the viewer's current one, if any)."""
        recipients = {address.lower() for _, address in getaddresses([self.to])}
        return email.lower() in recipients or bool(workspace and self.workspace == workspace)


class Outbox:
    """Messages kept as `.eml` files in one directory, which any mail client can open.

    File names sort oldest to newest, so listing needs no index that could go stale.
    """

    def __init__(self, directory: Path):
        self.directory = directory

    def save(self, message: Message, workspace: str | None = None) -> str:
        """Store `message` (sent from `workspace`, if it is a workspace's); returns its id."""
        if workspace:
            message[WORKSPACE_HEADER] = workspace
        self.directory.mkdir(parents=True, exist_ok=True)
        outbox_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
        partial = self.directory / f".{outbox_id}.partial"
        partial.write_bytes(message.as_bytes())
        partial.replace(self.directory / f"{outbox_id}.eml")  # readers never see half a file
        return outbox_id

    def ids(self) -> list[str]:
        """Every message id, newest first."""
        names = (path.stem for path in self.directory.glob("*.eml"))
        return sorted((name for name in names if OUTBOX_ID.fullmatch(name)), reverse=True)

    def get(self, outbox_id: str) -> OutboxMessage | None:
        """The message with this id, or None for an unknown or malformed id."""
        if not OUTBOX_ID.fullmatch(outbox_id):
            return None
        path = self.directory / f"{outbox_id}.eml"
        try:
            with path.open("rb") as file:
                parsed = BytesParser(policy=policy.default).parse(file)
        except FileNotFoundError:
            return None
        return _outbox_message(outbox_id, parsed)


def _outbox_message(outbox_id: str, message: EmailMessage) -> OutboxMessage:
    def part(subtype: str) -> str:
        body = message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""

    return OutboxMessage(
        id=outbox_id,
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        date=str(message["Date"] or ""),
        message_id=str(message["Message-ID"] or ""),
        text=part("plain"),
        html=part("html"),
        workspace=str(message[WORKSPACE_HEADER] or ""),
    )


@dataclass(frozen=True)
class Mailer:
    """Renders templates and delivers the messages to an SMTP server or an outbox."""

    transport: SmtpConfig | Outbox
    sender: str
    defaults: Mapping[str, str] = field(default_factory=dict)  # the layout's: app_name, base_url
    templates_dir: Path = TEMPLATES_DIR

    def send(
        self,
        template: str,
        to: str,
        variables: Mapping[str, str | int],
        workspace: str | None = None,
    ) -> str:
        """Render and deliver one message (about `workspace`, if it is a workspace's mail);
        returns its Message-ID.

        A bad template, variable or address raises (TemplateError, ValueError) before any
        connection is opened; a failed delivery raises DeliveryError.
        """
        message = build_message(self._render(template, variables), to=to, sender=self.sender)
        if isinstance(self.transport, Outbox):
            self.transport.save(message, workspace)
        else:
            send_message(self.transport, message)
        return str(message["Message-ID"])

    def send_batch(self, template: str, recipients: Sequence[Recipient]) -> list[Delivery]:
        """Deliver one message per recipient; one result each, in order.

        Every message is rendered before the first is sent, so a TemplateError raises with
        nothing sent. A malformed address or a refused message fails only that recipient.
        """
        prepared: list[Message | Delivery] = []
        for to, variables in recipients:
            rendered = self._render(template, variables)
            try:
                prepared.append(build_message(rendered, to=to, sender=self.sender))
            except ValueError as exc:  # a malformed address
                prepared.append(Delivery(to=to, message_id="", error=str(exc)))
        messages = [m for m in prepared if isinstance(m, Message)]
        delivered = iter(self._deliver_all(messages))
        return [m if isinstance(m, Delivery) else next(delivered) for m in prepared]

    def _render(self, template: str, variables: Mapping[str, str | int]) -> RenderedEmail:
        return render_email(template, {**self.defaults, **variables}, self.templates_dir)

    def _deliver_all(self, messages: list[Message]) -> list[Delivery]:
        if isinstance(self.transport, SmtpConfig):
            return send_batch(self.transport, messages)
        for message in messages:
            self.transport.save(message)
        return [Delivery(to=str(m["To"]), message_id=str(m["Message-ID"])) for m in messages]


def outbox_for(settings: Settings) -> Outbox:
    return Outbox(settings.data_dir / OUTBOX_DIR)


def mailer_for(settings: Settings, *, app_name: str) -> Mailer:
    """The mailer these settings call for (see the module docstring).

    Raises `SmtpConfigError` on bad `SMTP_*` settings, in every environment, so a mistake
    shows up in development and tests too.
    """
    smtp = SmtpConfig.from_settings(settings)
    defaults = {"app_name": app_name, "base_url": settings.base_url}
    if smtp is not None and settings.app_env != "test":
        return Mailer(smtp, smtp.sender, defaults)
    hostname = urlsplit(settings.base_url).hostname or "localhost"
    sender = formataddr((app_name, f"no-reply@{hostname}"))
    return Mailer(outbox_for(settings), sender, defaults)
