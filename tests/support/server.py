"""Run the real app (`main.py`) as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`with AppServer(env) as server:` starts main.py and waits until /healthz answers."""

    def __init__(self, env: dict[str, str], port: int | None = None):
        self.port = port or free_port()
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), **env}
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="app-server-", suffix=".log")  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> AppServer:
        self.process = subprocess.Popen(
            [sys.executable, "main.py"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become healthy in time")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> AppServer:
        # `with AppServer(env).start(timeout=60)` must not start a second, orphaned process.
        return self if self.process else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def env_for(settings) -> dict[str, str]:
    """Environment that makes a server subprocess use the same data as test `settings`."""
    return {
        "APP_ENV": "test",
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url,
        "TENANT_DATABASE_URL": settings.tenant_database_url,
    }


def sign_in_over_http(client: httpx.Client, email: str) -> str:
    """Development sign-in against a real server; returns the dashboard's CSRF token."""
    from tests.support.html import csrf_from

    client.post(
        "/login/dev", data={"email": email, "csrf_token": csrf_from(client.get("/login").text)}
    )
    return csrf_from(client.get("/dashboard").text)
