"""Logging: JSON lines in production, readable lines in development, a request id on every
line and response, and no emails, tokens or secrets in any line."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from app.cli import uvicorn_config
from app.factory import create_app
from app.lib.http_client import ApiClient, Retry
from app.log_config import configure_logging, redact
from app.web.request_id import request_id_for

SECRET = "configured-secret-key-0123456789-abcdef"


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("signed in ada.lovelace@example.com", "signed in a***@example.com"),
        ("to <bob@mail.example.co.uk>", "to <b***@mail.example.co.uk>"),
        (
            "connect postgresql+psycopg://app:s3cr3t@db.internal:5432/x",
            "connect postgresql+psycopg://app:***@db.internal:5432/x",
        ),
        ("Authorization: Bearer eyJhbGciOi.abc-def", "Authorization: Bearer ***"),
        (
            'GET /auth/callback?code=4/0Ad-xyz&state=abc123 HTTP/1.1"',
            'GET /auth/callback?code=***&state=*** HTTP/1.1"',
        ),
        ("POST /webhooks/demo/whk_9f8e7d6c5b HTTP/1.1", "POST /webhooks/demo/*** HTTP/1.1"),
        ('{"client_secret": "GOCSPX-abc", "name": "x"}', '{"client_secret": "***", "name": "x"}'),
        ("password=hunter22 and token=t0k3n", "password=*** and token=***"),
        ("nothing secret in tenant 4f2a", "nothing secret in tenant 4f2a"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_configured_secrets_are_redacted_whatever_their_shape():
    assert redact(f"key is {SECRET}!", [SECRET]) == "key is ***!"


def _log_lines(path: Path) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text().splitlines()


def test_production_writes_json_lines_with_nothing_secret(
    make_settings, tmp_path, restore_root_logger
):
    log_file = tmp_path / "logs" / "app.log"
    settings = make_settings(SECRET_KEY=SECRET, LOG_FILE=str(log_file), LOG_LEVEL="INFO")
    configure_logging(replace(settings, app_env="production"))
    log = logging.getLogger("app.test")
    log.debug("not at INFO")
    log.info("user %s signed in with key %s", "ada@example.com", SECRET)
    try:
        raise ValueError("bad token=abc123 for grace@example.org")
    except ValueError:
        log.exception("handler failed")

    first, second = [json.loads(line) for line in _log_lines(log_file)]
    assert first["level"] == "INFO" and first["logger"] == "app.test"
    assert first["message"] == "user a***@example.com signed in with key ***"
    assert first["request_id"] == "-"  # not in a request
    assert "ValueError: bad token=*** for g***@example.org" in second["exception"]
    text = log_file.read_text()
    for secret in (SECRET, "ada@example.com", "abc123", "grace@example.org"):
        assert secret not in text


def test_each_request_gets_an_id_in_its_header_and_its_log_lines(
    app, settings, tmp_path, restore_root_logger
):
    log_file = tmp_path / "app.log"
    configure_logging(replace(settings, app_env="development", log_file=log_file))

    def boom(request):
        raise RuntimeError("failed for ada@example.com")

    app.routes.append(Route("/boom", boom))  # plain Starlette: no Beforeware, no sign-in
    client = TestClient(app, base_url="http://localhost", raise_server_exceptions=False)
    response = client.get("/boom")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    error_lines = [line for line in _log_lines(log_file) if "unhandled error" in line]
    assert error_lines and all(f"[{request_id}]" in line for line in error_lines)
    assert "ada@example.com" not in log_file.read_text()
    assert "a***@example.com" in log_file.read_text()


def test_a_safe_incoming_request_id_is_kept_and_anything_else_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21.e4"})
    assert kept.headers["x-request-id"] == "lb-7f3a9c21.e4"
    for hostile in ("short", "x" * 65, "id with spaces", "<script>alert(1)</script>", "a\\nfake"):
        replaced = client.get("/healthz", headers={"X-Request-ID": hostile})
        assert replaced.status_code == 200
        assert replaced.headers["x-request-id"] != hostile
        assert request_id_for(replaced.headers["x-request-id"]) == replaced.headers["x-request-id"]
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_error_and_static_responses_carry_the_id_too(client):
    for path in ("/static/app.css", "/no-such-page"):
        assert len(client.get(path).headers["x-request-id"]) == 16


def test_a_response_never_carries_two_request_ids(app):
    inner = Response("ok", headers={"X-Request-ID": "from-the-handler"})
    app.routes.append(Route("/own-id", lambda request: inner))
    with TestClient(app, base_url="http://localhost") as client:
        response = client.get("/own-id", headers={"X-Request-ID": "from-the-client"})
    assert response.headers.get_list("x-request-id") == ["from-the-client"]


# Issue 16 item 25: one line per event. A 500 printed its traceback twice (our error page's
# line, then uvicorn's "Exception in ASGI application"), and every HTTP request the app
# made (each page of a sync) added an httpx INFO line.


def test_a_500_logs_one_traceback_and_outgoing_requests_no_lines(
    settings, tmp_path, restore_root_logger
):
    log_file = tmp_path / "app.log"
    settings = replace(settings, app_env="development", log_file=log_file, log_level="INFO")
    configure_logging(settings)
    app = create_app(settings)

    def boom(request):
        raise RuntimeError("kaboom")

    app.routes.insert(0, Route("/boom", boom))
    server = uvicorn.Server(uvicorn_config(app, settings))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

        async def fetch():
            async with ApiClient(url, retry=Retry(attempts=1)) as api:
                return await api.get_json("/healthz"), await api.request("GET", "/readyz")

        asyncio.run(fetch())
        assert httpx.get(f"{url}/boom").status_code == 500
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        app.state.databases.dispose()
        app.state.catalog.dispose()
    text = log_file.read_text()
    assert text.count("Traceback (most recent call last)") == 1, text
    assert text.count("RuntimeError: kaboom") == 1
    assert "unhandled error on GET /boom" in text  # the line that says which request it was
    assert "HTTP Request:" not in text and "httpx" not in text


def test_the_same_error_logged_twice_keeps_its_first_record_only(
    make_settings, tmp_path, restore_root_logger
):
    log_file = tmp_path / "app.log"
    configure_logging(make_settings(APP_ENV="development", LOG_FILE=str(log_file)))
    try:
        raise ValueError("once")
    except ValueError as error:
        logging.getLogger("app.one").error("first", exc_info=error)
        logging.getLogger("server").error("again", exc_info=error)
    try:
        raise ValueError("other")
    except ValueError as error:
        logging.getLogger("app.two").error("a different error", exc_info=error)
    text = _log_lines(log_file)
    assert any("first" in line for line in text) and not any("again" in line for line in text)
    assert any("a different error" in line for line in text)
