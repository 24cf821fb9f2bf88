"""Real SMTP for tests: an aiosmtpd server on 127.0.0.1 that keeps what it receives.

    with smtp_server() as server:
        ...send to server.host, server.port...
        assert server.received[0].message["Subject"] == "Welcome"

Also: a throwaway self-signed certificate for TLS tests, a listener that only counts
connections (to prove nothing connected), and a port where nothing listens.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# cryptography is always installed: authlib (a runtime dependency) requires it.
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port that was free a moment ago: nothing listens there, so connecting is refused."""
    return free_port()


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    over_tls: bool
    logged_in_as: str | None

    @property
    def message(self) -> EmailMessage:
        # Parsed on demand: parsing in the server thread would slow every sender down.
        return BytesParser(policy=policy.default).parsebytes(self.content)


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    refuse: frozenset[str] = frozenset()  # recipients answered with 550

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    # aiosmtpd handler hooks

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if session.authenticated else None
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.content,
                over_tls=server.transport.get_extra_info("ssl_object") is not None,
                logged_in_as=login,
            )
        )
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(
    *,
    refuse: Iterable[str] = (),
    certificate: Certificate | None = None,
    implicit_tls: bool = False,
    credentials: tuple[str, str] | None = None,
    port: int | None = None,
) -> Iterator[SmtpServer]:
    """Serve SMTP on `port` (default: a free one) until the block ends.

    With a `certificate`, the server offers STARTTLS and refuses mail without it, or with
    `implicit_tls` speaks TLS from the first byte (SMTPS). With `credentials` it requires
    AUTH with exactly that username and password (over TLS).
    """
    server = SmtpServer(HOST, port or free_port(), refuse=frozenset(refuse))
    tls = certificate.server_context() if certificate else None
    options: dict = {"hostname": HOST, "port": server.port}
    if tls and implicit_tls:
        options["ssl_context"] = tls
    elif tls:
        options.update(tls_context=tls, require_starttls=True)
    if credentials:
        options.update(authenticator=_authenticator(*credentials), auth_required=True)
    controller = Controller(server, **options)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def _authenticator(username: str, password: str):
    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == LoginPassword(
            username.encode(), password.encode()
        )
        # handled=False: aiosmtpd answers a failure with its standard 535 reply.
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticate


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def self_signed_certificate(directory: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost, valid for a day; clients trust it by
    loading `cert_file` as their CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


class ConnectionCounter:
    """A socket that listens and never answers: `connections()` says how many clients came."""

    def __init__(self) -> None:
        self.socket = socket.create_server((HOST, 0), backlog=16)
        self.port = self.socket.getsockname()[1]
        self.socket.setblocking(False)
        self.count = 0

    def connections(self) -> int:
        while True:  # the kernel completed every handshake already; take them off the queue
            try:
                client, _ = self.socket.accept()
            except BlockingIOError:
                return self.count
            client.close()
            self.count += 1

    def close(self) -> None:
        self.socket.close()


@contextmanager
def connection_counter() -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter()
    try:
        yield counter
    finally:
        counter.close()
