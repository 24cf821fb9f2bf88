"""SQL helpers on a real tenant database, SQLite and PostgreSQL: upsert semantics,
transactions that really roll back, CRUD, paging, named queries, and money."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

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


@contextmanager
def tenant_database(backend: dict[str, str], tmp_path) -> Iterator[TenantDB]:
    """A fresh, migrated tenant database on the test's backend (shared by the sync tests)."""
    template = backend.get("TENANT_DATABASE_URL") or f"sqlite:///{tmp_path}/{{tenant_id}}.db"
    databases = TenantDatabases(template)
    tenant_id = new_id()
    create_database(tenant_url(template, tenant_id))
    handle = databases.handle(tenant_id)
    try:
        yield handle
    finally:
        handle.close()
        databases.dispose()


@pytest.fixture
def db(backend, tmp_path):
    with tenant_database(backend, tmp_path) as handle:
        handle.execute(sa.text(ITEMS))
        handle.commit()
        yield handle


def all_items(db) -> list[dict]:
    return sql.select_rows(db, "items", order_by="id")


def test_upsert_keeps_columns_it_was_not_given(db):
    assert sql.insert_only(db, "items", {"id": "a", "name": "Apple", "price_cents": 100}) == 1
    sql.update_by_id(db, "items", "a", {"note": "hand-written"})
    assert sql.upsert(db, "items", {"id": "a", "name": "Apple v2"}) == 1
    assert sql.get_by_id(db, "items", "a") == {
        "id": "a",
        "name": "Apple v2",
        "price_cents": 100,
        "note": "hand-written",
        "sku": None,
    }


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
    assert all_items(db) == [
        {"id": "a", "name": "A", "price_cents": 1, "note": "keep a", "sku": None},
        {"id": "b", "name": "B2", "price_cents": 2, "note": "keep b", "sku": None},
        {"id": "c", "name": "C", "price_cents": None, "note": "untouched", "sku": None},
    ]


def test_bulk_insert_only_skips_existing_keys(db):
    sql.insert_only(db, "items", {"id": "a", "name": "original"})
    rows = [{"id": "a", "name": "changed"}, {"id": "b", "name": "new"}]
    assert sql.bulk_insert_only(db, "items", rows) == 1
    assert [r["name"] for r in all_items(db)] == ["original", "new"]
    assert sql.insert_only(db, "items", {"id": "a", "name": "again"}) == 0


def test_upsert_on_another_unique_key(db):
    sql.insert_only(db, "items", {"id": "a", "name": "A", "sku": "SKU-1"})
    assert sql.bulk_upsert(db, "items", [{"id": "a", "name": "by sku", "sku": "SKU-1"}], key="sku")
    assert sql.get_by_id(db, "items", "a")["name"] == "by sku"


def test_duplicate_keys_in_one_batch_last_one_wins(db):
    rows = [{"id": "a", "name": "first"}, {"id": "a", "name": "last"}]
    assert sql.bulk_upsert(db, "items", rows) == 1
    assert [r["name"] for r in all_items(db)] == ["last"]


def test_failure_mid_batch_leaves_the_table_as_before(db):
    sql.bulk_upsert(db, "items", [{"id": "a", "name": "A", "price_cents": 1}])
    before = all_items(db)
    batch = [{"id": f"n{i}", "name": "new", "price_cents": 5} for i in range(500)]
    batch += [{"id": "a", "name": "changed", "price_cents": 1}]
    batch += [{"id": "bad", "name": "breaks the CHECK", "price_cents": -1}]
    batch += [{"id": f"m{i}", "name": "new", "price_cents": 5} for i in range(500)]
    with pytest.raises(sa.exc.IntegrityError):
        sql.bulk_upsert(db, "items", batch)
    assert all_items(db) == before
    assert sql.bulk_upsert(db, "items", batch[:-501]) == 501  # the connection is usable again


def test_transaction_rolls_back_everything_inside(db):
    with pytest.raises(RuntimeError), sql.transaction(db):
        sql.insert_only(db, "items", {"id": "a", "name": "A"})
        sql.bulk_upsert(db, "items", [{"id": "b", "name": "B"}])
        raise RuntimeError("boom")
    assert all_items(db) == []
    with sql.transaction(db):
        sql.insert_only(db, "items", {"id": "a", "name": "A"})
    db.rollback()  # nothing pending: the block committed
    assert [r["id"] for r in all_items(db)] == ["a"]


def test_nested_transaction_rolls_back_only_the_inner_block(db):
    with sql.transaction(db):
        sql.insert_only(db, "items", {"id": "outer", "name": "kept"})
        with pytest.raises(ValueError), sql.transaction(db):
            sql.insert_only(db, "items", {"id": "inner", "name": "dropped"})
            raise ValueError
    assert [r["id"] for r in all_items(db)] == ["outer"]


def test_batch_execute_commits_each_batch(db):
    def insert(batch):
        if any(i == 7 for i in batch):
            raise RuntimeError("bad item")
        sql.bulk_insert_only(db, "items", [{"id": f"i{i}", "name": "x"} for i in batch])

    with pytest.raises(RuntimeError):
        sql.batch_execute(db, insert, range(10), batch_size=3)
    assert len(all_items(db)) == 6  # batches [0-2] and [3-5] stayed; [6-8] rolled back
    assert sql.batch_execute(db, lambda batch: None, iter(range(10)), batch_size=4) == 10


def test_get_update_delete_by_id(db):
    sql.bulk_upsert(db, "items", [{"id": x, "name": x.upper()} for x in "abcde"])
    assert sql.get_by_id(db, "items", "zz") is None
    assert sql.update_by_id(db, "items", "b", {"name": "Bee"}) is True
    assert sql.update_by_id(db, "items", "zz", {"name": "nobody"}) is False
    assert sql.delete_by_id(db, "items", "a") is True
    assert sql.delete_by_id(db, "items", "a") is False
    assert sql.bulk_delete(db, "items", ["c", "d", "missing"]) == 2
    assert [(r["id"], r["name"]) for r in all_items(db)] == [("b", "Bee"), ("e", "E")]


def test_bulk_delete_many_ids_in_chunks(db):
    sql.bulk_upsert(db, "items", [{"id": f"{i:05}", "name": "x"} for i in range(2500)])
    assert sql.bulk_delete(db, "items", (f"{i:05}" for i in range(0, 2500, 2))) == 1250
    assert len(all_items(db)) == 1250


def test_paginate_filters_orders_and_clamps(db):
    sql.bulk_upsert(
        db,
        "items",
        [
            {"id": f"{i:02}", "name": "even" if i % 2 == 0 else "odd", "price_cents": i}
            for i in range(25)
        ],
    )
    first = sql.paginate(db, "items", per_page=5, where={"name": "even"}, order_by="-price_cents")
    assert (first.total, first.pages, first.has_previous, first.has_next) == (13, 3, False, True)
    assert [r["price_cents"] for r in first.rows] == [24, 22, 20, 18, 16]
    last = sql.paginate(db, "items", page=99, per_page=5, where={"name": "even"})
    assert last.page == 3 and [r["id"] for r in last.rows] == ["20", "22", "24"]
    listed = sql.paginate(db, "items", where={"id": ["01", "02"], "note": "untouched"})
    assert [r["id"] for r in listed.rows] == ["01", "02"]
    assert sql.paginate(db, "items", where={"sku": None}).total == 25
    with pytest.raises(ValueError):
        sql.paginate(db, "items", per_page=0)


def test_count_by_most_common_first(db):
    names = ["x", "y", "y", "z", "z", "z"]
    sql.bulk_upsert(db, "items", [{"id": str(i), "name": n} for i, n in enumerate(names)])
    assert sql.count_by(db, "items", "name") == [("z", 3), ("y", 2), ("x", 1)]


def test_named_queries_check_their_parameters(db):
    queries = sql.Queries(
        by_name="SELECT id FROM items WHERE name = :name ORDER BY id",
        rename="UPDATE items SET name = :new WHERE name = :old",
    )
    sql.bulk_upsert(db, "items", [{"id": "a", "name": "A"}, {"id": "b", "name": "A"}])
    assert queries.params("rename") == {"new", "old"}
    assert queries.run(db, "by_name", name="A") == [{"id": "a"}, {"id": "b"}]
    assert queries.run(db, "rename", old="A", new="B") == 2
    with pytest.raises(sql.QueryError, match="needs old"):
        queries.run(db, "rename", new="C")
    with pytest.raises(sql.QueryError, match="takes no extra"):
        queries.run(db, "by_name", name="B", extra=1)
    with pytest.raises(sql.UnknownName):
        queries.run(db, "drop_everything")
    assert [r["name"] for r in all_items(db)] == ["B", "B"]


def test_upsert_needs_a_unique_key_supplied_by_the_rows(db):
    with pytest.raises(ValueError, match="no unique key"):
        sql.bulk_upsert(db, "items", [{"id": "a", "name": "A"}], key="name")
    with pytest.raises(ValueError, match="key column"):
        sql.upsert(db, "items", {"name": "no id"})
    with pytest.raises(ValueError, match="same columns"):
        sql.bulk_upsert(db, "items", [{"id": "a", "name": "A"}, {"id": "b"}])
    assert all_items(db) == []


def test_frame_dates_and_times_are_stored_as_iso_text(db):
    db.execute(sa.text("CREATE TABLE events (id TEXT PRIMARY KEY, day TEXT, at TEXT)"))
    db.commit()
    frame = pl.select(
        id=pl.lit("e1"),
        day=pl.date(2024, 2, 29),
        at=pl.datetime(2024, 2, 29, 23, 30, time_zone="Europe/Paris"),
    )
    sql.bulk_upsert(db, "events", frame)
    assert sql.get_by_id(db, "events", "e1") == {
        "id": "e1",
        "day": "2024-02-29",
        "at": "2024-02-29T22:30:00.000000Z",
    }


# --- money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("19.99", 1999),
        ("0.29", 29),
        ("$1,234.50", 123450),
        ("-$5", -500),
        ("+7.1", 710),
        ("0.005", 1),
        ("-0.005", -1),
        ("0.0049999", 0),
        (19.99, 1999),
        (0.29, 29),
        (1.005, 101),  # the JSON said 1.005; its float is a hair below, but we read the text
        (Decimal("2.675"), 268),
        (12, 1200),
        (None, None),
    ],
)
def test_to_cents(amount, cents):
    assert sql.to_cents(amount) == cents


@pytest.mark.parametrize("amount", ["", "abc", "1,50", "1.2.3", "$", "1e5", "NaN", "١٢"])
def test_to_cents_refuses_what_is_not_money(amount):
    with pytest.raises(ValueError):
        sql.to_cents(amount)


def test_to_cents_refuses_other_types():
    for amount in (True, [1], Decimal("Infinity"), float("nan")):
        with pytest.raises((TypeError, ValueError)):
            sql.to_cents(amount)


def test_format_cents():
    assert sql.format_cents(123450) == "$1,234.50"
    assert sql.format_cents(-5) == "-$0.05"
    assert sql.format_cents(199, symbol="€") == "€1.99"
    assert sql.format_cents(None) == ""


@given(st.decimals(min_value=-(10**15), max_value=10**15, places=2))
def test_cents_round_trip_two_places(amount):
    cents = sql.to_cents(amount)
    assert sql.from_cents(cents) == amount
    assert sql.to_cents(str(amount)) == cents
    assert sql.to_cents(sql.format_cents(cents)) == cents


@given(st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False))
def test_cents_round_half_away_from_zero(amount):
    expected = int((abs(amount) * 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    assert sql.to_cents(amount) == (-expected if amount < 0 else expected)


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_from_cents_round_trip(cents):
    assert sql.to_cents(sql.from_cents(cents)) == cents
