"""`python main.py migrate`: host and every tenant, a summary, non-zero on failure."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "SECRET_KEY is missing" in result.stdout and "no way to sign in" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


# Issue 16 item 21: following the README's old "Add a table" example (a second 0004) broke
# every tenant, and `migrate` / `check` said nothing as long as there were no tenants.


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the code, so its migrations folder can be broken without touching ours."""
    copy = tmp_path / "checkout"
    for part in ("app", "tenants", "migrations", "templates", "blog", "static"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "main.py", copy / "main.py")
    return copy


def run_in(checkout: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=checkout,
        env={"PATH": "/usr/bin:/bin", "APP_ENV": "test", "DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )


BROKEN = [
    ("0004_projects.sql", "CREATE TABLE projects (id TEXT PRIMARY KEY);", "share a number"),
    ("7_projects.sql", "CREATE TABLE projects (id TEXT PRIMARY KEY);", "NNNN_description"),
    ("0999_projects.sql", "CREATE TABLEE projects (id TEXT);", "0999_projects.sql"),
    ("0999_notes_again.sql", "CREATE TABLE notes (id TEXT);", "0999_notes_again.sql"),
]


@pytest.mark.parametrize(("name", "sql", "message"), BROKEN)
def test_migrate_and_check_refuse_a_broken_tenant_folder_with_no_tenants(
    checkout, tmp_path, name, sql, message
):
    assert run_in(checkout, tmp_path, "migrate").returncode == 0  # host.db exists now
    assert run_in(checkout, tmp_path, "check").returncode == 0
    (checkout / "migrations" / "tenant" / name).write_text(sql)
    for command in ("migrate", "check", "serve"):
        result = run_in(checkout, tmp_path, command)
        output = result.stdout + result.stderr
        assert result.returncode == 1, (command, output)
        assert message in output and "tenant" in output, (command, output)
        assert "Traceback" not in output


def test_the_readme_example_migration_takes_the_next_free_number():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Add a table") :].split("\n### ")[0]
    [example] = re.findall(r"migrations/tenant/(\d{4})_\w+\.sql", section)
    taken = [int(p.name[:4]) for p in (ROOT / "migrations" / "tenant").glob("*.sql")]
    assert int(example) == max(taken) + 1, f"the README's example is {example}; taken: {taken}"


# Issue 16 item 26: `python main.py` on a fresh clone, with none of the dependencies.


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A Python with nothing installed: a fresh virtual environment without even pip."""
    where = tmp_path_factory.mktemp("bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    missing = subprocess.run([python, "-c", "import httpx"], capture_output=True)
    assert missing.returncode != 0  # really bare
    return python


def test_python_main_py_hands_over_to_uv_with_the_same_arguments(bare_python, tmp_path):
    uv = shutil.which("uv")
    assert uv, "uv is needed to run this suite (uv run pytest)"
    env = {**os.environ, "APP_ENV": "test", "DATA_DIR": str(tmp_path / "data")}
    env.pop("VIRTUAL_ENV", None)

    def main_py(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [bare_python, str(ROOT / "main.py"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    migrated = main_py("migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert re.search(r"^host: \d+ migration\(s\) applied$", migrated.stdout, re.M)
    listed = main_py("tenants", "list", "--status", "active")
    assert listed.returncode == 0 and listed.stdout.strip() == "(none)"  # the real command
    usage = main_py("tenants", "frobnicate")
    assert usage.returncode == 2 and "invalid choice: 'frobnicate'" in usage.stderr


def test_python_main_py_without_uv_says_how_to_install_in_one_line(bare_python, tmp_path):
    path = "/usr/bin:/bin"
    if shutil.which("uv", path=path):
        pytest.skip("uv is installed system-wide here, so there is always one to hand over to")
    result = subprocess.run(
        [bare_python, str(ROOT / "main.py")],
        cwd=tmp_path,
        env={"PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1
    assert len(output.splitlines()) == 1 and "Traceback" not in output
    assert "uv run main.py" in output and "pip install uv" in output
