"""MAX_BODY_BYTES: a larger request body gets 413 and changes nothing, whether its size is
declared up front or only known while it streams in (chunked, no Content-Length)."""

from __future__ import annotations

import pytest

from tests.conftest import dev_sign_in, page_csrf

LIMIT = 4096


@pytest.fixture
def backend():
    """The limit sits in front of everything database-specific: SQLite is enough."""
    return {}


@pytest.fixture
def settings(make_settings, backend):
    return make_settings(MAX_BODY_BYTES=str(LIMIT))


@pytest.fixture
def ada(client):
    dev_sign_in(client, "ada@example.com")
    return {"X-CSRF-Token": page_csrf(client), "HX-Request": "true"}


def notes(app) -> int:
    tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    with app.state.databases.handle(tenant_id) as db:
        return len(db.q("SELECT id FROM notes"))


def chunks(total: int, size: int = 512):
    sent = 0
    while sent < total:
        yield b"a" * min(size, total - sent)
        sent += size


def test_a_body_within_the_limit_is_served(app, client, ada):
    padded = {"body": "hello", "padding": "x" * (LIMIT - 200)}
    response = client.post("/notes", data=padded, headers=ada)
    assert response.status_code == 200
    assert notes(app) == 1


def test_a_declared_oversize_body_is_refused(app, client, ada):
    padded = {"body": "hello", "padding": "x" * LIMIT}
    response = client.post("/notes", data=padded, headers=ada)
    assert response.status_code == 413
    assert notes(app) == 0


def test_a_streamed_oversize_body_is_refused_without_a_length(app, client, ada):
    headers = {**ada, "Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/notes", content=chunks(LIMIT * 4), headers=headers)
    assert response.status_code == 413
    assert "too large" in response.text.lower()
    assert notes(app) == 0


@pytest.mark.parametrize("path", ["/login/dev", "/logout", "/webhooks/demo/nope", "/notes"])
def test_oversize_bodies_anywhere_get_413_never_500(client, path):
    response = client.post(path, content=chunks(LIMIT * 3), headers={"Content-Type": "text/plain"})
    assert response.status_code == 413
    huge = client.post(path, content=b"{" * (LIMIT + 1), headers={"Content-Type": "text/plain"})
    assert huge.status_code == 413


def test_a_lying_content_length_is_still_cut_off(client, ada):
    """A client that declares a small body and sends a large one is counted, not trusted."""
    headers = {**ada, "Content-Type": "application/x-www-form-urlencoded", "Content-Length": "10"}
    response = client.post("/notes", content=chunks(LIMIT * 2), headers=headers)
    assert response.status_code == 413
