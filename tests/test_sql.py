"""The bulk upsert and savepoints on a real tenant database, SQLite and PostgreSQL: only the
supplied columns change, a failure leaves the table as before, and nothing commits behind the
back of whoever owns the handle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
import pytest
import sqlalchemy as sa

from tenants import sql
from tenants.engines import tenant_url
from tenants.provision import create_database
from tenants.routing import TenantDatabases, TenantDB
from tenants.stamp import new_id

ITEMS = """CREATE TABLE items (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    price_cents BIGINT CHECK (price_cents >= 0),
    note TEXT DEFAULT 'untouched',
    sku TEXT UNIQUE
)"""
EVENTS = "CREATE TABLE events (id TEXT PRIMARY KEY, day TEXT, at TEXT)"


@contextmanager
def tenant_database(backend: dict[str, str], tmp_path, *ddl: str) -> Iterator[TenantDB]:
    """A fresh, migrated tenant database on the test's backend (shared by the sync tests),
    with the tables `ddl` creates in its reflected schema, as if a migration had made them."""
    template = backend.get("TENANT_DATABASE_URL") or f"sqlite:///{tmp_path}/{{tenant_id}}.db"
    databases = TenantDatabases(template)
    tenant_id = new_id()
    create_database(tenant_url(template, tenant_id))
    if ddl:
        with databases.handle(tenant_id) as setup:
            for statement in ddl:
                setup.execute(sa.text(statement))
            setup.commit()
        databases.forget(tenant_id)  # the next handle reflects the new tables
    handle = databases.handle(tenant_id)
    try:
        yield handle
    finally:
        handle.close()
        databases.dispose()


@pytest.fixture
def db(backend, tmp_path):
    with tenant_database(backend, tmp_path, ITEMS, EVENTS) as handle:
        yield handle


def another_handle(db: TenantDB) -> TenantDB:
    """A second connection to the same database: it sees only what was committed."""
    return TenantDB(db.engine, db.meta, db.tenant_id)


def committed(db: TenantDB, table: str = "items") -> list[dict]:
    with another_handle(db) as other:
        return other.q(f"SELECT * FROM {table} ORDER BY id")


def pending(db: TenantDB) -> list[dict]:
    """The rows as the handle's own unit of work sees them, committed or not."""
    return db.q("SELECT * FROM items ORDER BY id")


def test_bulk_upsert_updates_only_supplied_columns_and_counts_real_changes(db):
    sql.bulk_upsert(
        db,
        "items",
        [
            {"id": "a", "name": "A", "price_cents": 1, "note": "keep a"},
            {"id": "b", "name": "B", "price_cents": 2, "note": "keep b"},
        ],
    )
    frame = pl.DataFrame({"id": ["a", "b", "c"], "name": ["A", "B2", "C"]})
    assert sql.bulk_upsert(db, "items", frame) == 2  # b changed, c new, a identical
    assert sql.bulk_upsert(db, "items", frame) == 0  # nothing differs: nothing rewritten
    assert pending(db) == [
        {"id": "a", "name": "A", "price_cents": 1, "note": "keep a", "sku": None},
        {"id": "b", "name": "B2", "price_cents": 2, "note": "keep b", "sku": None},
        {"id": "c", "name": "C", "price_cents": None, "note": "untouched", "sku": None},
    ]


def test_rows_that_supply_only_the_key_insert_new_ones_and_leave_the_rest(db):
    sql.bulk_upsert(db, "events", [{"id": "e1", "day": "2024-01-01"}])
    assert sql.bulk_upsert(db, "events", [{"id": "e1"}, {"id": "e2"}]) == 1  # e2 only
    assert db.q("SELECT id, day FROM events ORDER BY id") == [
        {"id": "e1", "day": "2024-01-01"},
        {"id": "e2", "day": None},
    ]


def test_upsert_on_another_unique_key(db):
    sql.bulk_upsert(db, "items", [{"id": "a", "name": "A", "sku": "SKU-1"}])
    assert sql.bulk_upsert(db, "items", [{"id": "a", "name": "by sku", "sku": "SKU-1"}], key="sku")
    assert [r["name"] for r in pending(db)] == ["by sku"]


def test_duplicate_keys_in_one_batch_last_one_wins(db):
    rows = [{"id": "a", "name": "first"}, {"id": "a", "name": "last"}]
    assert sql.bulk_upsert(db, "items", rows) == 1
    assert [r["name"] for r in pending(db)] == ["last"]


def test_failure_mid_batch_leaves_the_table_as_before_and_the_unit_of_work_usable(db):
    sql.bulk_upsert(db, "items", [{"id": "a", "name": "A", "price_cents": 1}])
    db.commit()
    sql.bulk_upsert(db, "items", [{"id": "p", "name": "pending, not committed"}])
    before = pending(db)
    batch = [{"id": f"n{i}", "name": "new", "price_cents": 5} for i in range(500)]
    batch += [{"id": "a", "name": "changed", "price_cents": 1}]
    batch += [{"id": "bad", "name": "breaks the CHECK", "price_cents": -1}]
    batch += [{"id": f"m{i}", "name": "new", "price_cents": 5} for i in range(500)]
    with pytest.raises(sa.exc.IntegrityError):
        sql.bulk_upsert(db, "items", batch)
    assert pending(db) == before  # the earlier write of this unit of work is still there
    assert sql.bulk_upsert(db, "items", batch[:-501]) == 501  # usable again, also on PostgreSQL
    db.commit()
    assert len(committed(db)) == 502  # a, p and n0-n499


def test_bulk_upsert_never_commits(db):
    sql.bulk_upsert(db, "items", [{"id": "a", "name": "A"}])
    assert committed(db) == []  # another connection does not see it yet
    db.rollback()
    assert pending(db) == []
    sql.bulk_upsert(db, "items", [{"id": "b", "name": "B"}])
    db.commit()
    assert [r["id"] for r in committed(db)] == ["b"]


def test_a_savepoint_undoes_only_its_own_block(db):
    db.q("INSERT INTO items (id, name) VALUES ('outer', 'kept')")
    with pytest.raises(RuntimeError), sql.savepoint(db):
        db.q("INSERT INTO items (id, name) VALUES ('inner', 'dropped')")
        sql.bulk_upsert(db, "items", [{"id": "also", "name": "dropped"}])
        raise RuntimeError("boom")
    with sql.savepoint(db), sql.savepoint(db):
        db.q("INSERT INTO items (id, name) VALUES ('nested', 'kept')")
    assert [r["id"] for r in pending(db)] == ["nested", "outer"]
    assert committed(db) == []


def test_a_savepoint_after_only_reads_commits_nothing(db):
    """On SQLite a SAVEPOINT outside a transaction starts one that RELEASE commits; after the
    request's reads the driver has no transaction open, so this is the case that matters."""
    assert pending(db) == []
    with sql.savepoint(db):
        db.q("INSERT INTO items (id, name) VALUES ('a', 'A')")
    assert committed(db) == []
    db.rollback()
    assert pending(db) == []


def test_upsert_needs_a_unique_key_supplied_by_the_rows(db):
    with pytest.raises(ValueError, match="no unique key"):
        sql.bulk_upsert(db, "items", [{"id": "a", "name": "A"}], key="name")
    with pytest.raises(ValueError, match="key column"):
        sql.bulk_upsert(db, "items", [{"name": "no id"}])
    with pytest.raises(ValueError, match="same columns"):
        sql.bulk_upsert(db, "items", [{"id": "a", "name": "A"}, {"id": "b"}])
    with pytest.raises(ValueError, match="named twice"):
        sql.bulk_upsert(db, "items", [{"id": "a", "name": "A"}], key=["id", "id"])
    assert sql.bulk_upsert(db, "items", []) == 0
    assert pending(db) == []


def test_only_tables_of_the_tenants_schema(db):
    db.execute(sa.text("CREATE TABLE made_at_run_time (id TEXT PRIMARY KEY)"))
    with pytest.raises(sql.UnknownName):
        sql.bulk_upsert(db, "made_at_run_time", [{"id": "a"}])
    with pytest.raises(sql.UnknownName):
        sql.bulk_upsert(db, "items", [{"id": "a", "name": "A", "colour": "red"}])


def test_frame_dates_and_times_are_stored_as_iso_text(db):
    frame = pl.select(
        id=pl.lit("e1"),
        day=pl.date(2024, 2, 29),
        at=pl.datetime(2024, 2, 29, 23, 30, time_zone="Europe/Paris"),
    )
    naive = pl.select(id=pl.lit("e2"), day=pl.lit(None), at=pl.datetime(2024, 3, 1, 8))
    sql.bulk_upsert(db, "events", frame)
    sql.bulk_upsert(db, "events", naive)
    db.commit()
    assert committed(db, "events") == [
        {"id": "e1", "day": "2024-02-29", "at": "2024-02-29T22:30:00.000000Z"},
        {"id": "e2", "day": None, "at": "2024-03-01T08:00:00.000000Z"},
    ]
