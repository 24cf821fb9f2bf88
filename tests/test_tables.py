"""Runtime tables from dataclasses, indexes and introspection (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants import sql, tables
from tests.test_sql import tenant_database


@dataclass
class Transaction:
    id: str
    account_id: str
    external_id: str
    amount_cents: int
    booked_on: date
    category: str | None = None
    reconciled: bool = False
    source: str = "import"
    imported_at: datetime | None = None


@dataclass
class Connection:
    id: str
    provider: str


@pytest.fixture
def db(backend, tmp_path):
    with tenant_database(backend, tmp_path) as handle:
        yield handle


def test_register_table_from_a_dataclass(db):
    created = tables.register_table(db, Transaction, "transactions")
    assert created.name == "transactions"
    assert tables.table_exists(db, "transactions")
    assert "transactions" in tables.list_tables(db)
    row = {
        "id": "t1",
        "account_id": "acc",
        "external_id": "x1",
        "amount_cents": 2**40,
        "booked_on": "2024-01-31",
    }
    sql.insert_only(db, "transactions", row)
    stored = sql.get_by_id(db, "transactions", "t1")
    assert stored == {
        **row,
        "category": None,
        "reconciled": False,  # dataclass defaults became column defaults
        "source": "import",
        "imported_at": None,
    }
    with pytest.raises(sa.exc.IntegrityError):  # not Optional: NOT NULL
        sql.insert_only(db, "transactions", {**row, "id": "t2", "account_id": None})
    assert tables.register_table(db, Transaction, "transactions").name == "transactions"


def test_register_tables_is_all_or_nothing(db):
    @dataclass
    class Broken:
        id: str
        amount: Decimal  # money is int cents: refused before anything is created

    with pytest.raises(TypeError, match="int cents"):
        tables.register_tables(db, [(Connection, "connections", "id"), (Broken, "broken", "id")])
    assert not tables.table_exists(db, "connections")
    made = tables.register_tables(
        db, [(Connection, "connections", "id"), (Transaction, "transactions", "id")]
    )
    assert set(made) == {"connections", "transactions"}


def test_register_tables_rolls_back_when_the_database_refuses(db, monkeypatch):
    original = sa.Table.create

    def fail_on_second(self, bind, checkfirst=False):
        if self.name == "transactions":
            raise sa.exc.OperationalError("CREATE", {}, Exception("disk full"))
        return original(self, bind, checkfirst=checkfirst)

    monkeypatch.setattr(sa.Table, "create", fail_on_second)
    with pytest.raises(sa.exc.OperationalError):
        tables.register_tables(
            db, [(Connection, "connections", "id"), (Transaction, "transactions", "id")]
        )
    monkeypatch.undo()
    assert not tables.table_exists(db, "connections")


def test_composite_primary_key_and_drop(db):
    @dataclass
    class Rate:
        currency: str
        day: date
        rate_micros: int

    tables.register_table(db, Rate, "rates", pk=("currency", "day"))
    sql.bulk_upsert(
        db,
        "rates",
        [{"currency": "EUR", "day": "2024-01-01", "rate_micros": 1}],
        key=("currency", "day"),
    )
    assert (
        sql.bulk_upsert(
            db,
            "rates",
            [{"currency": "EUR", "day": "2024-01-01", "rate_micros": 2}],
            key=("currency", "day"),
        )
        == 1
    )
    assert tables.drop_table(db, "rates") is True
    assert tables.drop_table(db, "rates") is False
    assert not tables.table_exists(db, "rates")


def test_indexes_unique_composite_list_and_drop(db):
    tables.register_table(db, Transaction, "transactions")
    assert tables.create_index(db, "transactions", ["booked_on"]) == "ix_transactions_booked_on"
    unique = tables.create_index(
        db, "transactions", ["account_id", "external_id"], unique=True, name="uq_txn_external"
    )
    assert tables.create_index(db, "transactions", ["booked_on"]) == "ix_transactions_booked_on"
    listed = {i["name"]: i for i in tables.list_indexes(db, "transactions")}
    assert listed["uq_txn_external"] == {
        "name": "uq_txn_external",
        "columns": ["account_id", "external_id"],
        "unique": True,
    }
    assert listed["ix_transactions_booked_on"]["unique"] is False
    row = {
        "id": "t1",
        "account_id": "a",
        "external_id": "e",
        "amount_cents": 1,
        "booked_on": "2024-01-01",
    }
    sql.insert_only(db, "transactions", row)
    with pytest.raises(sa.exc.IntegrityError):
        sql.insert_only(db, "transactions", {**row, "id": "t2"})
    # The new unique index is a valid upsert key for runtime tables (reflected fresh).
    assert (
        sql.upsert(
            db,
            "transactions",
            {**row, "id": "t1", "amount_cents": 5},
            key=["account_id", "external_id"],
        )
        == 1
    )
    assert tables.drop_index(db, unique) is True
    assert tables.drop_index(db, unique) is False
    assert sql.insert_only(db, "transactions", {**row, "id": "t2"}) == 1


@pytest.mark.parametrize(
    "name",
    ["transactions; DROP TABLE notes", 'x"y', "Upper", "1starts_with_digit", "a" * 64, ""],
)
def test_hostile_names_are_refused(db, name):
    tables.register_table(db, Transaction, "transactions")
    with pytest.raises(sql.UnknownName):
        tables.register_table(db, Connection, name)
    with pytest.raises(sql.UnknownName):
        tables.create_index(db, "transactions", ["booked_on"], name=name)
    with pytest.raises(sql.UnknownName):
        tables.create_index(db, name, ["booked_on"])
    with pytest.raises(sql.UnknownName):
        tables.create_index(db, "transactions", [name])
    with pytest.raises(sql.UnknownName):
        tables.list_indexes(db, name)
    assert tables.table_exists(db, name) is False
    assert tables.drop_table(db, name) is False
    assert tables.drop_index(db, name) is False
    assert "notes" in tables.list_tables(db) and tables.table_exists(db, "transactions")


def test_fields_need_supported_types(db):
    @dataclass
    class Odd:
        id: str
        tags: list[str]

    with pytest.raises(TypeError, match="no column type"):
        tables.register_table(db, Odd, "odd")
    with pytest.raises(TypeError):
        tables.register_table(db, dict, "plain")
    with pytest.raises(ValueError, match="no field"):
        tables.register_table(db, Connection, "connections", pk="uuid")
