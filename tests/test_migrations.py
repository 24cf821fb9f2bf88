"""Migrations: numbered files, atomic each, recorded once, the same on SQLite and PostgreSQL."""

import shutil
import threading

import pytest
import sqlalchemy as sa

from tenants.engines import create_engine
from tenants.migrate import TENANT_MIGRATIONS, MigrationError, migrate, pending
from tenants.routing import TenantDatabases
from tests.conftest import dev_sign_in


@pytest.fixture
def engine(backend, tmp_path):
    url = backend.get("DATABASE_URL") or f"sqlite:///{tmp_path}/m.db"
    engine = create_engine(url)
    yield engine
    engine.dispose()


def tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_applies_in_order_once(engine, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a (id TEXT PRIMARY KEY);")
    (folder / "0002_b.sql").write_text(
        "CREATE TABLE b (id TEXT PRIMARY KEY, a_id TEXT REFERENCES a (id));"
    )
    assert migrate(engine, folder) == ["0001_a.sql", "0002_b.sql"]
    assert migrate(engine, folder) == []
    assert {"a", "b", "schema_migrations"} <= tables(engine)


def test_a_failing_file_changes_nothing(engine, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_bad.sql").write_text(
        "CREATE TABLE half (id TEXT PRIMARY KEY);\nINSERT INTO nowhere VALUES (1);"
    )
    with pytest.raises(MigrationError, match=r"0001_bad\.sql"):
        migrate(engine, folder)
    assert "half" not in tables(engine)
    assert [m.name for m in pending(engine, folder)] == ["0001_bad.sql"]


def test_an_edited_applied_file_is_refused(engine, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a (id TEXT PRIMARY KEY);")
    migrate(engine, folder)
    (folder / "0001_a.sql").write_text("CREATE TABLE a (id TEXT PRIMARY KEY, x TEXT);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(engine, folder)


def test_badly_named_files_are_refused(engine, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "first.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_description\.sql"):
        migrate(engine, folder)


def test_concurrent_runs_apply_each_file_once(engine, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for n in range(1, 6):
        (folder / f"{n:04d}_t{n}.sql").write_text(f"CREATE TABLE t{n} (id TEXT PRIMARY KEY);")
    applied: list[str] = []
    errors: list[Exception] = []

    def run():
        try:
            applied.extend(migrate(engine, folder))
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(applied) == [f"{n:04d}_t{n}.sql" for n in range(1, 6)]


def test_new_tenant_migration_reaches_existing_tenants(settings, app, client, tmp_path):
    dev_sign_in(client, "ada@example.com")
    tenant_id = app.state.catalog.rows("SELECT id FROM core_tenants")[0]["id"]
    folder = tmp_path / "tenant-migrations"
    shutil.copytree(TENANT_MIGRATIONS, folder)
    (folder / "9001_invoices.sql").write_text(
        "CREATE TABLE invoices (id TEXT PRIMARY KEY, cents INTEGER NOT NULL);"
    )
    restarted = TenantDatabases(settings.tenant_database_url, migrations=folder)
    with restarted.handle(tenant_id) as db:
        db.t.invoices.insert({"id": "i1", "cents": 1999})
        assert db.q("SELECT cents FROM invoices") == [{"cents": 1999}]
    restarted.dispose()
