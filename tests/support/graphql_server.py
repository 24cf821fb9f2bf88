"""A real GraphQL server on 127.0.0.1 that misbehaves on purpose: uvicorn in a thread.

`serve(app)` runs any ASGI app on a free port and yields its URL. `FaultInjector` wraps an
app and answers requests according to a repeating plan: "ok" passes the request through,
"429" and "503" refuse it (429 with `Retry-After: 0`), "drop" starts a response and cuts the
connection half way, which the client sees as a dropped connection. `fail_from` turns every
request from that number on into a 500, to make a sync fail part way.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

ACTIONS = ("ok", "429", "503", "drop")


class FaultInjector:
    def __init__(self, app: ASGIApp, plan: Sequence[str] = ("ok",), fail_from: int | None = None):
        if unknown := set(plan) - set(ACTIONS):
            raise ValueError(f"unknown fault {unknown}")
        self.app, self.plan, self.fail_from = app, list(plan), fail_from
        self.requests = 0
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with self._lock:
            self.requests += 1
            number = self.requests
            action = self.plan[(number - 1) % len(self.plan)]
            if self.fail_from is not None and number >= self.fail_from:
                action = "500"
            self.injected[action] += 1
        if action == "ok":
            return await self.app(scope, receive, send)
        if action == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"1000"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"data": {"ord', "more_body": True})
            raise ConnectionAbortedError("fault injector: dropping the connection")
        headers = [(b"content-type", b"application/json")]
        if action == "429":
            headers.append((b"retry-after", b"0"))
        body = json.dumps({"error": f"injected {action}"}).encode()
        await send({"type": "http.response.start", "status": int(action), "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 at a free port for the duration of the block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test GraphQL server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
