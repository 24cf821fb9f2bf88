"""Hostile names are refused and hostile values are bound, wherever a name reaches SQL text:
the bulk upsert's table, columns and key, and a sync's table and columns (the sync page sorts
and counts by them). Either way no row changes (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from app.demo.sync import DEMO
from tenants import sql
from tests.test_sql import tenant_database

HOSTILE_NAMES = [
    "items; DROP TABLE items; --",
    'items"; DROP TABLE items; --',
    "name = 'x' OR '1'='1",
    "id) VALUES ('x'); DELETE FROM items; --",
    '"name"',
    "name --",
    "",
    " ",
    "na\x00me",
    "n" * 500,
    "*",
    "Name",
]
HOSTILE_VALUES = [
    "a' OR '1'='1",
    "a'; DELETE FROM items; --",
    '" OR ""="',
    "1 OR 1=1",
    "%",
    "\\'; DROP TABLE items; --",
]
ROWS = [{"id": "a", "name": "Alice"}, {"id": "b", "name": "Bob"}, {"id": "c", "name": "Carol"}]


@pytest.fixture
def db(backend, tmp_path):
    items = "CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT NOT NULL)"
    with tenant_database(backend, tmp_path, items) as handle:
        sql.bulk_upsert(handle, "items", ROWS)
        handle.commit()
        yield handle


def unchanged(db) -> bool:
    db.rollback()
    return db.q("SELECT * FROM items ORDER BY id") == ROWS


NAME_CALLS = {
    "table": lambda db, n: sql.bulk_upsert(db, n, ROWS),
    "column": lambda db, n: sql.bulk_upsert(db, "items", pl.DataFrame({"id": ["a"], n: ["x"]})),
    "key": lambda db, n: sql.bulk_upsert(db, "items", ROWS, key=n),
    "key list": lambda db, n: sql.bulk_upsert(db, "items", ROWS, key=["id", n]),
}


@pytest.mark.parametrize("call", NAME_CALLS.values(), ids=NAME_CALLS.keys())
def test_hostile_names_are_refused(db, call):
    for name in HOSTILE_NAMES:
        with pytest.raises(sql.UnknownName):
            call(db, name)
    assert unchanged(db)


def test_non_string_names_are_refused(db):
    for name in (None, 1, ("id",), b"id"):
        with pytest.raises(sql.UnknownName):
            sql.bulk_upsert(db, name, ROWS)
        with pytest.raises(sql.UnknownName):
            sql.bulk_upsert(db, "items", ROWS, key=[name])
    assert unchanged(db)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_values_are_bound(db, value):
    # Stored as the literal text it is, and only in its own rows.
    assert sql.bulk_upsert(db, "items", [{"id": value, "name": value}]) == 1
    assert sql.bulk_upsert(db, "items", [{"id": "a", "name": value}]) == 1
    found = db.q("SELECT id FROM items WHERE name = :v", v=value)
    assert sorted(r["id"] for r in found) == sorted([value, "a"])
    assert unchanged(db)


@pytest.mark.parametrize("field", ["table", "updated_column", "key", "chart_column"])
def test_a_sync_with_a_hostile_name_cannot_be_defined(field):
    for name in [*HOSTILE_NAMES, 1]:
        with pytest.raises(ValueError, match="SQL names"):
            dataclasses.replace(DEMO, **{field: name})
    with pytest.raises(ValueError, match="SQL names"):
        dataclasses.replace(DEMO, key=("id", "id; --"))
    assert dataclasses.replace(DEMO, **{field: "fine_name_2"})
