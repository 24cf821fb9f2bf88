"""Hostile input anywhere gets a 4xx (or a page), never a 500 or a stack trace (issue 16).

Seeded and bounded: every route in the app's route table (the /static mount included) gets
PER_ROUTE random malformed requests signed out and PER_ROUTE more signed in, on SQLite and
on PostgreSQL. A request is built from hostile pieces: path parameters, query strings, form
bodies (urlencoded and multipart, with and without a valid CSRF token), JSON and raw bodies
under any content type, headers (non-ASCII CSRF tokens, htmx headers, cookies, request
ids), methods the route does not take, NUL and other control characters, non-ASCII text
and huge values. Most signed-in state-changing requests carry the session's real CSRF
token, so they reach the handlers instead of stopping at the CSRF check. On top of that a
sweep gives every field each handler reads each of a few classic edge cases (SWEEP).

A failure lists each request that got a 500 or showed a traceback. The sequence depends
only on SEED and the route, so a failure repeats on the next run.
"""

from __future__ import annotations

import inspect
import json
import random
import zlib
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from app.demo import routes as demo_routes
from tests.conftest import dev_sign_in, page_csrf

SEED = 16
PER_ROUTE = 30  # per route, per state (signed out, signed in), per backend
FUZZER = "fuzz@example.com"

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m\x7f",
    "line\r\nSet-Cookie: sid=stolen",
    "tab\there",
    "%00",
    "%zz",
    "%ff%fe",
    "é",
    "日本語のテキスト",
    "🙂" * 10,
    "\u202eevil\u202c",
    "\ufeffbom",
    "..",
    "../../../../etc/passwd",
    "..%2f..%2fhost.db",
    "/",
    "//evil.example/x",
    "https://evil.example/",
    "javascript:alert(1)",
    "\\\\server\\share",
    "' OR '1'='1",
    '"; DROP TABLE notes; --',
    "<script>alert(1)</script>",
    "{{7*7}}${7*7}",
    "-1",
    "0",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    "@example.com",
    "a@@example.com",
    '"a b"@example.com',
    "a@[127.0.0.1]",
    "[link](https://evil.example)",
    "ivan@example.com\r\nBcc: eve@evil.example",
    "0000-00-00",
    "9999-12-31",
    "0001-01-01",
    "2025-13-45",
    "x" * 5000,
    "é" * 3000,
    "\n" * 200,
    "a" * 70_000,
]
FIELDS = [
    "body",
    "name",
    "email",
    "role",
    "confirm",
    "other_email",
    "mode",
    "schedule",
    "source",
    "timezone",
    "currency",
    "page",
    "since",
    "until",
    "action",
    "actor",
    "status",
    "query",
    "variables",
    "operationName",
    "tenant_id",
    "csrf_token",
    "code",
    "state",
]
# Besides the random requests, every field a handler reads gets each of these once, in the
# route's own method (with the real CSRF token when signed in): the classic edge cases.
SWEEP = [
    "\x00",
    "9999-12-31",
    "@example.com",
    "é" * 3000,
    "-1",
    "99999999999999999999999999",
    "' OR '1'='1",
    "[]",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]
BAD_TOKENS = ["é", "ü" * 64, "\x00", "", " ", "0" * 64, "g" * 64, "x" * 5000, "🙂"]
CONTENT_TYPES = [
    "text/plain",
    "application/xml",
    "application/json",
    "application/json; charset=latin-1",
    "multipart/form-data",  # no boundary
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded; charset=utf-7",
    "image/png",
    "é/é",
]
RAW_BODIES = [
    b"",
    b"\x00\x01\x02\xff\xfe",
    b"{",
    b'{"query": ',
    b"[1, 2, 3]",
    b'"just a string"',
    b"a=%zz&b=%",
    b"=&&=&",
    b"--x\r\nContent-Disposition: form-data\r\n\r\nbroken",
    b"\xef\xbb\xbf{}",
    json.dumps({"query": "{" * 2000}).encode(),
    json.dumps({"a": [[[[[[[[[[[]]]]]]]]]]]}).encode(),
    b"x" * 200_000,
]
# Every path that can end the session or move it to another workspace: after a batch on
# one of them the fuzzer signs in again, so the next routes are tried signed in.
SESSION_CHANGING = ("/logout", "/account/delete", "/tenant/delete", "/members/leave", "/tenants")


@dataclass
class Attempt:
    method: str
    url: str
    kind: str
    headers: dict[str, str | bytes] = field(default_factory=dict)
    content: bytes | None = None
    data: dict | None = None
    files: dict | None = None


URL_MAX = 8000  # the test client refuses URLs over 64 KiB; the huge values go in bodies


def _value(rng: random.Random, in_url: bool = False) -> str:
    value = rng.choice(HOSTILE)
    return value[:URL_MAX] if in_url else value


def _path_for(route, rng: random.Random) -> str:
    """The route's path with hostile (or plausible) values for its parameters."""
    if isinstance(route, Mount):
        return f"{route.path}/{quote(_value(rng, in_url=True), safe='/')}"
    path = route.path
    for name in route.param_convertors:
        raw = rng.choice([_value(rng, True), "0" * 32, "f" * 32, rng.randbytes(16).hex()])
        path = path.replace("{" + name + "}", quote(raw, safe=""))
    return path


def handler_fields(route) -> list[str]:
    """The names the route's handler reads from the request (FastHTML wraps the handler in
    a closure; its parameters are the form and query fields it takes)."""
    handler = inspect.getclosurevars(route.endpoint).nonlocals.get("f") if route.endpoint else None
    if handler is None:
        return []
    names = inspect.signature(handler).parameters
    return [n for n in names if n not in ("req", "request", "sess", "auth", "data")]


def _field(rng: random.Random, own: list[str]) -> str:
    """Mostly a field the handler really reads, so the hostile value gets that far."""
    return rng.choice(own) if own and rng.random() < 0.7 else rng.choice(FIELDS)


def _query(rng: random.Random, own: list[str]) -> str:
    pairs = [(_field(rng, own), _value(rng, True)) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.2:
        pairs.append(("tenant_id", rng.choice(["", "0" * 32, _value(rng, True)])))
    return urlencode(pairs)


def _headers(rng: random.Random, token: str | None) -> dict[str, str | bytes]:
    headers: dict[str, str | bytes] = {}
    if rng.random() < 0.5:
        headers["HX-Request"] = rng.choice(["true", "false", "é", ""])
    if token and rng.random() < 0.5:
        headers["X-CSRF-Token"] = token
    elif rng.random() < 0.5:
        headers["X-CSRF-Token"] = rng.choice(BAD_TOKENS).encode()
    extra = rng.choice(
        [
            ("X-Request-ID", _value(rng, True).encode()),
            ("Accept", "application/json"),
            ("Accept", "*/*;q=é".encode()),
            ("Cookie", b"sid=\xff\xfe; other=" + b"x" * 5000),
            ("X-Forwarded-For", "1.2.3.4, ' OR 1=1"),
            ("HX-Current-URL", "javascript:alert(1)"),
            ("HX-Target", "<script>"),
            ("Range", "bytes=999999999-"),
            ("If-None-Match", '"' + "x" * 3000 + '"'),
            ("User-Agent", "é" * 2000),
        ]
    )
    headers[extra[0]] = extra[1]
    return headers


def _attempt(route, rng: random.Random, token: str | None) -> Attempt:
    methods = sorted(getattr(route, "methods", None) or {"GET"})
    method = rng.choice(methods) if rng.random() < 0.75 else rng.choice(METHODS)
    url = _path_for(route, rng)
    own = handler_fields(route) if isinstance(route, Route) else []
    kind = rng.choice(["query", "form", "multipart", "json", "raw"])
    if kind == "query" or method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        url = f"{url}?{_query(rng, own)}"
    headers = _headers(rng, token)
    attempt = Attempt(method, url, kind, headers)
    form = {_field(rng, own): _value(rng) for _ in range(rng.randint(1, 5))}
    if token and rng.random() < 0.5:
        form["csrf_token"] = token
    elif rng.random() < 0.5:
        form["csrf_token"] = rng.choice(BAD_TOKENS)
    if kind == "form":
        attempt.data = form
    elif kind == "multipart":
        attempt.files = {k: (None, v) for k, v in form.items()}
        if rng.random() < 0.3:
            attempt.files[rng.choice(FIELDS)] = ("x.txt", rng.randbytes(64), "text/plain")
    elif kind == "json":
        attempt.content = json.dumps(rng.choice([form, [form], form.get("body", 1), None]))
        attempt.content = attempt.content.encode()
        headers["Content-Type"] = "application/json"
    elif kind == "raw":
        attempt.content = rng.choice(RAW_BODIES)
        headers["Content-Type"] = rng.choice(CONTENT_TYPES).encode()
    return attempt


def _sweep(route, token: str | None) -> list[Attempt]:
    """One request per (field the handler reads, SWEEP value), in the route's own method."""
    if not isinstance(route, Route):
        return []
    method = sorted(route.methods or {"GET"})[0]
    path = _path_for(route, random.Random(0)) if route.param_convertors else route.path
    attempts = []
    for name in handler_fields(route):
        for value in SWEEP:
            if method in ("GET", "HEAD"):
                attempts.append(Attempt(method, f"{path}?{urlencode({name: value})}", "sweep"))
            else:
                form = {name: value, **({"csrf_token": token} if token else {})}
                attempts.append(Attempt(method, path, "sweep", data=form))
    return attempts


def _send(client: TestClient, attempt: Attempt):
    headers = {k: v if isinstance(v, bytes) else v.encode() for k, v in attempt.headers.items()}
    return client.request(
        attempt.method,
        attempt.url,
        headers=headers,
        content=attempt.content,
        data=attempt.data,
        files=attempt.files,
        follow_redirects=False,
    )


def _routes(app) -> list:
    return [r for r in app.routes if isinstance(r, Route | Mount)]


def _name(route) -> str:
    return route.path if isinstance(route, Route) else f"{route.path}/*"


@pytest.fixture
def fuzz_app(make_settings, backend, monkeypatch):
    """The app with its limits off (a 429 would hide what the handler does) and the demo
    job's pauses gone (it counts to ten in half-second steps)."""
    from app.factory import create_app

    monkeypatch.setitem(demo_routes.COUNT, "pause", 0)
    settings = make_settings(
        **backend,
        RATE_LIMIT_SIGNIN="off",
        RATE_LIMIT_WRITES="off",
        RATE_LIMIT_WEBHOOKS="off",
    )
    app = create_app(settings)
    yield app
    app.state.databases.dispose()
    app.state.catalog.dispose()


def _signed_in(client: TestClient) -> str:
    """Sign the fuzzer in (again) if need be; returns the session's CSRF token."""
    if client.get("/account", follow_redirects=False).status_code != 200:
        client.cookies.clear()
        dev_sign_in(client, FUZZER, "Fuzz")
    return page_csrf(client, "/account")


def test_no_route_answers_hostile_input_with_a_500_or_a_traceback(fuzz_app):
    failures: list[str] = []
    tried = 0
    with (
        TestClient(fuzz_app, base_url="http://localhost", raise_server_exceptions=False) as out,
        TestClient(fuzz_app, base_url="http://localhost", raise_server_exceptions=False) as inn,
    ):
        for route in _routes(fuzz_app):
            for state, client in (("signed out", out), ("signed in", inn)):
                token = _signed_in(client) if state == "signed in" else None
                rng = random.Random(
                    SEED * 1_000_003 + zlib.crc32(f"{_name(route)}|{state}".encode())
                )
                attempts = [_attempt(route, rng, token) for _ in range(PER_ROUTE)]
                for attempt in attempts + _sweep(route, token):
                    response = _send(client, attempt)
                    tried += 1
                    if response.status_code == 500 or "Traceback" in response.text:
                        first = response.text.strip().splitlines()[:1]
                        failures.append(
                            f"{state}: {attempt.method} {attempt.url[:120]} [{attempt.kind}]"
                            f" -> {response.status_code} {first[0][:80] if first else ''}"
                        )
                if state == "signed in" and route.path.startswith(SESSION_CHANGING):
                    _signed_in(client)
    assert tried >= 2 * PER_ROUTE * len(_routes(fuzz_app))
    shown = "\n".join(failures[:60])
    assert not failures, f"{len(failures)} of {tried} hostile requests failed:\n{shown}"
