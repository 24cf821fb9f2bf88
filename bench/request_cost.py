"""CPU per request, in process: each page of the app against a bare FastHTML hello world.

    uv run python -m bench.request_cost [--requests 2000] [--only notes,dashboard]

Requests go straight into the ASGI app (no sockets, no server), one at a time, and the
process CPU time (`time.process_time`) over many of them is divided by their number. On a
noisy machine this holds far better than wall-clock throughput; `bench.request_path`
confirms the result with wrk against real servers. Background tasks a response carries run
inside the call, as they do in the server, so the webhook figure includes handling it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from fasthtml.common import FastHTML

from app.factory import create_app
from app.lib.signatures import sign_timestamped
from app.settings import load_settings
from tenants import webhooks as webhook_store
from tests.support.html import csrf_from


class Caller:
    """Calls an ASGI app the way a server would, keeping cookies between calls."""

    def __init__(self, app):
        self.app, self.cookies = app, SimpleCookie()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if self.cookies:
            cookie = "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())
            raw.append((b"cookie", cookie.encode()))
        raw += [(b"host", b"localhost:5001"), (b"content-length", str(len(body)).encode())]
        path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 5001),
        }
        sent = [{"type": "http.request", "body": body, "more_body": False}]
        out: dict = {"status": 0, "headers": {}, "body": b""}

        async def receive():
            return sent.pop() if sent else {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
                for k, v in message["headers"]:
                    if k == b"set-cookie":
                        self.cookies.load(v.decode())
                    out["headers"][k.decode()] = v.decode()
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return out["status"], out["headers"], out["body"]

    async def form(self, path: str, fields: dict[str, str]) -> tuple[int, dict, bytes]:
        body = urlencode(fields).encode()
        return await self.request(
            "POST", path, body, {"content-type": "application/x-www-form-urlencoded"}
        )


def cpu_per_call(call: Callable, requests: int) -> float:
    """Microseconds of process CPU per call, after a warm-up."""

    async def run(n: int) -> None:
        for _ in range(n):
            await call()

    asyncio.run(run(max(50, requests // 10)))
    gc.collect()
    start = time.process_time()
    asyncio.run(run(requests))
    return (time.process_time() - start) / requests * 1e6


def hello_app() -> FastHTML:
    app = FastHTML(default_hdrs=False)

    @app.get("/")
    def index():
        return "Hello, world"

    return app


async def signed_in(app) -> tuple[Caller, str]:
    """A browser signed in through the dev sign-in; returns it and its CSRF token."""
    browser = Caller(app)
    _, _, login = await browser.request("GET", "/login")
    status, _, _ = await browser.form(
        "/login/dev", {"email": "bench@example.com", "csrf_token": csrf_from(login.decode())}
    )
    assert status == 303, status
    _, _, page = await browser.request("GET", "/dashboard")
    return browser, csrf_from(page.decode())


def webhook_target(app, tenant_id: str) -> tuple[str, str]:
    """A demo webhook endpoint of the tenant: (URL path, signing secret)."""
    endpoint_id, token = webhook_store.create_endpoint(app.state.catalog, tenant_id, "demo")
    with app.state.databases.handle(tenant_id) as db:
        _, secret = webhook_store.add_secret(db.conn, endpoint_id)
        db.commit()
    return f"/webhooks/demo/{token}", secret


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))

    with tempfile.TemporaryDirectory() as d:
        settings = load_settings(
            env={"APP_ENV": "test", "DATA_DIR": str(Path(d) / "data"), "LOG_LEVEL": "WARNING"},
            env_file=None,
        )
        app = create_app(settings)
        browser, token = asyncio.run(signed_in(app))
        tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
        hook_path, secret = webhook_target(app, tenant_id)
        post = app.state.blog.published().posts[0].slug
        hello = Caller(hello_app())
        anonymous = Caller(app)
        hx = {"hx-request": "true", "x-csrf-token": token}
        sequence = iter(range(10**9))

        def webhook():
            n = next(sequence)
            body = json.dumps({"id": f"evt_{n}", "type": "demo.ping", "data": {}}).encode()
            headers = {"content-type": "application/json"}
            headers["webhook-signature"] = sign_timestamped(secret, body)
            return anonymous.request("POST", hook_path, body, headers)

        cases = {
            "hello": lambda: hello.request("GET", "/"),
            "healthz": lambda: anonymous.request("GET", "/healthz"),
            "notes": lambda: browser.request("GET", "/notes", headers=hx),
            "dashboard": lambda: browser.request("GET", "/dashboard"),
            "blog_post": lambda: anonymous.request("GET", f"/blog/{post}"),
            "webhook": webhook,
        }
        for name, call in cases.items():
            status, _, body = asyncio.run(call())
            assert status == 200, (name, status, body[:300])
        base = cpu_per_call(cases["hello"], args.requests)
        print(f"{'hello':<10} {base:8.0f} us CPU/request   1.00 of hello")
        for name, call in cases.items():
            if name == "hello" or (only and name not in only):
                continue
            cost = cpu_per_call(call, args.requests)
            print(f"{name:<10} {cost:8.0f} us CPU/request   {base / cost:4.2f} of hello")
        app.state.databases.dispose()
        app.state.catalog.dispose()


if __name__ == "__main__":
    main()
