"""Operations through `python main.py ...`, run as a subprocess the way an operator runs it:
tenants, users, jobs and `check`. Mistakes get one clear line and a non-zero exit, never a
traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.factory import create_app
from tenants import jobs as store
from tenants.engines import sqlite_path, tenant_url
from tests.conftest import dev_sign_in
from tests.support.oidc import oidc_env, oidc_provider
from tests.support.smtp import closed_port, smtp_server

ROOT = Path(__file__).resolve().parent.parent


def main_py(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr


class World:
    """An app on SQLite with Ada and Grace signed in, each in a workspace of their own."""

    def __init__(self, make_settings, tmp_path: Path):
        data = tmp_path / "data"
        self.env = {
            "APP_ENV": "test",
            "DATA_DIR": str(data),
            "DATABASE_URL": f"sqlite:///{data}/host.db",
            "TENANT_DATABASE_URL": f"sqlite:///{data}/tenants/{{tenant_id}}.db",
        }
        self.app = create_app(make_settings(**self.env))
        self.catalog = self.app.state.catalog
        self.ada = TestClient(self.app, base_url="http://localhost")
        self.grace = TestClient(self.app, base_url="http://localhost")
        dev_sign_in(self.ada, "ada@example.com")
        dev_sign_in(self.grace, "grace@example.com")

    def tenant_of(self, email: str) -> str:
        return self.catalog.row(
            """SELECT t.id FROM core_tenants t JOIN core_users u ON u.id = t.created_by
               WHERE u.email = :e""",
            e=email,
        )["id"]

    def close(self) -> None:
        self.ada.close()
        self.grace.close()
        self.app.state.databases.dispose()
        self.catalog.dispose()


@pytest.fixture
def world(make_settings, tmp_path):
    w = World(make_settings, tmp_path)
    yield w
    w.close()


def test_tenants_and_users_are_listed(world):
    tenants = main_py(world.env, "tenants", "list")
    assert tenants.returncode == 0, tenants.stderr
    header, *rows = tenants.stdout.splitlines()
    assert header.split()[:4] == ["ID", "STATUS", "PLAN", "MEMBERS"]
    assert {row.split()[0] for row in rows} == {
        world.tenant_of("ada@example.com"),
        world.tenant_of("grace@example.com"),
    }
    users = main_py(world.env, "users", "list", "--email", "grace")
    assert users.returncode == 0
    assert "grace@example.com" in users.stdout and "ada@" not in users.stdout


def test_suspend_and_resume_take_effect_on_the_next_request(world):
    tenant = world.tenant_of("ada@example.com")
    suspended = main_py(world.env, "tenants", "suspend", tenant)
    assert suspended.returncode == 0, suspended.stderr
    assert world.ada.get("/dashboard").status_code == 403
    assert world.grace.get("/dashboard").status_code == 200  # only that tenant

    again = main_py(world.env, "tenants", "suspend", tenant)
    assert again.returncode == 0 and "already suspended" in again.stdout

    resumed = main_py(world.env, "tenants", "resume", tenant)
    assert resumed.returncode == 0
    assert world.ada.get("/dashboard").status_code == 200
    actions = world.catalog.rows(
        "SELECT action FROM sys_audit_logs WHERE tenant_id = :t AND action LIKE 'tenant.%' ORDER BY at",
        t=tenant,
    )
    assert [a["action"] for a in actions][-2:] == ["tenant.suspended", "tenant.active"]


def test_delete_asks_for_confirmation_then_drops_the_database(world):
    tenant = world.tenant_of("ada@example.com")
    database = sqlite_path(tenant_url(world.env["TENANT_DATABASE_URL"], tenant))
    refused = main_py(world.env, "tenants", "delete", tenant)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert database.exists()

    deleted = main_py(world.env, "tenants", "delete", tenant, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert not database.exists()
    assert world.catalog.tenant(tenant)["status"] == "deleted"
    gone = world.ada.get("/dashboard", follow_redirects=False)  # no workspace left
    assert gone.status_code == 303 and gone.headers["location"] == "/tenants"
    assert world.grace.get("/dashboard").status_code == 200


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["tenants", "suspend", "0" * 32], 1, "no tenant with id"),
        (["tenants", "resume", "x' OR '1'='1"], 1, "no tenant with id"),
        (["jobs", "retry", "nope"], 1, "no job 'nope'"),
        (["jobs", "list", "--status", "bogus"], 2, "invalid choice"),
        (["tenants", "delete"], 2, "required: tenant_id"),
        (["frobnicate"], 2, "invalid choice"),
    ],
)
def test_mistakes_get_a_message_and_no_traceback(world, args, status, message):
    result = main_py(world.env, *args)
    assert result.returncode == status
    assert message in result.stderr
    assert_no_traceback(result)


def test_a_deleted_tenant_is_not_resumed(world):
    tenant = world.tenant_of("grace@example.com")
    world.catalog.set_tenant_status(tenant, "deleted")
    result = main_py(world.env, "tenants", "resume", tenant)
    assert result.returncode == 1
    assert "is deleted, not suspended" in result.stderr
    assert world.catalog.tenant(tenant)["status"] == "deleted"


def _failed_job(engine, table: str) -> str:
    with store.writing(engine) as conn:
        job_id = store.create(conn, table, store.NewJob("demo.fails", {}, max_attempts=1))
        claim = store.claim(conn, table, job_id, lease_seconds=60)
        store.fail(conn, table, claim, "RuntimeError: boom", retry_at=None)
    return job_id


def test_failed_jobs_are_listed_and_retried(world):
    tenant = world.tenant_of("ada@example.com")
    host_job = _failed_job(world.catalog.engine, "sys_jobs")
    with world.app.state.databases.handle(tenant) as db:
        tenant_job = _failed_job(db.engine, "tenant_jobs")

    listed = main_py(world.env, "jobs", "list", "--status", "failed")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line.split()[0] for line in listed.stdout.splitlines()[1:]}
    assert rows == {host_job: "host", tenant_job: tenant}
    assert "RuntimeError: boom" in listed.stdout

    assert main_py(world.env, "jobs", "retry", host_job).returncode == 0
    retried = main_py(world.env, "jobs", "retry", tenant_job, "--tenant", tenant)
    assert retried.returncode == 0, retried.stderr
    with world.catalog.engine.connect() as conn:
        job = store.get(conn, "sys_jobs", host_job)
    assert (job["status"], job["attempts"], job["error"]) == ("pending", 0, None)
    with world.app.state.databases.handle(tenant) as db:
        assert store.get(db.conn, "tenant_jobs", tenant_job)["status"] == "pending"

    twice = main_py(world.env, "jobs", "retry", host_job)
    assert twice.returncode == 1
    assert "is pending: only failed or cancelled jobs are retried" in twice.stderr


def test_check_passes_when_everything_answers(world):
    with smtp_server() as smtp, oidc_provider([]) as issuer:
        env = {
            **world.env,
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "SMTP_FROM": "Starter <no-reply@example.com>",
            **oidc_env(issuer),
        }
        result = main_py(env, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in ("host database", "tenant databases", "email (SMTP)", "sign-in (OpenID)"):
        assert any(line.startswith("ok") and f" {name}: " in line for line in lines), lines


def test_check_names_everything_unreachable_quickly(tmp_path):
    nowhere = f"postgresql://postgres@127.0.0.1:{closed_port()}"
    env = {
        "APP_ENV": "test",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"{nowhere}/host",
        "TENANT_DATABASE_URL": f"{nowhere}/tenant_{{tenant_id}}",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(closed_port()),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "no-reply@example.com",
        "GOOGLE_CLIENT_ID": "id",
        "GOOGLE_CLIENT_SECRET": "secret",
        "OIDC_METADATA_URL": f"http://127.0.0.1:{closed_port()}/.well-known/openid-configuration",
    }
    started = time.monotonic()
    result = main_py(env, "check")
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 4, result.stdout
    assert_no_traceback(result)
