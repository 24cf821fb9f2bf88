"""What fastsql lacks: a bulk upsert that changes only the supplied columns, and savepoints.

A tenant handle (`auth.db`, `ctx.db`) is a fastsql `Database`: its tables do CRUD
(`db.t.notes.insert(...)`, `.update`, `.delete`, `db.t.notes(where=..., limit=...)`) and
`db.q(sql, **params)` runs queries. Two things are not in it:

- `bulk_upsert(db, table, rows, key)` writes many rows at once: a polars frame or a list of
  dicts goes into a temporary staging table (COPY on PostgreSQL, multi-row VALUES on SQLite)
  and is merged with one `INSERT ... SELECT ... ON CONFLICT DO UPDATE` that sets only the
  columns the rows supply, only where a value differs. It returns how many rows were inserted
  or changed. The table must be in the tenant's schema and every column one of its columns
  (anything else raises `UnknownName`); SQLAlchemy quotes the names and binds every value.
- `savepoint(db)` makes a block all-or-nothing on its own, inside the caller's unit of work.

Neither commits. Writes join the unit of work of whoever owns the handle (a request's writes
commit when it answers, a job's with the job), and `bulk_upsert` runs in a savepoint, so a
failure part-way leaves the table as it was and the unit of work still usable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Any, cast

import polars as pl
import sqlalchemy as sa
from fastsql import Database
from sqlalchemy.dialects import postgresql, sqlite

from tenants.stamp import TIME_FORMAT

if TYPE_CHECKING:
    import psycopg

Rows = Sequence[Mapping[str, Any]] | pl.DataFrame
Key = str | Sequence[str]

COUNT_ROWS = {"preserve_rowcount": True}  # SQLAlchemy drops INSERT row counts unless asked
SQLITE_MAX_PARAMETERS = 999  # per statement, in the oldest SQLite versions still around
# Temporary tables belong to their connection, and each merge drops its own, so one name
# serves all: the same statements each time, which the driver and SQLAlchemy cache.
STAGING_TABLE = "_merge_staging"
POLARS_TIME_FORMAT = TIME_FORMAT.replace(".%f", "%.6f")  # chrono spells microseconds "%.6f"
DIALECT_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


class UnknownName(ValueError):
    """A table or column name that is not in the tenant's schema: refused."""


@contextmanager
def savepoint(db: Database) -> Iterator[sa.Connection]:
    """Everything inside is undone if the block raises; nothing is committed when it ends.

    On SQLite the driver opens a transaction only at the first write, and a SAVEPOINT outside
    one starts its own, which RELEASE then commits: the block's writes would be committed
    behind the owner's back. So a real transaction is begun first when none is open.
    """
    conn = db.conn
    if conn.dialect.name == "sqlite":
        if not conn.in_transaction():
            conn.begin()  # runs the engine's "begin" hook, which may already BEGIN IMMEDIATE
        if not conn.connection.driver_connection.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # a write follows: take the lock now
    with conn.begin_nested():
        yield conn


def bulk_upsert(db: Database, table_name: str, rows: Rows, key: Key = "id") -> int:
    """Insert new rows and update the supplied columns of existing ones that differ.

    `rows` is a polars frame or a list of dicts that all supply the same columns; `key` is a
    unique key of the table, supplied by every row. Columns the rows do not supply keep their
    values; identical rows are not rewritten. Returns how many rows were inserted or changed.
    """
    frame = _frame(rows)
    if frame.is_empty():
        return 0
    tbl = _table(db, table_name)
    supplied = _columns(tbl, frame.columns)
    key_columns = _key(tbl, key, supplied)
    # One row per key, the last one winning: PostgreSQL refuses to update a row twice.
    frame = storable(frame.unique(subset=key_columns, keep="last", maintain_order=True))
    stage = _staging(tbl, tuple(supplied))
    with savepoint(db) as conn:
        stage.create(conn)
        _load(conn, stage, frame)
        # `WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON clause.
        stmt = _insert(conn, tbl).from_select(supplied, sa.select(*stage.c).where(sa.true()))
        written = conn.execute(
            _on_conflict(stmt, tbl, key_columns, supplied), execution_options=COUNT_ROWS
        ).rowcount
        stage.drop(conn)
    return written


def storable(frame: pl.DataFrame) -> pl.DataFrame:
    """Values as the database stores them: times as fixed-width UTC text (see tenants.stamp)."""
    converted = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            col = (
                col.dt.convert_time_zone("UTC")
                if dtype.time_zone
                else col.dt.replace_time_zone("UTC")
            )
            converted.append(col.dt.strftime(POLARS_TIME_FORMAT))
        elif dtype == pl.Date:
            converted.append(col.dt.strftime("%Y-%m-%d"))
        elif dtype == pl.Decimal:
            converted.append(col.cast(pl.String))
        elif dtype.is_nested():
            raise ValueError(f"column {name} holds {dtype}; flatten or encode it first")
    return frame.with_columns(converted) if converted else frame


# --- names -------------------------------------------------------------------------------


def _table(db: Database, name: Any) -> sa.Table:
    """The table called `name` in the tenant's reflected schema (from its migrations)."""
    found = db.meta.tables.get(name) if isinstance(name, str) else None
    if found is None:
        raise UnknownName(f"no table {name!r}")
    return found


def _columns(tbl: sa.Table, names: Sequence[Any]) -> list[str]:
    """`names` as a list, after checking each one is a column of `tbl`, once."""
    unknown = [n for n in names if not isinstance(n, str) or n not in tbl.c]
    if unknown:
        raise UnknownName(f"{tbl.name} has no column {', '.join(map(repr, unknown))}")
    if len(set(names)) != len(names):
        raise ValueError(f"a column is named twice in {names}")
    return list(names)


def _key(tbl: sa.Table, key: Key, supplied: Sequence[str]) -> list[str]:
    """The conflict key: real columns, supplied by the rows, and unique in the table."""
    key_columns = _columns(tbl, [key] if isinstance(key, str) else list(key))
    missing = [k for k in key_columns if k not in supplied]
    if missing:
        raise ValueError(f"rows must supply the key column {', '.join(missing)}")
    unique = [{c.name for c in tbl.primary_key.columns}]
    unique += [
        {c.name for c in k.columns} for k in tbl.constraints if isinstance(k, sa.UniqueConstraint)
    ]
    unique += [{c.name for c in i.columns} for i in tbl.indexes if i.unique]
    if set(key_columns) not in unique:
        raise ValueError(f"{tbl.name} has no unique key on ({', '.join(key_columns)})")
    return key_columns


# --- the merge ---------------------------------------------------------------------------


def _insert(conn: sa.Connection, tbl: sa.Table) -> Any:
    """The dialect's INSERT, the one that knows ON CONFLICT."""
    if conn.dialect.name not in DIALECT_INSERTS:
        raise NotImplementedError(f"upserts support SQLite and PostgreSQL, not {conn.dialect.name}")
    return DIALECT_INSERTS[conn.dialect.name](tbl)


def _on_conflict(stmt: Any, tbl: sa.Table, key: list[str], supplied: Sequence[str]) -> Any:
    changing = [c for c in supplied if c not in key]
    if not changing:
        return stmt.on_conflict_do_nothing(index_elements=key)
    return stmt.on_conflict_do_update(
        index_elements=key,
        set_={c: stmt.excluded[c] for c in changing},  # supplied columns only: others are kept
        where=sa.or_(*(tbl.c[c].is_distinct_from(stmt.excluded[c]) for c in changing)),
    )


def _frame(rows: Rows) -> pl.DataFrame:
    if isinstance(rows, pl.DataFrame):
        return rows
    rows = list(rows)
    if rows and any(r.keys() != rows[0].keys() for r in rows):
        raise ValueError("every record must supply the same columns")
    return pl.DataFrame(rows, infer_schema_length=None)


@lru_cache(maxsize=64)
def _staging(tbl: sa.Table, supplied: tuple[str, ...]) -> sa.Table:
    """The staging table for these columns of `tbl`, as one object per shape: SQLAlchemy
    caches compiled statements by table object, so a new one per batch would pile up."""
    return sa.Table(
        STAGING_TABLE,
        sa.MetaData(),
        *(sa.Column(c, tbl.c[c].type) for c in supplied),
        prefixes=["TEMPORARY"],
    )


def _load(conn: sa.Connection, stage: sa.Table, frame: pl.DataFrame) -> None:
    """Fill the staging table as fast as the driver allows: COPY on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from psycopg import sql  # the PostgreSQL driver; SQLite-only installs never import it

        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(stage.name), sql.SQL(", ").join(map(sql.Identifier, frame.columns))
        )
        driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in frame.iter_rows():
                copy.write_row(row)
    else:  # multi-row VALUES: far fewer statements for the driver to step through
        rows, per_insert = frame.rows(), max(1, SQLITE_MAX_PARAMETERS // frame.width)
        full = len(rows) - len(rows) % per_insert
        batches = [
            tuple(chain.from_iterable(rows[i : i + per_insert])) for i in range(0, full, per_insert)
        ]
        if batches:
            conn.exec_driver_sql(_insert_values(conn, stage, per_insert), batches)
        if rows[full:]:
            conn.exec_driver_sql(_insert_values(conn, stage, 1), rows[full:])


def _insert_values(conn: sa.Connection, stage: sa.Table, rows: int) -> str:
    """`INSERT INTO stage (a, b) VALUES (?, ?), (?, ?), ...` for `rows` rows."""
    head, _, group = str(sa.insert(stage).compile(dialect=conn.dialect)).partition(" VALUES ")
    return f"{head} VALUES {', '.join([group] * rows)}"
