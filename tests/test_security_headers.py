"""Security headers on every response; static files only from static/."""

import pytest
from starlette.testclient import TestClient

from tests.conftest import dev_sign_in

REQUIRED = ("x-content-type-options", "content-security-policy", "referrer-policy")


@pytest.mark.parametrize("path", ["/", "/login", "/static/app.css", "/nope", "/healthz"])
def test_headers_everywhere(client, path):
    response = client.get(path)
    for name in REQUIRED:
        assert name in response.headers, (path, name)
    csp = response.headers["content-security-policy"]
    for directive in (
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "script-src 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_headers_even_on_an_unhandled_error(app):
    @app.route("/explode")
    def explode():
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        dev_sign_in(client, "ada@example.com")
        response = client.get("/explode")
    assert response.status_code == 500
    assert "boom" not in response.text and "Traceback" not in response.text
    assert "content-security-policy" in response.headers


def test_no_hsts_outside_production(client):
    assert "strict-transport-security" not in client.get("/").headers


@pytest.mark.parametrize(
    "path",
    [
        "/pyproject.toml",
        "/.github/ci.yaml",
        "/main.py",
        "/static/../pyproject.toml",
        "/static/%2e%2e/main.py",
        "/.env",
        "/data/host.db",
        "/uv.lock",
    ],
)
def test_only_static_dir_is_served(client, path):
    assert client.get(path).status_code == 404


def test_pages_have_no_inline_script_and_no_cdn(client):
    html = client.get("/login").text
    assert "<script>" not in html
    assert "cdn." not in html and "unpkg" not in html
    assert '<script src="/static/htmx.min.js"' in html
