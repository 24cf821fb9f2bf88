"""One transaction rule for tenant data, one connection per request (issue 10, items 1 and 2).

A request's tenant writes commit when its handler returns and roll back when it raises, by
every write API; none commits behind the others' backs; the request's connection is back in
the pool before its background task runs; and no request ever holds two connections of one
tenant's pool (the nested checkout that wedged a team's dashboard under load).
"""

from __future__ import annotations

import collections
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from fastsql.core import NotFoundError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from app.web.request_id import current_request_id
from tenants import webhooks as webhook_store
from tests.conftest import dev_sign_in, page_csrf

WRITES = {
    "q": lambda db: db.q(
        "INSERT INTO notes (id, body, author_id, created_at) VALUES ('n-q', 'q', 'a', 't')"
    ),
    "table": lambda db: db.t.notes.insert(
        {"id": "n-table", "body": "table", "author_id": "a", "created_at": "t"}
    ),
    "execute": lambda db: db.execute(
        sa.text(
            "INSERT INTO notes (id, body, author_id, created_at) VALUES ('n-exec', 'x', 'a', 't')"
        )
    ),
    # a data-layer helper handed the request's connection (it writes, never commits)
    "conn": lambda db: webhook_store.add_secret(db.conn, "endpoint-from-helper"),
}


def stored(app, tenant_id: str) -> dict[str, list]:
    with app.state.databases.handle(tenant_id) as db:
        return {
            "notes": [r["id"] for r in db.q("SELECT id FROM notes ORDER BY id")],
            "secrets": [r["endpoint_id"] for r in db.q("SELECT endpoint_id FROM webhook_secrets")],
        }


@pytest.fixture
def routes(app):
    """Test routes (tenant-scoped, like every route added outside the routers)."""
    seen: dict[str, object] = {}

    @app.post("/t/write/{how}")
    def write(auth, how: str):
        WRITES[how](auth.db)
        return "written"

    @app.post("/t/write-then-refuse")
    def write_then_refuse(auth):
        WRITES["q"](auth.db)
        raise HTTPException(409, "Refused after writing.")

    @app.post("/t/write-then-crash")
    def write_then_crash(auth):
        WRITES["table"](auth.db)
        raise RuntimeError("a bug after a write")

    @app.post("/t/write-then-missing-update")
    def write_then_missing_update(auth):
        WRITES["q"](auth.db)
        # fastsql rolls back when the row is missing; that must not undo the insert
        with contextlib.suppress(NotFoundError):
            auth.db.t.notes.update({"id": "no-such-note", "body": "x"})
        return "kept"

    @app.post("/t/write-with-task")
    def write_with_task(auth):
        WRITES["q"](auth.db)
        engine = auth.db.engine

        def task() -> None:
            seen["checked_out"] = engine.pool.checkedout()
            with engine.connect() as other:  # the background task opens its own
                seen["visible"] = other.execute(sa.text("SELECT id FROM notes")).scalars().all()

        return "queued", BackgroundTask(task)

    return seen


@pytest.fixture
def ada(app, client, routes):
    dev_sign_in(client, "ada@example.com")
    tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    return {"X-CSRF-Token": page_csrf(client)}, tenant_id


@pytest.mark.parametrize("how", sorted(WRITES))
def test_every_write_api_persists_after_the_request(app, client, ada, how):
    headers, tenant_id = ada
    response = client.post(f"/t/write/{how}", headers=headers)
    assert response.status_code == 200, response.text
    found = stored(app, tenant_id)
    assert found["notes"] + found["secrets"], f"the {how!r} write was lost"


@pytest.mark.parametrize(
    ("path", "status"), [("/t/write-then-refuse", 409), ("/t/write-then-crash", 500)]
)
def test_a_raise_after_a_write_leaves_nothing(app, client, ada, path, status):
    headers, tenant_id = ada
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
        c.cookies = client.cookies
        response = c.post(path, headers=headers)
    assert response.status_code == status
    assert stored(app, tenant_id) == {"notes": [], "secrets": []}


def test_no_write_api_commits_or_rolls_back_behind_the_others(app, client, ada):
    headers, tenant_id = ada
    assert client.post("/t/write-then-missing-update", headers=headers).text == "kept"
    assert stored(app, tenant_id)["notes"] == ["n-q"]


def test_the_connection_is_back_in_the_pool_before_the_background_task(app, client, ada, routes):
    headers, _ = ada
    assert client.post("/t/write-with-task", headers=headers).status_code == 200
    assert routes["checked_out"] == 0  # nothing of the request's is still held
    assert routes["visible"] == ["n-q"]  # and its write was committed first


def test_no_request_holds_two_connections_of_a_tenant(app, client, new_client, backend):
    """24 concurrent requests of one tenant over the pages that render most (layout,
    switcher, permission checks, job and member lists), with the pool events watching who
    holds what: never two connections of one tenant for one request."""
    dev_sign_in(client, "ada@example.com")
    tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
    held: collections.Counter[str] = collections.Counter()
    most: dict[str, int] = {}
    lock = threading.Lock()
    engine = app.state.databases.handle(tenant_id).engine

    def checkout(*_):
        request = current_request_id() or "outside a request"
        with lock:
            held[request] += 1
            most[request] = max(most.get(request, 0), held[request])

    def checkin(*_):
        request = current_request_id() or "outside a request"
        with lock:
            held[request] -= 1

    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(engine, "checkin", checkin)
    pages = ["/dashboard", "/notes", "/jobs", "/members", "/settings", "/audit", "/sync"]

    def browse(n: int) -> list[int]:
        browser = TestClient(app, base_url="http://localhost")  # no `with`: one app lifespan
        browser.cookies = client.cookies
        return [browser.get(pages[(n + i) % len(pages)]).status_code for i in range(6)]

    with ThreadPoolExecutor(24) as pool:
        statuses = [s for result in pool.map(browse, range(24)) for s in result]
    sa.event.remove(engine, "checkout", checkout)
    sa.event.remove(engine, "checkin", checkin)
    assert statuses == [200] * len(statuses)
    requests = {r: n for r, n in most.items() if r != "outside a request"}
    assert requests and max(requests.values()) == 1, sorted(requests.values())[-3:]


def test_a_full_pool_makes_requests_wait_never_wedge(pg_cluster, make_settings, tmp_path):
    """PostgreSQL pools are bounded. Two connections, no overflow, sixteen concurrent
    requests of one tenant: each waits its turn for a connection and all are answered."""
    import uuid

    prefix = f"p{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        DATABASE_URL=pg_cluster.create_database(f"{prefix}_host"),
        TENANT_DATABASE_URL=f"{pg_cluster.url}/{prefix}_{{tenant_id}}",
        TENANT_POOL_SIZE="2",
        TENANT_POOL_OVERFLOW="1",
    )
    from app.factory import create_app

    app = create_app(settings)
    try:
        with TestClient(app, base_url="http://localhost") as client:
            dev_sign_in(client, "ada@example.com")

            def browse(n: int) -> list[int]:
                browser = TestClient(app, base_url="http://localhost")
                browser.cookies = client.cookies
                pages = ["/dashboard", "/jobs", "/members", "/notes"]
                return [browser.get(pages[(n + i) % 4]).status_code for i in range(4)]

            with ThreadPoolExecutor(16) as pool:
                statuses = [s for r in pool.map(browse, range(16)) for s in r]
        assert statuses == [200] * 64
    finally:
        app.state.databases.dispose()
        app.state.catalog.dispose()
