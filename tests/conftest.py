"""Shared fixtures: settings on a temp DATA_DIR, the app, clients, and a real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from app.factory import create_app
from app.settings import Settings, load_settings
from app.work.handlers import register_handlers
from tests.support import postgres
from tests.support.html import csrf_from


@pytest.fixture(scope="session", autouse=True)
def registered_handlers() -> None:
    """What create_app does at startup; some tests build a JobManager without an app."""
    register_handlers()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    if not postgres.available():
        if os.environ.get("SAAS_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is required here but not installed")
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed; .ci/run installs it")
    cluster = postgres.start_cluster()
    yield cluster
    postgres.remove_cluster(cluster)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for a module of browser tests (tests/support/browser.py)."""
    from tests.support.browser import chromium, require_browser

    require_browser()
    with chromium() as b:
        yield b


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path) -> dict[str, str]:
    """Database settings for one backend; tests using it run on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return {}
    cluster = request.getfixturevalue("pg_cluster")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    host = cluster.create_database(f"{prefix}_host")
    return {"DATABASE_URL": host, "TENANT_DATABASE_URL": f"{cluster.url}/{prefix}_{{tenant_id}}"}


@pytest.fixture
def make_settings(tmp_path) -> Callable[..., Settings]:
    def make(**env: str) -> Settings:
        values = {"APP_ENV": "test", "DATA_DIR": str(tmp_path / "data"), **env}
        return load_settings(env=values, env_file=None)

    return make


@pytest.fixture
def settings(make_settings, backend) -> Settings:
    return make_settings(**backend)


@pytest.fixture
def app(settings):
    application = create_app(settings)
    yield application
    application.state.databases.dispose()
    application.state.catalog.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost") as c:
        yield c


@pytest.fixture
def new_client(app) -> Callable[[], TestClient]:
    """More browsers on the same app (one per person in multi-user tests)."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        c = TestClient(app, base_url="http://localhost")
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def dev_sign_in(client: TestClient, email: str, name: str = "") -> None:
    """Sign in through the development sign-in form, as a person would."""
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login/dev",
        data={
            "email": email,
            "name": name or email.split("@")[0],
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/dashboard")


def page_csrf(client: TestClient, path: str = "/dashboard") -> str:
    """The CSRF token a signed-in page hands to htmx."""
    return csrf_from(client.get(path).text)
