"""A real HTTP receiver on 127.0.0.1 for outbound webhooks: answers from a script, records
every request it gets."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    url: str
    script: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses, in turn
    redirect_to: str = ""  # the Location of a 3xx answer
    held: dict[str, threading.Event] = field(default_factory=dict)  # path -> answer once set
    body_size: dict[str, int] = field(default_factory=dict)  # path -> bytes in the answer
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{path} got {len(self.at(path))} requests, not {count}")


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                plan = state.script.get(self.path, [200])
                status = plan.pop(0) if len(plan) > 1 else plan[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                state.received.append(Received(self.path, headers, body, status))
                hold = state.held.get(self.path)
                answer = b"o" * state.body_size.get(self.path, 0) or b"ok"
            if hold is not None:
                hold.wait(10)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.redirect_to)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender stopped at its cap and hung up
                self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
