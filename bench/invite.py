"""How long an invite request takes when the SMTP server is slow: it must not wait for it.

The real app is served by uvicorn on 127.0.0.1 with mail going to a local SMTP server
(aiosmtpd) that holds every message for --delay seconds before answering. A signed-in owner
posts --invites invitations one after another; the email of each is a background job. For
comparison, one message is sent directly to the same server.

    uv run python -m bench.invite [--invites 50] [--delay 2]
"""

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass

import httpx
import uvicorn
from aiosmtpd.controller import Controller

from app.factory import create_app
from app.lib.email import Mailer
from app.lib.email_send import SmtpConfig
from app.settings import load_settings
from tests.support.html import csrf_from
from tests.support.smtp import HOST, SmtpServer, free_port

SENDER = "Acme <no-reply@acme.example>"


@dataclass
class SlowSmtp(SmtpServer):
    """Accepts every message, but only after `delay` seconds."""

    delay: float = 2.0

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def serve(app, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invites", type=int, default=50)
    parser.add_argument("--delay", type=float, default=2.0)
    args = parser.parse_args()

    smtp = SlowSmtp(HOST, free_port(), delay=args.delay)
    controller = Controller(smtp, hostname=HOST, port=smtp.port)
    controller.start()
    data_dir = tempfile.TemporaryDirectory()
    settings = load_settings(
        env={
            "APP_ENV": "development",
            "DATA_DIR": data_dir.name,
            "SMTP_HOST": HOST,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "SMTP_FROM": SENDER,
            "SMTP_TIMEOUT": str(max(10.0, args.delay * 5)),
            "RATE_LIMIT_WRITES": "off",
        },
        env_file=None,
    )
    app = create_app(settings)
    port = free_port()
    server, thread = serve(app, port)
    try:
        with httpx.Client(base_url=f"http://{HOST}:{port}") as browser:
            token = csrf_from(browser.get("/login").text)
            browser.post("/login/dev", data={"email": "olive@example.com", "csrf_token": token})
            headers = {
                "X-CSRF-Token": csrf_from(browser.get("/members").text),
                "HX-Request": "true",
            }
            timings, started = [], time.perf_counter()
            for n in range(args.invites):
                begin = time.perf_counter()
                response = browser.post(
                    "/invitations", data={"email": f"person{n}@example.com"}, headers=headers
                )
                timings.append((time.perf_counter() - begin) * 1000)
                if "Invitation sent" not in response.text:
                    raise SystemExit(f"invite {n} failed: {response.status_code}")
            requests_done = time.perf_counter() - started
            while len(smtp.received) < args.invites and time.perf_counter() - started < 600:
                time.sleep(0.05)
            delivered_after = time.perf_counter() - started
            delivered = len(smtp.received)

        config = SmtpConfig(host=HOST, port=smtp.port, sender=SENDER, security="none", timeout=60)
        direct = Mailer(config, SENDER, {"app_name": "Acme", "base_url": settings.base_url})
        begin = time.perf_counter()
        direct.send(
            "welcome",
            "direct@example.com",
            {"name": "Ada", "tenant_name": "Acme", "dashboard_url": "x"},
        )
        direct_ms = (time.perf_counter() - begin) * 1000
    finally:
        server.should_exit = True
        thread.join()
        controller.stop()
        data_dir.cleanup()

    p95 = statistics.quantiles(timings, n=20)[-1] if len(timings) > 1 else timings[0]
    print(f"{args.invites} invite requests, SMTP server answering after {args.delay:.1f} s")
    print(f"  request time     median {statistics.median(timings):7.1f} ms")
    print(f"                   p95    {p95:7.1f} ms")
    print(f"                   max    {max(timings):7.1f} ms")
    print(f"                   first  {timings[0]:7.1f} ms, last {timings[-1]:.1f} ms")
    print(f"  all requests done after  {requests_done:7.2f} s")
    print(f"  emails delivered {delivered} of {args.invites} after {delivered_after:.2f} s")
    print(f"direct SMTP send, for comparison: {direct_ms:7.1f} ms")


if __name__ == "__main__":
    main()
