"""The production image, built from the repository's Dockerfile and run with a real engine.

Each test runs containers of the image as an operator would (docs/deploy.md): production
settings, SQLite on a volume or the suite's PostgreSQL, a read-only root file system, sign-in
through an OpenID provider over https, mail to an SMTP relay, `docker stop` and `docker start`.
Without an engine these tests skip, saying why; `.ci/run` provides one and sets
SAAS_REQUIRE_CONTAINER=1, so there a missing engine fails them (tests/support/container.py).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
from oidc_provider_mock import User

from tenants.migrate import HOST_MIGRATIONS, TENANT_MIGRATIONS, load
from tests.support.container import (
    ROOT,
    Container,
    Engine,
    SlowSmtp,
    build,
    docker,
    inspect,
    oidc_sign_in,
    proxied_browser,
    require_engine,
    slow_smtp,
    trusted_ca,
)
from tests.support.html import csrf_from
from tests.support.oidc import oidc_env, oidc_provider
from tests.support.smtp import Certificate, self_signed_certificate

BASE_URL = "https://app.example.test"  # the proxy's name: the browser reaches it via the proxy
USERS = [
    User(sub="ada-sub", claims={"email": "ada@example.com", "email_verified": True, "name": "Ada"})
]
STOP_TIMEOUT = 30  # what docs/deploy.md tells operators to give the container
SHUTDOWN_GRACE = 10  # app/work/scheduler.py SHUTDOWN_GRACE_SECONDS


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    require_engine()
    image = f"saas-test:{uuid.uuid4().hex[:8]}"
    build(ROOT, "-t", image)
    engine = Engine(image)
    yield engine
    engine.remove_all()
    docker("rmi", image, check=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Certificate:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def issuer(certificate) -> Iterator[str]:
    with oidc_provider(USERS, tls=certificate.server_context()) as url:
        yield url


@pytest.fixture(scope="module")
def trust(certificate) -> Iterator[list[str]]:
    """`docker run` options that make the container trust the provider's certificate."""
    with trusted_ca(certificate.cert_file) as options:
        yield options


@pytest.fixture
def smtp() -> Iterator[SlowSmtp]:
    with slow_smtp() as server:
        yield server


def production(issuer: str, smtp: SlowSmtp, **extra: str) -> dict[str, str]:
    """Everything production insists on (docs/deploy.md), pointing at the test servers."""
    return {
        "SECRET_KEY": "container-test-secret-key-0123456789-abcdefgh",
        "BASE_URL": BASE_URL,
        **oidc_env(issuer),
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",  # allowed for a relay on this machine only
        "SMTP_FROM": "Starter <no-reply@app.example.test>",
        **extra,
    }


def assert_clean(container: Container) -> None:
    logs = container.logs()
    assert "Traceback" not in logs, logs[-4000:]


def htmx(page: httpx.Response) -> dict[str, str]:
    return {"X-CSRF-Token": csrf_from(page.text), "HX-Request": "true"}


# -- the image ------------------------------------------------------------------------------


def test_production_refuses_to_start_without_settings_and_names_each_problem(engine, smtp):
    bare = engine.once({})
    assert bare.returncode == 2, bare.stdout + bare.stderr
    for problem in (
        "SECRET_KEY is missing",
        "no way to sign in: configure a provider",
        "BASE_URL must be https in production",
    ):
        assert problem in bare.stdout, bare.stdout
    assert "Traceback" not in bare.stdout + bare.stderr

    settings = production("https://127.0.0.1:9", smtp)
    del settings["SMTP_HOST"]
    no_mail = engine.once(settings)
    assert no_mail.returncode == 2, no_mail.stdout + no_mail.stderr
    assert "SMTP_HOST is missing" in no_mail.stdout
    assert "Traceback" not in no_mail.stdout + no_mail.stderr


INSIDE = r"""
import importlib.util, json, os, shutil, sys
from pathlib import Path

import app.cli  # imports the whole app, as `python main.py` does

def stale(source: str) -> bool:
    cached = importlib.util.cache_from_source(source)
    if not os.path.exists(cached):
        return True
    header = Path(cached).read_bytes()[:16]
    flags = int.from_bytes(header[4:8], "little")
    if flags & 1:  # hash-based: trusted as is unless it asks for a check
        return bool(flags & 2) and header[8:16] != importlib.util.source_hash(Path(source).read_bytes())
    st = os.stat(source)
    return header[8:16] != ((int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
                            + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little"))

from app.lib.email_render import load_template
templates = sorted(p.stem for p in Path("/app/templates").glob("*.md") if p.stem != "layout")
for name in templates:
    load_template(name)

import polars, psycopg
frame = polars.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
sums = dict(frame.group_by("k").agg(polars.col("v").sum()).iter_rows())
sources = [m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", "") and m.__file__.endswith(".py")]
try:
    Path("/app/written-by-the-app").touch()
    code_writable = True
except OSError:
    code_writable = False
print(json.dumps({
    "uid": os.getuid(),
    "top": sorted(os.listdir("/app")),
    "app": sorted(os.listdir("/app/app")),
    "files": [str(p.relative_to("/app")) for p in Path("/app").rglob("*") if ".venv" not in p.parts],
    "dev_packages": [name for name in ("pytest", "ruff", "hypothesis", "playwright", "aiosmtpd", "oidc_provider_mock") if importlib.util.find_spec(name)],
    "uv": shutil.which("uv"),
    "templates": templates,
    "polars_sums": sums,
    "libpq": psycopg.pq.__impl__,
    "modules": len(sources),
    "not_compiled": [s for s in sources if s.startswith("/app/") and stale(s)],
    "code_writable": code_writable,
}))
"""


def test_the_image_holds_only_what_production_runs(engine):
    result = engine.once({}, "python", "-c", INSIDE)
    assert result.returncode == 0, result.stderr
    image = json.loads(result.stdout)
    assert image["uid"] == 10001  # not root
    assert image["top"] == sorted(
        [".venv", "__pycache__", "app", "blog", "main.py", "migrations", "static", "templates",
         "tenants"]
    )  # fmt: skip
    assert "demo" not in image["app"]  # production never loads it (app/factory.py)
    for file in image["files"]:
        assert not re.match(r"(tests|bench|docs|data|\.git|\.env)(/|$)", file), file
        assert not file.endswith((".env", ".db", ".pem", ".key")), file
    assert image["dev_packages"] == []
    assert image["uv"] is None
    assert image["templates"] == sorted(
        p.stem for p in (ROOT / "templates").glob("*.md") if p.stem != "layout"
    )  # each one loads
    assert image["polars_sums"] == {"a": 4, "b": 2}
    assert image["libpq"] == "binary"
    assert image["modules"] > 500  # the app and its dependencies really were imported
    assert image["not_compiled"] == []  # every module loads from its bytecode
    assert image["code_writable"] is False


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build(tmp_path):
    """What a developer's checkout holds besides the code never reaches the build."""
    require_engine()
    context = tmp_path / "checkout"
    planted = [
        ".env",
        ".env.production",
        "data/host.db",
        "data/tenants/0123.db",
        "data/.secret_key",
        ".git/config",
        ".venv/bin/python",
        "tests/test_cli.py",
        "bench/load.py",
        "docs/deploy.md",
        "test-artifacts/page.png",
        "app/demo/__init__.py",
        "app/__pycache__/factory.cpython-311.pyc",
        "server.pem",
    ]
    wanted = ["pyproject.toml", "uv.lock", "main.py", "app/factory.py", "migrations/host/x.sql"]
    for name in planted + wanted:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text("secret" if name in planted else "code")
    (context / ".dockerignore").write_text((ROOT / ".dockerignore").read_text())
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    (recipe / "Dockerfile").write_text("FROM scratch\nCOPY . /context/\n")
    out = tmp_path / "sent"
    build(context, "-f", str(recipe / "Dockerfile"), "--output", f"type=local,dest={out}")
    sent = sorted(str(p.relative_to(out / "context")) for p in out.rglob("*") if p.is_file())
    assert sent == sorted(wanted)


def test_runs_unprivileged_on_a_read_only_root_and_turns_healthy(engine, issuer, trust, smtp):
    container = engine.run(
        production(issuer, smtp), "--read-only", "--tmpfs", "/tmp", "-v", f"{engine.volume()}:/data", *trust
    )  # fmt: skip
    config = inspect(container.name)["Config"]
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    status = container.exec("grep", "^Uid:", "/proc/1/status").stdout.split()
    assert status[1:] == ["10001"] * 4  # the server process: real, effective, saved, fs uid

    assert httpx.get(f"{container.url}/healthz").status_code == 200
    ready = httpx.get(f"{container.url}/readyz")
    assert ready.status_code == 200, ready.text  # migrations/ came along and ran
    for asset in sorted(p for p in (ROOT / "static").rglob("*") if p.is_file()):
        path = asset.relative_to(ROOT / "static").as_posix()
        assert httpx.get(f"{container.url}/static/{path}").status_code == 200, path
    for post in sorted((ROOT / "blog").glob("*.md")):
        assert httpx.get(f"{container.url}/blog/{post.stem}").status_code == 200, post.name
    assert httpx.get(f"{container.url}/demo").status_code == 404

    deadline = time.monotonic() + 90  # the image checks every 10 s
    while (health := container.state()["Health"])["Status"] != "healthy":
        assert health["Status"] == "starting", health
        assert time.monotonic() < deadline, health
        time.sleep(1)
    assert_clean(container)


# -- PostgreSQL -----------------------------------------------------------------------------


def test_on_postgres_migrations_run_sign_in_works_and_instances_share_it(
    engine, pg_cluster, certificate, issuer, trust, smtp
):
    prefix = f"c{uuid.uuid4().hex[:8]}"
    host_url = pg_cluster.create_database(f"{prefix}_host")
    settings = production(
        issuer,
        smtp,
        DATABASE_URL=host_url,
        TENANT_DATABASE_URL=f"{pg_cluster.url}/{prefix}_{{tenant_id}}",
    )
    # The release step: migrations as a one-off container, then the checks.
    migrated = engine.once(settings, "python", "main.py", "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"host: {len(load(HOST_MIGRATIONS))} migration(s) applied" in migrated.stdout
    checked = engine.once(settings, "python", "main.py", "check", options=trust)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for part in ("host database", "tenant databases", "email (SMTP)", "sign-in (OpenID)"):
        assert re.search(rf"^ok +{re.escape(part)}:", checked.stdout, re.M), checked.stdout

    first, second = [engine.run(settings, "--read-only", "--tmpfs", "/tmp", *trust) for _ in "ab"]
    with proxied_browser(first, BASE_URL) as browser:
        dashboard = oidc_sign_in(browser, "ada-sub", certificate.cert_file)
        assert dashboard.status_code == 200 and "ada@example.com" in dashboard.text
        cookies = dict(browser.cookies)

    server = sa.create_engine(f"{pg_cluster.url}/postgres", poolclass=sa.pool.NullPool)
    with server.connect() as conn:
        names = (
            conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p ORDER BY datname"),
                {"p": f"{prefix}_%"},
            )
            .scalars()
            .all()
        )
    server.dispose()
    tenant_databases = [name for name in names if name != f"{prefix}_host"]
    assert len(tenant_databases) == 1, names  # the new person's workspace
    tenant = sa.create_engine(f"{pg_cluster.url}/{tenant_databases[0]}", poolclass=sa.pool.NullPool)
    with tenant.connect() as conn:
        applied = conn.execute(sa.text("SELECT count(*) FROM schema_migrations")).scalar()
    tenant.dispose()
    assert applied == len(load(TENANT_MIGRATIONS))

    # Another instance serves the same person: sessions and data live in PostgreSQL.
    with proxied_browser(second, BASE_URL, cookies=cookies) as other:
        page = other.get("/dashboard")
        assert page.status_code == 200 and "ada@example.com" in page.text
        assert (
            other.post("/notes", data={"body": "written on B"}, headers=htmx(page)).status_code
            == 200
        )
    with proxied_browser(first, BASE_URL, cookies=cookies) as back:
        assert "written on B" in back.get("/notes").text

    again = engine.once(settings, "python", "main.py", "migrate")
    assert again.returncode == 0 and "tenants: 1 migrated, 0 failed" in again.stdout, again.stdout
    for container in (first, second):
        assert_clean(container)


# -- SQLite on a volume, stop and start -----------------------------------------------------


def sqlite_container(engine: Engine, settings: dict[str, str], trust: list[str]) -> Container:
    return engine.run(
        settings, "--read-only", "--tmpfs", "/tmp", "-v", f"{engine.volume()}:/data", *trust
    )


def test_sqlite_data_on_the_volume_survives_stop_and_start(
    engine, certificate, issuer, trust, smtp
):
    container = sqlite_container(engine, production(issuer, smtp), trust)
    with proxied_browser(container, BASE_URL) as browser:
        page = oidc_sign_in(browser, "ada-sub", certificate.cert_file)
        assert (
            browser.post(
                "/notes", data={"body": "kept on the volume"}, headers=htmx(page)
            ).status_code
            == 200
        )

        exit_code, _ = container.stop(STOP_TIMEOUT)
        assert exit_code == 0, container.logs()[-3000:]  # it stopped by itself, not SIGKILL
        container.start()

        assert "kept on the volume" in browser.get("/notes").text  # the session survived too
    listing = container.exec("python", "main.py", "tenants", "list")
    assert listing.returncode == 0 and "active" in listing.stdout, listing.stdout
    assert_clean(container)


def post_slowly(
    browser: httpx.Client, headers: dict, body: str, sent: threading.Event
) -> httpx.Response:
    """A form posted in pieces over ~2 s: the request is in flight for that long."""

    def pieces() -> Iterator[bytes]:
        for n, part in enumerate(re.findall(".{1,8}", f"body={body}")):
            yield part.encode()
            if n == 0:
                sent.set()
            time.sleep(0.25)

    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    return browser.post("/notes", content=pieces(), headers=form)


def jobs(container: Container) -> list[dict[str, str]]:
    """Every job of the host and the tenants, as `main.py jobs list` shows them."""
    listing = container.exec("python", "main.py", "jobs", "list", "--limit", "500")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    lines = listing.stdout.strip().splitlines()
    if lines == ["(none)"]:
        return []
    return [
        dict(zip(["where", "id", "type", "status"], line.split()[:4], strict=True))
        for line in lines[1:]
    ]


def test_sigterm_lets_work_in_flight_finish_or_go_back_to_the_queue(
    engine, certificate, issuer, trust, smtp
):
    """Six `docker stop`/`docker start` cycles, each with a request and three email jobs in
    flight. In even cycles the mail server answers in 2 s: the jobs finish before the process
    exits. In odd ones it takes 14 s, past the 10 s grace: the jobs go back to the queue and
    the next start sends them. The container always exits by itself within the stop timeout,
    and every accepted job ends up done (mail is at least once: a job handed back while its
    message was on the wire is sent again)."""
    # A lease far longer than the test: only a hand-back can get a job run again in time.
    settings = production(issuer, smtp, SMTP_TIMEOUT="60", JOB_LEASE_SECONDS="600")
    container = sqlite_container(engine, settings, trust)
    invited: list[str] = []
    notes: list[str] = []
    with (
        proxied_browser(container, BASE_URL, timeout=60) as browser,
        ThreadPoolExecutor(1) as pool,
    ):
        page = oidc_sign_in(browser, "ada-sub", certificate.cert_file)
        headers = htmx(page)
        for cycle in range(6):
            smtp.delay = 14.0 if cycle % 2 else 2.0
            sent = threading.Event()
            note = f"in flight during stop {cycle}"
            in_flight = pool.submit(post_slowly, browser, headers, note, sent)
            for n in range(3):
                address = f"person{cycle}-{n}@example.com"
                invite = browser.post(
                    "/invitations", data={"email": address, "role": "member"}, headers=headers
                )
                assert invite.status_code == 200 and address in invite.text, invite.text
                invited.append(address)
            assert sent.wait(10)
            deadline = time.monotonic() + 30
            while not set(invited[-3:]) <= set(smtp.sending):  # all three are on the wire
                assert time.monotonic() < deadline, container.logs()[-3000:]
                time.sleep(0.05)

            exit_code, _ = container.stop(STOP_TIMEOUT)
            assert exit_code == 0, container.logs()[-3000:]  # by itself, not SIGKILLed
            answer = in_flight.result(timeout=30)
            assert answer.status_code == 200 and note in answer.text, answer.text
            notes.append(note)
            handed_back = container.logs().count("handed back: the process is stopping")
            assert handed_back == 3 * ((cycle + 1) // 2), container.logs()[-3000:]

            smtp.delay = 0.0
            container.start()

        deadline = time.monotonic() + 60
        found = jobs(container)
        while not all(job["status"] == "completed" for job in found):
            assert time.monotonic() < deadline, found
            time.sleep(1)
            found = jobs(container)
        # 0 lost: every job is completed (a row is never deleted, so a lost one would show)
        assert len([job for job in found if job["type"] == "email.send"]) >= len(invited)
        assert set(invited) <= {to for message in smtp.received for to in message.rcpt_tos}
        listed = browser.get("/notes").text
        assert all(note in listed for note in notes)  # every in-flight request was applied
    assert_clean(container)
