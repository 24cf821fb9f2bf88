"""`python main.py migrate`: host and every tenant, a summary, non-zero on failure."""

import subprocess
import sys
from pathlib import Path

from tests.support.server import env_for

ROOT = Path(__file__).resolve().parent.parent


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_reports_host_and_tenants(app, client, settings):
    from tests.conftest import dev_sign_in

    dev_sign_in(client, "ada@example.com")
    env = env_for(settings)
    result = run(env, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tenants: 1 migrated, 0 failed" in result.stdout


def test_migrate_reports_a_broken_tenant_and_exits_non_zero(app, client, settings):
    from tests.conftest import dev_sign_in

    dev_sign_in(client, "ada@example.com")
    app.state.catalog.execute(
        "INSERT INTO core_tenants (id, name, status, db_name, created_by, created_at, updated_at)"
        " SELECT 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'ghost', 'active', 'ghost', id, 'x', 'x' FROM core_users"
    )
    env = env_for(settings)
    result = run(env, "migrate")
    assert result.returncode == 1
    assert "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: FAILED" in result.stdout
    assert "tenants: 1 migrated, 1 failed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_production_refusal_is_a_message_not_a_traceback(tmp_path):
    result = run({"APP_ENV": "production", "DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "SECRET_KEY is missing" in result.stdout and "GOOGLE_CLIENT_ID" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
