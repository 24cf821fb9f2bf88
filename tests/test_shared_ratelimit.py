"""Rate limits across instances (issue 14 item 6): two app instances on one host database.
On PostgreSQL the API and sign-in limits are counted in the catalog, so the instances share
them; on SQLite each process keeps its own count (the embedded default)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from app.factory import create_app
from tests.conftest import csrf_from, dev_sign_in
from tests.support.api import bearer, make_key
from tests.test_team import own_tenant


@pytest.fixture
def two_instances(make_settings, backend):
    settings = make_settings(**backend, RATE_LIMIT_API="3/minute", RATE_LIMIT_SIGNIN="3/minute")
    apps = [create_app(settings), create_app(settings)]
    yield apps, "DATABASE_URL" in backend
    for app in apps:
        app.state.databases.dispose()
        app.state.catalog.dispose()


def test_limits_hold_across_instances_on_postgresql(two_instances):
    (one, two), shared = two_instances
    with TestClient(one, base_url="http://localhost") as browser:
        dev_sign_in(browser, "ada@example.com")  # one sign-in attempt on instance one
        key = make_key(one, own_tenant(one, "ada@example.com"), "read")
    clients = [
        TestClient(app, base_url="http://localhost", headers=bearer(key)) for app in (one, two)
    ]
    api = [clients[i % 2].get("/api/v1/notes").status_code for i in range(4)]
    signins = []
    for i in range(3):  # attempts two to four, alternating instances
        browser = TestClient((two, one)[i % 2], base_url="http://localhost")
        page = browser.get("/login")
        signins.append(
            browser.post(
                "/login/dev",
                data={"email": "ada@example.com", "csrf_token": csrf_from(page.text)},
                follow_redirects=False,
            ).status_code
        )
    if shared:
        assert api == [200, 200, 200, 429]
        assert signins == [303, 303, 429]
    else:  # each instance counts its own: two requests each stay under three
        assert api == [200, 200, 200, 200]
        assert signins == [303, 303, 303]
