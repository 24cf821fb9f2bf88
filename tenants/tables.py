"""Tables defined at run time: create them from dataclasses, index them, list what exists.

The app's own schema lives in `migrations/` as numbered SQL files; these helpers are for
tables that only exist at run time (a plugin's, a tenant's custom import). They build DDL
with SQLAlchemy, so every name is quoted, and new names must be plain snake_case.

They never add to the shared reflected `MetaData` that requests read. `tenants.sql` helpers
find runtime tables on their own; `db.t.<name>` sees them after `TenantDatabases.forget()`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from fastsql import Database

from tenants.sql import Key, UnknownName, columns, table, transaction

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # 63 bytes: PostgreSQL's identifier limit
# Dates and times are stored as fixed-width ISO text, like every timestamp in this app.
COLUMN_TYPES: dict[type, type[sa.types.TypeEngine]] = {
    str: sa.Text,
    int: sa.BigInteger,
    float: sa.Float,
    bool: sa.Boolean,
    bytes: sa.LargeBinary,
    date: sa.Text,
    datetime: sa.Text,
}


def _new_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UnknownName(f"{name!r} is not a snake_case name of at most 63 characters")
    return name


def _column_type(hint: Any) -> tuple[type[sa.types.TypeEngine], bool]:
    """The SQL type for a field's annotation, and whether it may be NULL (`X | None`)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _column_type(inner[0])[0], True
    if hint in COLUMN_TYPES:
        return COLUMN_TYPES[hint], False
    raise TypeError(
        f"no column type for {hint!r}: use str, int, float, bool, bytes, date or datetime"
        " (money as int cents)"
    )


def _server_default(value: Any) -> Any:
    """A dataclass default as a column default, so rows inserted by SQL get it too."""
    if isinstance(value, bool):
        return sa.true() if value else sa.false()
    if isinstance(value, int | float):
        return sa.text(repr(value))
    if isinstance(value, str):
        return value  # SQLAlchemy renders it as a quoted literal
    return None


def table_definition(model: type, name: str, pk: Key = "id") -> sa.Table:
    """The `sa.Table` for a dataclass, in a MetaData of its own."""
    if not dataclasses.is_dataclass(model):
        raise TypeError(f"{model!r} is not a dataclass")
    hints = typing.get_type_hints(model)
    keys = [pk] if isinstance(pk, str) else list(pk)
    fields = dataclasses.fields(model)
    if missing := set(keys) - {f.name for f in fields}:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(missing))}")
    cols = []
    for f in fields:
        sql_type, nullable = _column_type(hints[f.name])
        default = None if f.default is dataclasses.MISSING else _server_default(f.default)
        cols.append(
            sa.Column(
                _new_name(f.name),
                sql_type(),
                primary_key=f.name in keys,
                nullable=nullable,
                server_default=default,
            )
        )
    return sa.Table(_new_name(name), sa.MetaData(), *cols)


def register_tables(db: Database, models: Sequence[tuple[type, str, Key]]) -> dict[str, sa.Table]:
    """Create each `(dataclass, table name, primary key)` table that does not exist yet, all in
    one transaction. An existing table is left as it is: change a schema with a migration."""
    definitions = [table_definition(model, name, pk) for model, name, pk in models]
    with transaction(db) as conn:
        for definition in definitions:
            definition.create(conn, checkfirst=True)
    return {d.name: d for d in definitions}


def register_table(db: Database, model: type, name: str, pk: Key = "id") -> sa.Table:
    return register_tables(db, [(model, name, pk)])[name]


def drop_table(db: Database, name: str) -> bool:
    """Drop the table if it exists. Returns whether it did."""
    if not table_exists(db, name):
        return False
    with transaction(db) as conn:
        sa.Table(name, sa.MetaData()).drop(conn)
    return True


def table_exists(db: Database, name: str) -> bool:
    try:
        table(db, name)
    except UnknownName:
        return False
    return True


def list_tables(db: Database) -> list[str]:
    return sorted(sa.inspect(db.conn).get_table_names())


def list_indexes(db: Database, table_name: str) -> list[dict[str, Any]]:
    """Each index of the table: `{"name", "columns", "unique"}`."""
    found = table(db, table_name)
    return [
        {"name": i["name"], "columns": list(i["column_names"]), "unique": bool(i["unique"])}
        for i in sa.inspect(db.conn).get_indexes(found.name)
    ]


def create_index(
    db: Database,
    table_name: str,
    index_columns: Sequence[str],
    *,
    unique: bool = False,
    name: str | None = None,
) -> str:
    """Create the index unless one of that name exists; returns its name.

    The default name is `ix_<table>_<columns>` (`uq_` when unique), cut to 63 characters.
    """
    tbl = table(db, table_name)
    cols = columns(tbl, [index_columns] if isinstance(index_columns, str) else index_columns)
    if not cols:
        raise ValueError("an index needs at least one column")
    if name is None:
        name = f"{'uq' if unique else 'ix'}_{tbl.name}_{'_'.join(cols)}"[:63].lower()
        name = re.sub(r"[^a-z0-9_]", "_", name)
    index = sa.Index(_new_name(name), *(tbl.c[c] for c in cols), unique=unique)
    with transaction(db) as conn:
        index.create(conn, checkfirst=True)
    return name


def drop_index(db: Database, name: str) -> bool:
    """Drop the index with this name, on whichever table has it. Returns whether it did."""
    inspector = sa.inspect(db.conn)
    for table_name in inspector.get_table_names():
        if any(i["name"] == name for i in inspector.get_indexes(table_name)):
            owner = sa.Table(table_name, sa.MetaData(), autoload_with=db.conn)
            index = next(i for i in owner.indexes if i.name == name)
            with transaction(db) as conn:
                index.drop(conn)
            return True
    return False
