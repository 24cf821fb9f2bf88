"""Hostile names are refused and hostile values are bound, by every helper that takes a
name or a filter; either way no other row changes (SQLite and PostgreSQL)."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa

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
    with tenant_database(backend, tmp_path) as handle:
        handle.execute(sa.text("CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT NOT NULL)"))
        handle.commit()
        sql.bulk_upsert(handle, "items", ROWS)
        yield handle


def unchanged(db) -> bool:
    db.rollback()
    return sql.select_rows(db, "items", order_by="id") == ROWS


NAME_CALLS = {
    "table": lambda db, n: sql.table(db, n),
    "insert_only table": lambda db, n: sql.insert_only(db, n, {"id": "x", "name": "x"}),
    "insert_only column": lambda db, n: sql.insert_only(db, "items", {"id": "x", n: "x"}),
    "upsert column": lambda db, n: sql.upsert(db, "items", {"id": "a", n: "x"}),
    "upsert key": lambda db, n: sql.upsert(db, "items", {"id": "a", "name": "x"}, key=n),
    "bulk_upsert table": lambda db, n: sql.bulk_upsert(db, n, ROWS),
    "bulk_upsert column": lambda db, n: sql.bulk_upsert(
        db, "items", pl.DataFrame({"id": ["a"], n: ["x"]})
    ),
    "bulk_insert_only key": lambda db, n: sql.bulk_insert_only(db, "items", ROWS, key=[n]),
    "get_by_id table": lambda db, n: sql.get_by_id(db, n, "a"),
    "get_by_id column": lambda db, n: sql.get_by_id(db, "items", "a", id_col=n),
    "update_by_id column": lambda db, n: sql.update_by_id(db, "items", "a", {n: "x"}),
    "update_by_id id column": lambda db, n: sql.update_by_id(
        db, "items", "a", {"name": "x"}, id_col=n
    ),
    "delete_by_id table": lambda db, n: sql.delete_by_id(db, n, "a"),
    "bulk_delete column": lambda db, n: sql.bulk_delete(db, "items", ["a", "b"], id_col=n),
    "select_rows where": lambda db, n: sql.select_rows(db, "items", where={n: "x"}),
    "select_rows order": lambda db, n: sql.select_rows(db, "items", order_by=n),
    "select_rows desc order": lambda db, n: sql.select_rows(db, "items", order_by=[f"-{n}"]),
    "paginate table": lambda db, n: sql.paginate(db, n),
    "paginate where": lambda db, n: sql.paginate(db, "items", where={n: None}),
    "paginate order": lambda db, n: sql.paginate(db, "items", order_by=["id", n]),
    "count_by column": lambda db, n: sql.count_by(db, "items", n),
    "query name": lambda db, n: sql.Queries(q="SELECT 1").run(db, n),
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
            sql.select_rows(db, "items", where={name: "a"})
        with pytest.raises(sql.UnknownName):
            sql.table(db, name)
    assert unchanged(db)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_values_are_bound(db, value):
    assert sql.get_by_id(db, "items", value) is None
    assert sql.select_rows(db, "items", where={"name": value}) == []
    assert sql.select_rows(db, "items", where={"id": [value, "a' --"]}) == []
    assert sql.paginate(db, "items", where={"name": value}).total == 0
    assert sql.update_by_id(db, "items", value, {"name": "changed"}) is False
    assert sql.delete_by_id(db, "items", value) is False
    assert sql.bulk_delete(db, "items", [value]) == 0
    assert sql.Queries(find="SELECT id FROM items WHERE name = :n").run(db, "find", n=value) == []
    assert unchanged(db)
    # Stored as the literal text it is, and only in its own row.
    assert sql.upsert(db, "items", {"id": value, "name": value}) == 1
    assert sql.bulk_upsert(db, "items", [{"id": "z", "name": value}]) == 1
    assert sql.get_by_id(db, "items", value) == {"id": value, "name": value}
    assert sql.select_rows(db, "items", where={"name": value}, order_by="id") == [
        {"id": value, "name": value},
        {"id": "z", "name": value},
    ]
    assert sql.bulk_delete(db, "items", [value, "z"]) == 2
    assert unchanged(db)
