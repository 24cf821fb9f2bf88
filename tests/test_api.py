"""The REST API (issue 14): every endpoint with every kind of credential, on SQLite and
PostgreSQL; problem documents for bad input; pagination and filters; idempotency; rate limit
headers; the OpenAPI document (validated, every route in it) and the docs page."""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from tests.conftest import dev_sign_in
from tests.support.api import (
    add_note,
    add_sync_run,
    bearer,
    expired_key,
    make_key,
    member_id,
    revoked_key,
)
from tests.test_team import own_tenant

PREFIX = "/api/v1"
SAMPLE_BODY = {"body": "written through the API"}


@pytest.fixture
def workspaces(app, client, new_client):
    """Ada's workspace A (her browser signed in) and Bob's B, each with a note and a run."""
    dev_sign_in(client, "ada@example.com")
    dev_sign_in(new_client(), "bob@example.com")
    a, b = own_tenant(app, "ada@example.com"), own_tenant(app, "bob@example.com")
    return {
        "a": a,
        "b": b,
        "note": add_note(app, a, "ada's note"),
        "b_note": add_note(app, b, "bob's secret note"),
        "run": add_sync_run(app, a),
        "member": member_id(app, a),
    }


def api_routes(app) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in app.routes
        if getattr(route, "path", "").startswith(PREFIX)
        for method in set(route.methods) - {"HEAD"}
    }


def test_every_api_route_is_a_declared_endpoint(app):
    declared = {(e.method, e.path) for e in app.state.api.endpoints}
    assert api_routes(app) == declared
    assert all(app.state.access.classify(path) == "api" for _, path in declared)


def _request(app, endpoint, ids: dict[str, str], key_headers: dict[str, str], client: TestClient):
    """Call `endpoint` on A's ids (a fresh note for each change, so calls are independent)."""
    note = (
        add_note(app, ids["a"], "to change")
        if endpoint.method in ("PATCH", "DELETE")
        else ids["note"]
    )
    values = {"note_id": note, "user_id": ids["member"], "job_id": ids["run"], "run_id": ids["run"]}
    path = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], endpoint.path)
    body = SAMPLE_BODY if endpoint.body is not None else None
    return client.request(endpoint.method, path, json=body, headers=key_headers)


def test_every_endpoint_with_every_kind_of_credential(app, client, workspaces):
    keys = {
        "read": make_key(app, workspaces["a"], "read"),
        "write": make_key(app, workspaces["a"], "write"),
        "revoked": revoked_key(app, workspaces["a"]),
        "expired": expired_key(app, workspaces["a"]),
        "foreign": make_key(app, workspaces["b"], "write"),
    }
    machine = TestClient(app, base_url="http://localhost")  # no cookies
    wrong = []
    for endpoint in app.state.api.endpoints:
        ok = endpoint.status
        has_id = "{" in endpoint.path
        expected = {
            "read": ok if endpoint.scope == "read" else 403,
            "write": ok,
            "revoked": 401,
            "expired": 401,
            "foreign": 404 if has_id else ok,
            "none": 401,
            "cookie": 401,  # Ada's browser session: cookies never authenticate the API
        }
        for kind, status in expected.items():
            if kind == "cookie":
                response = _request(app, endpoint, workspaces, {}, client)
            else:
                headers = bearer(keys[kind]) if kind != "none" else {}
                response = _request(app, endpoint, workspaces, headers, machine)
            if response.status_code != status:
                wrong.append(
                    f"{kind} {endpoint.method} {endpoint.path}: {response.status_code}, not {status}"
                )
            if status >= 400:
                assert response.headers["content-type"] == "application/problem+json"
                problem = response.json()
                assert problem["status"] == status and problem["detail"]
            text = response.text
            if kind == "foreign":  # A's data never shows to B's key
                assert "ada's note" not in text and "ada@example.com" not in text, endpoint.path
            else:
                assert "bob's secret" not in text and "bob@example.com" not in text, endpoint.path
    assert not wrong, "\n".join(wrong)
    assert client.cookies  # the browser still has its session: it was sent with every request


def test_answers_match_the_documented_schemas(app, workspaces):
    spec = app.state.api and TestClient(app).get("/api/openapi.json").json()
    schemas = spec["components"]["schemas"]
    client = TestClient(
        app, base_url="http://localhost", headers=bearer(make_key(app, workspaces["a"]))
    )
    for endpoint in app.state.api.endpoints:
        response = _request(app, endpoint, workspaces, {}, client)
        assert response.status_code == endpoint.status, endpoint.path
        if endpoint.response is None:
            continue
        schema = {**schemas[endpoint.response.__name__], "$defs": schemas}
        text = json.dumps(schema).replace("#/components/schemas/", "#/$defs/")
        Draft202012Validator(json.loads(text)).validate(response.json())


def test_notes_round_trip_pagination_and_filters(app, workspaces):
    api = TestClient(
        app, base_url="http://localhost", headers=bearer(make_key(app, workspaces["a"]))
    )
    made = [
        api.post(f"{PREFIX}/notes", json={"body": f"note {n} 100%_off"}).json() for n in range(5)
    ]
    assert made[0]["author_id"] is None  # a key is not a person
    seen, cursor = [], None
    while True:
        page = api.get(
            f"{PREFIX}/notes", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [n["id"] for n in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[:5] == [n["id"] for n in reversed(made)] and len(seen) == 6  # and ada's note
    assert len(set(seen)) == len(seen)
    found = api.get(f"{PREFIX}/notes", params={"contains": "100%_OFF"}).json()["data"]
    assert len(found) == 5  # LIKE wildcards in the text are literal; case does not matter
    assert api.get(f"{PREFIX}/notes", params={"contains": "0%"}).json()["data"] != []
    assert api.get(f"{PREFIX}/notes", params={"contains": "_x"}).json()["data"] == []
    after = api.get(f"{PREFIX}/notes", params={"created_after": made[2]["created_at"]}).json()
    assert [n["id"] for n in after["data"]] == [made[4]["id"], made[3]["id"]]
    note = made[0]["id"]
    changed = api.patch(f"{PREFIX}/notes/{note}", json={"body": "changed"})
    assert changed.status_code == 200 and changed.json()["body"] == "changed"
    assert api.get(f"{PREFIX}/notes/{note}").json()["body"] == "changed"
    assert api.delete(f"{PREFIX}/notes/{note}").status_code == 204
    assert api.get(f"{PREFIX}/notes/{note}").status_code == 404
    audit = app.state.catalog.rows(
        "SELECT action, actor_user_id, details FROM sys_audit_logs WHERE action LIKE 'api.%'"
    )
    assert {a["action"] for a in audit} == {
        "api.note_created",
        "api.note_updated",
        "api.note_deleted",
    }
    assert all(a["actor_user_id"] is None and '"api_key"' in a["details"] for a in audit)
    members = api.get(f"{PREFIX}/members", params={"role": "owner"}).json()["data"]
    assert [m["email"] for m in members] == ["ada@example.com"]
    assert api.get(f"{PREFIX}/members", params={"role": "member"}).json()["data"] == []
    runs = api.get(f"{PREFIX}/sync-runs", params={"source_id": "ab" * 16}).json()["data"]
    assert runs[0]["written"] == 60 and runs[0]["outcome"] == "succeeded"
    assert api.get(f"{PREFIX}/sync-runs", params={"source_id": "cd" * 16}).json()["data"] == []
    jobs = api.get(f"{PREFIX}/jobs", params={"status": "completed", "type": "sync.run"}).json()
    assert [j["id"] for j in jobs["data"]] == [workspaces["run"]]


# Each (method, path, body or raw, headers) must get a 4xx problem document and change nothing.
HOSTILE = [
    ("GET", "/notes?limit=0", None),
    ("GET", "/notes?limit=abc", None),
    ("GET", "/notes?limit=1&limit=2", None),
    ("GET", "/notes?cursor=garbage", None),
    ("GET", "/notes?cursor=WyJhIiwgMV0", None),  # valid base64 of ["a", 1]
    ("GET", "/notes?created_after=yesterday", None),
    ("GET", "/notes?created_after=2025-01-01T00:00:00", None),  # no timezone
    ("GET", "/notes?unknown=1", None),
    ("GET", "/notes?contains=" + "x" * 300, None),
    ("GET", "/members?role=superuser", None),
    ("GET", "/jobs?status=exploded", None),
    ("GET", "/sync-runs?source_id=' OR '1'='1", None),
    ("GET", "/notes/1?x=1", None),
    ("GET", "/notes/' OR '1'='1", None),
    ("POST", "/notes", b"{"),
    ("POST", "/notes", b"[]"),
    ("POST", "/notes", b'"text"'),
    ("POST", "/notes", b"\xff\xfe"),
    ("POST", "/notes", {}),
    ("POST", "/notes", {"body": ""}),
    ("POST", "/notes", {"body": "   "}),
    ("POST", "/notes", {"body": 5}),
    ("POST", "/notes", {"body": None}),
    ("POST", "/notes", {"body": "x" * 2001}),
    ("POST", "/notes", {"body": "ok", "author_id": "someone"}),
    ("POST", "/notes", {"body": "ok", "id": "chosen"}),
    ("POST", "/notes", json.dumps({"a": [[[[[[[[[[]]]]]]]]]]}).encode()),
    ("POST", "/notes", b"[" * 100_000),
    ("PATCH", "/notes/{note}", {"body": ""}),
    ("PATCH", "/notes/{note}", b"not json"),
    ("DELETE", "/notes/nonexistent", None),
    ("PUT", "/notes/{note}", {"body": "x"}),
]


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/json; charset=utf-8"]
)
def test_bad_input_gets_a_problem_document_and_changes_nothing(app, workspaces, content_type):
    api = TestClient(app, base_url="http://localhost", raise_server_exceptions=False)
    api.headers.update(bearer(make_key(app, workspaces["a"])))

    def notes():
        with app.state.databases.handle(workspaces["a"]) as db:
            return db.q("SELECT id, body FROM notes ORDER BY id")

    before = notes()
    for method, path, body in HOSTILE:
        url = PREFIX + path.format(note=workspaces["note"])
        raw = (
            body
            if isinstance(body, bytes)
            else json.dumps(body).encode()
            if body is not None
            else None
        )
        response = api.request(method, url, content=raw, headers={"Content-Type": content_type})
        assert 400 <= response.status_code < 500, (method, path, content_type, response.text)
        assert response.headers["content-type"] == "application/problem+json", (method, path)
        assert "Traceback" not in response.text
    assert notes() == before


def test_a_post_with_an_idempotency_key_happens_once(app, workspaces):
    api = TestClient(
        app, base_url="http://localhost", headers=bearer(make_key(app, workspaces["a"]))
    )
    first = api.post(f"{PREFIX}/notes", json={"body": "once"}, headers={"Idempotency-Key": "k-1"})
    again = api.post(f"{PREFIX}/notes", json={"body": "once"}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = api.post(f"{PREFIX}/notes", json={"body": "other"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422  # the same key for a different request
    bad = api.post(
        f"{PREFIX}/notes", json={"body": "x"}, headers={"Idempotency-Key": "é".encode() * 3}
    )
    assert bad.status_code == 400
    with app.state.databases.handle(workspaces["a"]) as db:
        assert len(db.q("SELECT id FROM notes WHERE body = 'once'")) == 1
        db.q("UPDATE api_idempotency SET created_at = '2000-01-01T00:00:00.000000Z'")
        db.commit()
    later = api.post(f"{PREFIX}/notes", json={"body": "once"}, headers={"Idempotency-Key": "k-1"})
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]  # 24 h passed


def test_twenty_concurrent_posts_with_one_idempotency_key_make_one_note(app, workspaces):
    headers = {**bearer(make_key(app, workspaces["a"])), "Idempotency-Key": "same-moment"}
    start = threading.Barrier(20)

    def post(_):
        api = TestClient(app, base_url="http://localhost", headers=headers)
        start.wait()
        return api.post(f"{PREFIX}/notes", json={"body": "at once"})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(post, range(20)))
    assert [a.status_code for a in answers] == [201] * 20
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 19
    with app.state.databases.handle(workspaces["a"]) as db:
        assert len(db.q("SELECT id FROM notes WHERE body = 'at once'")) == 1


def test_rate_limit_headers_and_429(make_settings):
    from app.factory import create_app

    app = create_app(make_settings(RATE_LIMIT_API="3/minute"))
    with TestClient(app, base_url="http://localhost") as browser:
        dev_sign_in(browser, "ada@example.com")
        key = make_key(app, own_tenant(app, "ada@example.com"), "read")
        api = TestClient(app, base_url="http://localhost", headers=bearer(key))
        answers = [api.get(f"{PREFIX}/notes") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["ratelimit-policy"] == '"api";q=3;w=60'
        assert [a.headers["ratelimit"].split(";")[1] for a in answers] == [
            "r=2",
            "r=1",
            "r=0",
            "r=0",
        ]
        assert int(answers[3].headers["retry-after"]) > 0
        assert answers[3].json()["status"] == 429
        other = make_key(app, own_tenant(app, "ada@example.com"), "read")
        assert TestClient(app, headers=bearer(other)).get(f"{PREFIX}/notes").status_code == 200
        bad = TestClient(app, headers=bearer("sk_" + "x" * 43))
        assert [bad.get(f"{PREFIX}/notes").status_code for _ in range(4)] == [401, 401, 401, 429]
    app.state.databases.dispose()
    app.state.catalog.dispose()


def test_the_plans_api_calls_a_day_hold_with_the_rate_limit_off(make_settings, backend):
    """Issue 12's "API calls per day": a billing limit per workspace, not the per-key rate."""
    from app.billing.plans import FREE
    from app.factory import create_app

    app = create_app(make_settings(**backend, RATE_LIMIT_API="off"))
    catalog = app.state.catalog
    with TestClient(app, base_url="http://localhost") as browser:
        dev_sign_in(browser, "ada@example.com")
        dev_sign_in(TestClient(app, base_url="http://localhost"), "bob@example.com")
        ada, bob = own_tenant(app, "ada@example.com"), own_tenant(app, "bob@example.com")
        catalog.execute(
            "UPDATE core_tenants SET plan_tier = 'free', plan_ends_at = NULL WHERE id = :t", t=ada
        )
        api = TestClient(
            app, base_url="http://localhost", headers=bearer(make_key(app, ada, "read"))
        )
        allowed = FREE.limit("api_calls_per_day")
        assert allowed is not None
        started = time.monotonic()
        codes = [api.get(f"{PREFIX}/notes?limit=1").status_code for _ in range(allowed + 1)]
        refills = (time.monotonic() - started) * allowed / 86_400  # the allowance rolls
        assert set(codes) == {200, 429} and codes[-1] == 429
        assert allowed <= codes.count(200) <= allowed + refills + 1
        refused = api.get(f"{PREFIX}/notes")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        problem = refused.json()
        assert "Free plan allows 1,000 API calls a day" in problem["detail"]
        assert "/settings/billing" in problem["detail"]
        # Another workspace's allowance is its own; a better plan applies on the next call.
        other = TestClient(
            app, base_url="http://localhost", headers=bearer(make_key(app, bob, "read"))
        )
        assert other.get(f"{PREFIX}/notes").status_code == 200
        catalog.execute("UPDATE core_tenants SET plan_tier = 'pro' WHERE id = :t", t=ada)
        assert api.get(f"{PREFIX}/notes").status_code == 200
    app.state.databases.dispose()
    catalog.dispose()


def test_revoking_a_key_stops_it_on_the_next_request(app, client, workspaces):
    key = make_key(app, workspaces["a"], "read")
    api = TestClient(app, base_url="http://localhost", headers=bearer(key))
    assert api.get(f"{PREFIX}/notes").status_code == 200  # cached now
    page = client.get("/settings/api-keys").text
    key_id = app.state.catalog.row("SELECT id FROM core_api_keys WHERE prefix = :p", p=key[:11])[
        "id"
    ]
    assert key[:11] in page and key not in page  # the prefix is shown, never the key
    from tests.test_team import hx

    revoked = client.post(f"/settings/api-keys/{key_id}/revoke", headers=hx(client))
    assert revoked.status_code == 200
    assert api.get(f"{PREFIX}/notes").status_code == 401
    used = app.state.catalog.row("SELECT last_used_at FROM core_api_keys WHERE id = :id", id=key_id)
    assert used["last_used_at"] is not None


def test_the_settings_page_makes_keys_shown_once_and_checks_input(app, client, workspaces):
    from tests.test_team import hx

    made = client.post(
        "/settings/api-keys",
        data={"name": "CI", "scope": "write", "expires": "30"},
        headers=hx(client),
    )
    key = re.search(r'id="new-api-key">(sk_[\w-]+)<', made.text).group(1)
    api = TestClient(app, headers=bearer(key))
    assert api.post(f"{PREFIX}/notes", json={"body": "from CI"}).status_code == 201
    assert key not in client.get("/settings/api-keys").text
    row = app.state.catalog.row("SELECT * FROM core_api_keys WHERE name = 'CI'")
    assert (
        row["key_hash"] != key
        and key not in json.dumps(row)
        and row["expires_at"] > row["created_at"]
    )
    for form, message in (
        ({"name": "", "scope": "read", "expires": "30"}, "Give the key a name"),
        ({"name": "x" * 101, "scope": "read", "expires": "30"}, "under 100"),
        ({"name": "x", "scope": "admin", "expires": "30"}, "read or read-write"),
        ({"name": "x", "scope": "read", "expires": "forever"}, "from the list"),
    ):
        answer = client.post("/settings/api-keys", data=form, headers=hx(client))
        assert answer.status_code == 200 and message in answer.text
    assert len(app.state.catalog.rows("SELECT id FROM core_api_keys")) == 1
    audit = app.state.catalog.rows(
        "SELECT action FROM sys_audit_logs WHERE action LIKE 'api_key.%'"
    )
    assert [a["action"] for a in audit] == ["api_key.created"]


def test_the_openapi_document_validates_and_lists_every_route(app):
    spec = TestClient(app).get("/api/openapi.json").json()
    validate(spec)  # OpenAPI 3.1, with openapi-spec-validator
    assert spec["openapi"].startswith("3.1")
    listed = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert listed == api_routes(app)
    post = spec["paths"][f"{PREFIX}/notes"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert spec["components"]["schemas"]["NoteIn"]["properties"]["body"]["maxLength"] == 2000


def test_the_docs_page_runs_under_the_strict_policy(app):
    page = TestClient(app).get("/api/docs")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<style" not in page.text and " style=" not in page.text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert all(f"{m} {p}" in page.text for m, p in api_routes(app))
