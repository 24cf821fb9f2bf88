"""The edge (app/web/edge.py): what every request gets before and after the app.

Regression tests for issue 16 items 1 (malformed CSRF tokens), 3 (NUL and other control
characters), 7 (an oversize body gets the friendly error), 8 (no redirect or link built
from the Host header; production answers only its own host names) and the one-traceback
half of 25.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient

from app.factory import create_app
from app.settings import load_settings
from tests.conftest import dev_sign_in, page_csrf
from tests.support.server import free_port, sign_in_over_http

PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "Vq3pZk7-LwY2nR9sXe4Tb6Hc1Mj8Ud5Ga0Fo",
    "BASE_URL": "https://app.example.com",
    "GOOGLE_CLIENT_ID": "id",
    "GOOGLE_CLIENT_SECRET": "secret",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_SECURITY": "none",
    "SMTP_FROM": "App <no-reply@example.com>",
}


@pytest.fixture
def production(tmp_path):
    app = create_app(load_settings(env={**PRODUCTION, "DATA_DIR": str(tmp_path)}, env_file=None))
    yield app
    app.state.databases.dispose()
    app.state.catalog.dispose()


def notes(app) -> list[str]:
    tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    with app.state.databases.handle(tenant_id) as db:
        return [r["body"] for r in db.q("SELECT body FROM notes")]


# -- item 1: a malformed CSRF token is a 403, never a 500 ---------------------------------


@pytest.mark.parametrize("token", ["é", "\u2603" * 64, "ä" + "0" * 63])
def test_non_ascii_csrf_tokens_are_refused_signed_out_and_in(client, token):
    header = {"X-CSRF-Token": token.encode()}  # sent as UTF-8 bytes, as a browser could
    signed_out = client.post("/login/dev", data={"email": "ada@example.com"}, headers=header)
    assert signed_out.status_code == 403
    as_field = client.post("/login/dev", data={"email": "ada@example.com", "csrf_token": token})
    assert as_field.status_code == 403
    dev_sign_in(client, "ada@example.com")
    signed_in = client.post("/notes", data={"body": "x"}, headers=header)
    assert signed_in.status_code == 403
    assert client.post("/logout", data={"csrf_token": token}).status_code == 403


def test_non_ascii_csrf_tokens_are_refused_in_production(production):
    with TestClient(production, base_url="https://app.example.com") as client:
        response = client.post("/logout", headers={"X-CSRF-Token": "é".encode()})
        assert response.status_code == 403
        assert "Traceback" not in response.text


# -- item 3: control characters are refused in one place, on both backends ----------------


@pytest.mark.parametrize("field", ["a\x00b", "nul at the end\x00", "bell\x07", "esc\x1b[2J"])
def test_control_characters_in_forms_are_refused_and_change_nothing(app, client, field):
    dev_sign_in(client, "ada@example.com")
    headers = {"X-CSRF-Token": page_csrf(client), "HX-Request": "true"}
    response = client.post("/notes", data={"body": field}, headers=headers)
    assert response.status_code == 400
    assert "characters that are not allowed" in response.text
    for form, path in [
        ({"name": field, "timezone": "UTC", "currency": "USD"}, "/settings"),
        ({"name": field}, "/tenants"),
    ]:
        assert client.post(path, data=form, headers=headers).status_code == 400
    assert notes(app) == []


def test_text_keeps_its_tabs_and_line_breaks(app, client):
    dev_sign_in(client, "ada@example.com")
    headers = {"X-CSRF-Token": page_csrf(client), "HX-Request": "true"}
    response = client.post("/notes", data={"body": "line one\r\nline\ttwo"}, headers=headers)
    assert response.status_code == 200
    assert notes(app) == ["line one\r\nline\ttwo"]


@pytest.mark.parametrize(
    "path",
    [
        "/notes/a%00b",
        "/members/a%00b/role",
        "/jobs/a%00b",
        "/invitations/a%00b/revoke",
        "/settings/webhooks/a%00b/rotate",
        "/sync/a%00b/status",
        "/account/exports/a%00b",
        "/blog/a%01b",
        "/dashboard?tenant_id=a%00b",
        "/audit?action=a%0Ab",
    ],
)
def test_control_characters_in_paths_and_queries_are_refused(client, path):
    dev_sign_in(client, "ada@example.com")
    token = page_csrf(client)
    for method in ("GET", "POST", "DELETE"):
        response = client.request(method, path, headers={"X-CSRF-Token": token})
        assert response.status_code == 400, (method, path, response.status_code)
        assert "Traceback" not in response.text


def test_dev_sign_in_with_a_nul_in_the_name_is_refused(client):
    page = client.get("/login")
    response = client.post(
        "/login/dev",
        data={
            "email": "ada@example.com",
            "name": "Ada\x00",
            "csrf_token": page_csrf(client, "/login"),
        },
    )
    assert page.status_code == 200 and response.status_code == 400
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


# -- item 7: an oversize body gets the app's own error page, or a toast -------------------


def test_a_3_mb_post_gets_the_friendly_page(client):
    dev_sign_in(client, "ada@example.com")
    token = page_csrf(client)
    big = {"body": "x" * (3 * 1024 * 1024)}
    page = client.post("/notes", data=big, headers={"X-CSRF-Token": token})
    assert page.status_code == 413
    assert "<html" in page.text.lower() and "Too large" in page.text
    toast = client.post("/notes", data=big, headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert toast.status_code == 413 and 'class="toast toast-error"' in toast.text
    assert toast.headers["hx-reswap"] == "none"


# -- item 8: nothing is built from the Host header ----------------------------------------


@pytest.mark.parametrize("path", ["/dashboard/", "/blog/", "//evil.example/", "/login/?next=x"])
def test_trailing_slash_redirects_stay_on_this_site(client, path):
    url = f"http://localhost{path}"  # a path of its own, even one starting with //
    response = client.get(url, headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 308
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil.example" not in location.split("?")[0] or location == "/evil.example"


def test_production_answers_only_its_own_host_names(production):
    with TestClient(production, base_url="https://app.example.com") as client:
        assert client.get("/").status_code == 200
        forged = client.get("/", headers={"Host": "evil.example"})
        assert forged.status_code == 400 and "evil.example" not in forged.text
        assert client.get("/dashboard/", headers={"Host": "evil.example"}).status_code == 400
    # health checks from the same machine or container name it by its loopback address
    with TestClient(production, base_url="http://127.0.0.1:5001") as local:
        assert local.get("/healthz").status_code == 200


# -- item 25 (one half): one traceback per server error ------------------------------------


def test_a_server_error_is_logged_once_by_the_real_server(app, caplog):
    """Uvicorn logs whatever escapes the app; the app's 500 page already logged it."""

    @app.get("/t/boom")
    def boom():
        raise RuntimeError("boom")

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    with caplog.at_level(logging.ERROR):
        thread.start()
        while not server.started:
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{server.config.port}") as browser:
            sign_in_over_http(browser, "ada@example.com")
            response = browser.get("/t/boom")
        server.should_exit = True
        thread.join(10)
    assert response.status_code == 500 and "Traceback" not in response.text
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, [f"{r.name}: {r.getMessage()}" for r in tracebacks]
