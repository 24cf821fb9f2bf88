"""The repository's image, built and run with this machine's Docker engine, for the tests.

The engine is Debian's client `/usr/bin/docker` (BuildKit built in) and a `dockerd` with no
bridge network, so builds and containers use the host's network (`--network host`): each
container listens on a free loopback port of its own and reaches the suite's PostgreSQL and
the tests' SMTP and OpenID servers on 127.0.0.1. `.ci/run` starts the engine
(../shared/tools/container-engine.sh); elsewhere the container tests skip, saying why, unless
SAAS_REQUIRE_CONTAINER=1 makes a missing engine fail them.

The production image insists on https for BASE_URL and the OpenID provider, so:
- the provider serves https with a throwaway certificate that the container trusts
  (`SSL_CERT_FILE`, mounted read-only), and
- the tests' browser speaks https to BASE_URL through a stand-in for the TLS-terminating
  proxy, which passes plain http on to the container (`proxied_browser`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.support.server import free_port
from tests.support.smtp import HOST, SmtpServer

DOCKER = "/usr/bin/docker"
ROOT = Path(__file__).resolve().parents[2]
# Where the container sees the test CA (the image runs as uid 10001: the file is world-readable).
CA_IN_CONTAINER = "/run/test-ca.pem"


def engine_problem() -> str | None:
    """Why no image can be built here, or None when the engine answers."""
    if not Path(DOCKER).is_file():
        return f"{DOCKER} (Debian's docker.io) is not installed; .ci/run sets up an engine"
    server = subprocess.run(
        [DOCKER, "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if server.returncode != 0:
        return f"no Docker engine answers: {server.stderr.strip()[-300:]}"
    return None


def require_engine() -> None:
    problem = engine_problem()
    if problem is None:
        return
    if os.environ.get("SAAS_REQUIRE_CONTAINER"):
        pytest.fail(f"a Docker engine is required here (SAAS_REQUIRE_CONTAINER=1): {problem}")
    pytest.skip(problem)


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args[:3])} failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    return result


def build(context: Path, *options: str, timeout: float = 900) -> None:
    """`docker build` with BuildKit on the host network (there is no bridge)."""
    result = subprocess.run(
        [DOCKER, "build", "--network", "host", *options, str(context)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        check=False,
    )
    assert result.returncode == 0, f"docker build failed:\n{result.stderr[-4000:]}"


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


@dataclass
class Container:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> dict:
        return inspect(self.name)["State"]

    def logs(self) -> str:
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def wait_until_serving(self, timeout: float = 60) -> None:
        """Until /healthz answers; fails with the container's log if it exits or hangs."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.state()["Running"]:
                raise AssertionError(f"{self.name} exited:\n{self.logs()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} does not serve:\n{self.logs()[-3000:]}")
            time.sleep(0.2)

    def stop(self, timeout: int) -> tuple[int, float]:
        """`docker stop -t timeout` (SIGTERM, SIGKILL after `timeout` s): (exit code, seconds)."""
        started = time.monotonic()
        docker("stop", "-t", str(timeout), self.name, timeout=timeout + 60)
        return self.state()["ExitCode"], time.monotonic() - started

    def start(self) -> None:
        docker("start", self.name)
        self.wait_until_serving()

    def exec(self, *command: str) -> subprocess.CompletedProcess:
        return docker("exec", self.name, *command, check=False)


@dataclass
class Engine:
    """Runs containers of one image and removes every container and volume it made."""

    image: str
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def volume(self) -> str:
        name = f"saas-test-{uuid.uuid4().hex[:12]}"
        docker("volume", "create", name)
        self.volumes.append(name)
        return name

    def run(
        self,
        env: dict[str, str],
        *options: str,
        command: Sequence[str] = (),
        wait: bool = True,
    ) -> Container:
        """Start a detached container listening on a free loopback port of the host."""
        container = Container(f"saas-test-{uuid.uuid4().hex[:12]}", free_port())
        env = {"HOST": "127.0.0.1", "PORT": str(container.port), **env}
        docker(
            "run", "-d", "--name", container.name, "--network", "host",
            *_env_options(env), *options, self.image, *command,
        )  # fmt: skip
        self.containers.append(container.name)
        if wait:
            container.wait_until_serving()
        return container

    def once(
        self, env: dict[str, str], *command: str, options: Sequence[str] = (), timeout: float = 120
    ) -> subprocess.CompletedProcess:
        """A one-off container (`docker run --rm`), as an operator runs `main.py migrate`."""
        return docker(
            "run", "--rm", "--network", "host", *_env_options(env), *options, self.image,
            *command, timeout=timeout, check=False,
        )  # fmt: skip

    def remove_all(self) -> None:
        for name in self.containers:
            docker("rm", "-f", "-v", name, check=False)
        for name in self.volumes:
            docker("volume", "rm", "-f", name, check=False)


def _env_options(env: dict[str, str]) -> list[str]:
    return [option for key, value in env.items() for option in ("-e", f"{key}={value}")]


def shared_folder(prefix: str) -> Path:
    """A temp folder the container's user can read (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    folder.chmod(0o755)
    return folder


@contextmanager
def trusted_ca(cert_file: Path) -> Iterator[list[str]]:
    """`docker run` options that make the container trust `cert_file` (the test CA)."""
    folder = shared_folder("saas-ca")
    try:
        shutil.copy(cert_file, folder / "ca.pem")
        (folder / "ca.pem").chmod(0o644)
        yield [
            "-v",
            f"{folder / 'ca.pem'}:{CA_IN_CONTAINER}:ro",
            "-e",
            f"SSL_CERT_FILE={CA_IN_CONTAINER}",
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class TlsTerminatingProxy(httpx.BaseTransport):
    """What sits in front of the app in production: the browser speaks https to BASE_URL, the
    proxy passes each request on to the container in plain http (Host kept)."""

    def __init__(self, container: Container):
        self.upstream = httpx.URL(container.url)
        self.transport = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(scheme="http", host=self.upstream.host, port=self.upstream.port)
        forwarded = httpx.Request(
            request.method, url, headers=request.headers, stream=request.stream
        )
        return self.transport.handle_request(forwarded)

    def close(self) -> None:
        self.transport.close()


def proxied_browser(container: Container, base_url: str, **options) -> httpx.Client:
    """A browser that reaches the container at `base_url` (https) through the proxy, so it
    keeps and sends the app's `Secure` cookies as a real one would."""
    return httpx.Client(base_url=base_url, transport=TlsTerminatingProxy(container), **options)


def oidc_sign_in(browser: httpx.Client, subject: str, ca_file: Path) -> httpx.Response:
    """Sign in as `subject` at the OpenID provider, as a person would; the dashboard's reply."""
    start = browser.get("/auth/google")
    assert start.status_code == 302, start.text
    trust = ssl.create_default_context(cafile=str(ca_file))
    consent = httpx.post(start.headers["location"], data={"sub": subject}, verify=trust)
    assert consent.status_code == 302, consent.text
    landed = browser.get(consent.headers["location"])  # BASE_URL/auth/callback?code=...
    assert landed.status_code == 303, landed.text
    assert landed.headers["location"] == "/dashboard"
    return browser.get("/dashboard")


@dataclass
class SlowSmtp(SmtpServer):
    """A relay that holds each message `delay` seconds before accepting it, so email jobs
    are still running when the container is told to stop."""

    delay: float = 0.0
    sending: list[str] = field(default_factory=list)  # recipients whose DATA has begun

    async def handle_DATA(self, server, session, envelope):
        self.sending.extend(envelope.rcpt_tos)
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def slow_smtp() -> Iterator[SlowSmtp]:
    server = SlowSmtp(HOST, free_port())
    controller = Controller(server, hostname=HOST, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
