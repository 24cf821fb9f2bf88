"""/healthz says the process is up; /readyz says whether it can serve: host database reachable,
migrations current, job scheduler running; 503 with the reasons otherwise."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from app.factory import create_app
from tests.support import postgres


def test_healthz_answers_without_a_session(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_database_migrations_and_scheduler(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


def test_readyz_names_a_migration_that_is_not_applied(app, client):
    app.state.catalog.execute("DELETE FROM schema_migrations WHERE version = '0002'")
    response = client.get("/readyz")
    assert response.status_code == 503
    [problem] = response.json()["problems"]
    assert problem.startswith("host migrations not applied: 0002_")


def test_readyz_refuses_traffic_while_the_scheduler_is_not_running(app):
    client = TestClient(app, base_url="http://localhost")  # no `with`: no lifespan, no scheduler
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["the job scheduler is not running"]
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def _wait_for(client: TestClient, status: int, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/readyz")
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.text
            return response.json()
        time.sleep(0.2)


@pytest.fixture
def own_cluster(pg_cluster):  # pg_cluster: skips (or fails in CI) without PostgreSQL
    """A cluster of this test's own: stopping the suite's shared one would break others."""
    cluster = postgres.start_cluster()
    yield cluster
    postgres.remove_cluster(cluster)


def test_readyz_follows_the_host_database_going_away_and_back(own_cluster, make_settings):
    settings = make_settings(
        DATABASE_URL=own_cluster.create_database("host"),
        TENANT_DATABASE_URL=f"{own_cluster.url}/tenant_{{tenant_id}}",
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://localhost") as client:
        assert client.get("/readyz").status_code == 200
        # The test cluster commits asynchronously; flush so the crash-stop loses nothing.
        checkpoint = sa.create_engine(f"{own_cluster.url}/postgres", poolclass=sa.pool.NullPool)
        with checkpoint.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")

        own_cluster.stop()
        started = time.monotonic()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert time.monotonic() - started < 5  # refused connections answer at once
        assert any("host database" in p for p in down.json()["problems"])
        assert client.get("/healthz").status_code == 200

        own_cluster.start()
        assert _wait_for(client, 200) == {"status": "ready"}
