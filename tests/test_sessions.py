"""Sessions: opaque cookie, server-side state, idle and absolute expiry, real sign-out."""

import base64
import json

from app.settings import load_settings
from tenants.catalog import token_hash
from tenants.stamp import from_now
from tests.conftest import dev_sign_in, page_csrf


def cookie_payload(client) -> dict:
    raw = client.cookies["sid"].split(".")[0]
    return json.loads(base64.b64decode(raw + "=" * (-len(raw) % 4)))


def test_cookie_holds_only_an_opaque_session_id(app, client):
    dev_sign_in(client, "ada@example.com")
    payload = cookie_payload(client)
    assert set(payload) == {"sid"}
    row = app.state.catalog.row("SELECT * FROM core_sessions")
    assert row["id_hash"] == token_hash(payload["sid"]) != payload["sid"]


def test_cookie_flags_in_development(client):
    page = client.get("/login")
    dev_response = client.post(
        "/login/dev",
        data={"email": "ada@example.com", "csrf_token": page_csrf(client, "/login")},
        follow_redirects=False,
    )
    header = dev_response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header
    assert page.status_code == 200


def test_production_cookie_is_secure_and_host_prefixed(tmp_path):
    from starlette.testclient import TestClient

    from app.factory import create_app

    settings = load_settings(
        env={
            "APP_ENV": "production",
            "SECRET_KEY": "s" * 40,
            "BASE_URL": "https://app.example.com",
            "GOOGLE_CLIENT_ID": "id",
            "GOOGLE_CLIENT_SECRET": "secret",
            "DATA_DIR": str(tmp_path),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_SECURITY": "none",
            "SMTP_FROM": "App <no-reply@example.com>",
        },
        env_file=None,
    )
    app = create_app(settings)
    with TestClient(app, base_url="https://app.example.com") as client:
        response = client.get("/login")
        assert "/login/dev" not in response.text
        assert client.post("/login/dev", data={"email": "a@b.co"}).status_code == 404
        assert response.headers["strict-transport-security"].startswith("max-age=")
    # Signing in needs Google here, so ask the edge for the cookie it would set.
    header = app.middleware_stack.sessions.header({}, {"sid": "opaque"}).decode().lower()
    assert header.startswith("__host-sid=") and "domain" not in header
    assert {"path=/", "secure", "httponly", "samesite=lax"} <= set(header.split("; ")[1:])


def test_a_new_session_id_on_every_sign_in(app, client):
    dev_sign_in(client, "ada@example.com")
    first = cookie_payload(client)["sid"]
    dev_sign_in_again = client.post(
        "/login/dev",
        data={"email": "ada@example.com", "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert dev_sign_in_again.status_code == 303
    second = cookie_payload(client)["sid"]
    assert first != second
    old = app.state.catalog.row(
        "SELECT revoked_at FROM core_sessions WHERE id_hash = :h", h=token_hash(first)
    )
    assert old["revoked_at"] is not None


def test_logout_revokes_the_session_server_side(client, new_client):
    dev_sign_in(client, "ada@example.com")
    stolen = dict(client.cookies)
    response = client.post(
        "/logout", headers={"X-CSRF-Token": page_csrf(client)}, follow_redirects=False
    )
    assert response.status_code == 303
    thief = new_client()
    thief.cookies.update(stolen)
    assert thief.get("/dashboard", follow_redirects=False).headers["location"] == "/login"


def test_logout_is_post_only(client):
    dev_sign_in(client, "ada@example.com")
    assert client.get("/logout").status_code == 405
    assert client.get("/dashboard", follow_redirects=False).status_code == 200


def test_idle_timeout(app, client):
    dev_sign_in(client, "ada@example.com")
    app.state.catalog.execute(
        "UPDATE core_sessions SET last_seen_at = '2000-01-01T00:00:00.000000Z'"
    )
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_absolute_timeout(app, client):
    dev_sign_in(client, "ada@example.com")
    app.state.catalog.execute("UPDATE core_sessions SET expires_at = '2000-01-01T00:00:00.000000Z'")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_activity_keeps_an_idle_session_alive(app, client):
    dev_sign_in(client, "ada@example.com")
    two_minutes_ago = from_now(minutes=-2)
    app.state.catalog.execute("UPDATE core_sessions SET last_seen_at = :t", t=two_minutes_ago)
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    seen = app.state.catalog.row("SELECT last_seen_at FROM core_sessions")["last_seen_at"]
    assert seen > two_minutes_ago
