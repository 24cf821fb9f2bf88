"""Email throughput: render alone, then render and deliver a batch of 1,000 to a local SMTP
server (aiosmtpd on 127.0.0.1, one connection for the batch), then to the outbox.

    uv run python -m bench.email [--messages 1000]

Run it as a module: as a script, this file's name would hide the standard library's `email`.
"""

if not __package__:
    raise SystemExit("Run it as a module: uv run python -m bench.email")

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.lib.email import Mailer, Outbox
from app.lib.email_render import render_email
from app.lib.email_send import SmtpConfig, build_message
from tests.support.smtp import smtp_server

SENDER = "Acme <no-reply@acme.example>"
SITE = {"app_name": "Acme", "base_url": "https://acme.example"}


def recipients(count: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (
            f"person{n}@example.com",
            {
                "name": f"Person {n}",
                "tenant_name": f"Workspace {n % 50}",
                "dashboard_url": f"https://acme.example/dashboard?t={n % 50}",
            },
        )
        for n in range(count)
    ]


def timed(label: str, count: int, work: Callable[[], object]) -> None:
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    per_message = seconds / count * 1000
    print(
        f"{label:<42} {count / seconds:>9,.0f} msg/s  {per_message:6.3f} ms/msg  ({seconds:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    count = parser.parse_args().messages
    batch = recipients(count)

    def render_all():
        return [render_email("welcome", {**SITE, **variables}) for _, variables in batch]

    def build_all():
        for to, variables in batch:
            build_message(render_email("welcome", {**SITE, **variables}), to=to, sender=SENDER)

    print(f"{count:,} welcome emails")
    render_all()  # warm up: imports and the Markdown converter's first run
    timed("render (Markdown -> text + HTML)", count, render_all)
    timed("render + build MIME message", count, build_all)

    with smtp_server() as server:
        smtp = SmtpConfig(host=server.host, port=server.port, sender=SENDER, security="none")
        mailer = Mailer(smtp, SENDER, SITE)
        timed(
            "render + deliver over SMTP (one batch)",
            count,
            lambda: mailer.send_batch("welcome", batch),
        )
        delivered = len(server.received)
    print(f"{'':<42} server received {delivered:,} of {count:,}")
    if delivered != count:
        raise SystemExit("some messages were not delivered")

    with tempfile.TemporaryDirectory() as directory:
        outbox = Mailer(Outbox(Path(directory)), SENDER, SITE)
        timed("render + write to the outbox", count, lambda: outbox.send_batch("welcome", batch))


if __name__ == "__main__":
    main()
