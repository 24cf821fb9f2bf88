"""Safe SQL helpers for tenant databases, the same on SQLite and PostgreSQL.

Two rules make them safe: a table or column name is used only after it was found in the
database's schema (anything else raises `UnknownName`), and SQL is built by SQLAlchemy,
which quotes those names and binds every value. No caller string is ever pasted into SQL.

Writes commit when the helper returns, unless they run inside `with transaction(db):`, in
which case the block commits or rolls back as a whole. Upserts insert new rows and, on a key
conflict, update only the columns they were given, and only when a value differs; they
return how many rows were inserted or changed. Bulk writes load the rows into a temporary
staging table and merge them with one `INSERT ... SELECT ... ON CONFLICT` statement.

Money is stored as integer cents: `to_cents("19.99") == 1999`, computed on the digits, never
through a float.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import chain, islice
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import polars as pl
import sqlalchemy as sa
from fastsql import Database
from sqlalchemy.dialects import postgresql, sqlite

from tenants.stamp import TIME_FORMAT

Rows = Sequence[Mapping[str, Any]] | pl.DataFrame
Key = str | Sequence[str]
T = TypeVar("T")

MAX_PER_PAGE = 500
COUNT_ROWS = {"preserve_rowcount": True}  # SQLAlchemy drops INSERT row counts unless asked
MAX_NAME = 128  # longer than any real table name; refused before it reaches the driver
IN_CHUNK = 1000  # values per `IN (...)`: far below every driver's parameter limit
SQLITE_MAX_PARAMETERS = 999  # per statement, in the oldest SQLite versions still around
# Money text: optional sign, optional "$", digits with optional thousands commas, decimals.
MONEY_PATTERN = (
    r"^(?P<sign>[+-])?\$?(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<fraction>[0-9]+))?$"
)
_MONEY = re.compile(MONEY_PATTERN)
# Temporary tables belong to their connection, and each merge drops its own, so one name
# serves all: the same statements each time, which the driver and SQLAlchemy cache.
STAGING_TABLE = "_merge_staging"
POLARS_TIME_FORMAT = TIME_FORMAT.replace(".%f", "%.6f")  # chrono spells microseconds "%.6f"


class UnknownName(ValueError):
    """A table, column or query name that is not in the schema (or registry): refused."""


class QueryError(ValueError):
    """A named query called with missing or unexpected parameters."""


# --- names -------------------------------------------------------------------------------


def table(db: Database, name: str) -> sa.Table:
    """The table called `name`, from the shared reflected schema or, for tables created at
    run time, reflected privately (the shared `MetaData` is never touched)."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or "\x00" in name:
        raise UnknownName(f"no table {name!r}")
    found = db.meta.tables.get(name)
    if found is not None:
        return found
    if not sa.inspect(db.conn).has_table(name):
        raise UnknownName(f"no table {name!r}")
    return sa.Table(name, sa.MetaData(), autoload_with=db.conn)


def columns(tbl: sa.Table, names: Iterable[Any]) -> list[str]:
    """`names` as a list, after checking each one is a column of `tbl`."""
    names = list(names)
    unknown = [n for n in names if not isinstance(n, str) or n not in tbl.c]
    if unknown:
        raise UnknownName(f"{tbl.name} has no column {', '.join(map(repr, unknown))}")
    if len(set(names)) != len(names):
        raise ValueError(f"a column is named twice in {names}")
    return names


def _key(tbl: sa.Table, key: Key, supplied: Sequence[str]) -> list[str]:
    """The conflict key: real columns, supplied by the rows, and unique in the table."""
    key_columns = columns(tbl, [key] if isinstance(key, str) else key)
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


def _order(tbl: sa.Table, order_by: str | Sequence[str]) -> list[sa.ColumnElement]:
    """`["name", "-created_at"]` -> ORDER BY name, created_at DESC; names checked."""
    terms = [order_by] if isinstance(order_by, str) else list(order_by)
    descending = [isinstance(t, str) and t.startswith("-") for t in terms]
    names = columns(tbl, [t[1:] if d else t for t, d in zip(terms, descending, strict=True)])
    return [tbl.c[n].desc() if d else tbl.c[n] for n, d in zip(names, descending, strict=True)]


def _where(tbl: sa.Table, where: Mapping[str, Any] | None) -> list[sa.ColumnElement]:
    """Equality filters: a value, None (IS NULL), or a list/tuple (IN)."""
    where = where or {}
    conditions = []
    for name in columns(tbl, where):
        value, column = where[name], tbl.c[name]
        if value is None:
            conditions.append(column.is_(None))
        elif isinstance(value, list | tuple | set | frozenset):
            conditions.append(column.in_(list(value)))
        else:
            conditions.append(column == value)
    return conditions


# --- transactions ------------------------------------------------------------------------

_depth: WeakKeyDictionary[sa.Connection, int] = WeakKeyDictionary()


def _begin(conn: sa.Connection) -> sa.RootTransaction:
    """BEGIN for real, also on SQLite, whose driver would otherwise wait for the first write
    (so DDL and savepoints would run outside the transaction); see tenants.engines."""
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.execution_options(sqlite_immediate=True)
    try:
        return conn.begin()
    finally:
        conn.execution_options(sqlite_immediate=immediate)


@contextmanager
def transaction(db: Database) -> Iterator[sa.Connection]:
    """Everything inside commits together when the block ends, or none of it on an error.

    Blocks nest (inner ones are savepoints), and the helpers in this module use it too, so a
    helper inside a block joins the block instead of committing on its own. fastsql's table
    methods (`db.t.notes.insert`) commit by themselves: inside a block, use these helpers or
    `db.q` instead.
    """
    conn = db.conn
    depth = _depth.get(conn, 0)
    tx = conn.begin_nested() if conn.in_transaction() else _begin(conn)
    _depth[conn] = depth + 1
    try:
        yield conn
    except BaseException:
        if tx.is_active:
            tx.rollback()
        raise
    else:
        tx.commit()
        if depth == 0 and conn.in_transaction():  # the block ran inside an implicit transaction
            sa.Connection.commit(conn)
    finally:
        if depth:
            _depth[conn] = depth
        else:
            _depth.pop(conn, None)


def batch_execute(
    db: Database,
    operation: Callable[[list[T]], Any],
    items: Iterable[T],
    batch_size: int = 500,
) -> int:
    """Call `operation` on consecutive batches of `items`, committing after each batch.

    A failure rolls back only its own batch; earlier batches stay. Returns the items done.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    iterator, done = iter(items), 0
    while batch := list(islice(iterator, batch_size)):
        with transaction(db):
            operation(batch)
        done += len(batch)
    return done


# --- single rows -------------------------------------------------------------------------


def _insert(conn: sa.Connection, tbl: sa.Table):
    """The dialect's INSERT, the one that knows ON CONFLICT."""
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    if conn.dialect.name not in dialects:
        raise NotImplementedError(f"upserts support SQLite and PostgreSQL, not {conn.dialect.name}")
    return dialects[conn.dialect.name](tbl)


def _on_conflict(stmt, tbl: sa.Table, key: list[str], supplied: Sequence[str], update: bool):
    changing = [c for c in supplied if c not in key]
    if not update or not changing:
        return stmt.on_conflict_do_nothing(index_elements=key)
    return stmt.on_conflict_do_update(
        index_elements=key,
        set_={c: stmt.excluded[c] for c in changing},  # supplied columns only: others are kept
        where=sa.or_(*(tbl.c[c].is_distinct_from(stmt.excluded[c]) for c in changing)),
    )


def _write_one(db: Database, name: str, record: Mapping[str, Any], key: Key, update: bool) -> int:
    tbl = table(db, name)
    supplied = columns(tbl, record)
    key_columns = _key(tbl, key, supplied)
    with transaction(db) as conn:
        stmt = _insert(conn, tbl).values({c: record[c] for c in supplied})
        stmt = _on_conflict(stmt, tbl, key_columns, supplied, update)
        return conn.execute(stmt, execution_options=COUNT_ROWS).rowcount


def insert_only(db: Database, table_name: str, record: Mapping[str, Any], key: Key = "id") -> int:
    """Insert `record` unless its key exists. Returns 1 if inserted, 0 if skipped."""
    return _write_one(db, table_name, record, key, update=False)


def upsert(db: Database, table_name: str, record: Mapping[str, Any], key: Key = "id") -> int:
    """Insert, or update the supplied columns of the existing row. Returns 1 if anything changed."""
    return _write_one(db, table_name, record, key, update=True)


def get_by_id(db: Database, table_name: str, id_value: Any, id_col: str = "id") -> dict | None:
    tbl = table(db, table_name)
    columns(tbl, [id_col])
    row = db.conn.execute(sa.select(tbl).where(tbl.c[id_col] == id_value)).first()
    return dict(row._mapping) if row else None


def update_by_id(
    db: Database, table_name: str, id_value: Any, values: Mapping[str, Any], id_col: str = "id"
) -> bool:
    """Set `values` on the row with this id. Returns False when there is no such row."""
    tbl = table(db, table_name)
    columns(tbl, [id_col])
    columns(tbl, values)
    if not values:
        raise ValueError("nothing to update")
    with transaction(db) as conn:
        stmt = sa.update(tbl).where(tbl.c[id_col] == id_value).values(dict(values))
        return conn.execute(stmt).rowcount > 0


def delete_by_id(db: Database, table_name: str, id_value: Any, id_col: str = "id") -> bool:
    return bulk_delete(db, table_name, [id_value], id_col) > 0


def bulk_delete(db: Database, table_name: str, ids: Iterable[Any], id_col: str = "id") -> int:
    """Delete the rows with these ids, all or none. Returns how many were deleted."""
    tbl = table(db, table_name)
    columns(tbl, [id_col])
    iterator, deleted = iter(ids), 0
    with transaction(db) as conn:
        while chunk := list(islice(iterator, IN_CHUNK)):
            deleted += conn.execute(sa.delete(tbl).where(tbl.c[id_col].in_(chunk))).rowcount
    return deleted


# --- reading -----------------------------------------------------------------------------


def select_rows(
    db: Database,
    table_name: str,
    where: Mapping[str, Any] | None = None,
    order_by: str | Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    tbl = table(db, table_name)
    stmt = sa.select(tbl).where(*_where(tbl, where)).order_by(*_order(tbl, order_by))
    if limit is not None:
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset cannot be negative")
        stmt = stmt.limit(limit).offset(offset)
    return [dict(r._mapping) for r in db.conn.execute(stmt)]


@dataclass(frozen=True)
class PageOf:
    rows: list[dict[str, Any]]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(
    db: Database,
    table_name: str,
    *,
    page: int = 1,
    per_page: int = 50,
    where: Mapping[str, Any] | None = None,
    order_by: str | Sequence[str] = "id",
) -> PageOf:
    """One page of rows (numbered from 1; clamped to the pages that exist) and the total."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
    tbl = table(db, table_name)
    count = sa.select(sa.func.count()).select_from(tbl).where(*_where(tbl, where))
    total = db.conn.execute(count).scalar_one()
    page = min(max(1, page), max(1, -(-total // per_page)))
    rows = select_rows(db, table_name, where, order_by, per_page, (page - 1) * per_page)
    return PageOf(rows, page, per_page, total)


def count_by(db: Database, table_name: str, column: str, limit: int = 20) -> list[tuple[Any, int]]:
    """How many rows hold each value of `column`, most common first."""
    tbl = table(db, table_name)
    col = tbl.c[columns(tbl, [column])[0]]
    stmt = (
        sa.select(col, sa.func.count().label("n"))
        .group_by(col)
        .order_by(sa.desc("n"), col)
        .limit(int(limit))
    )
    return [(value, n) for value, n in db.conn.execute(stmt)]


# --- named queries -----------------------------------------------------------------------


class Queries:
    """SQL statements kept by name, each checked for its `:parameters` before it runs.

    queries = Queries(active_notes="SELECT * FROM notes WHERE author_id = :author")
    queries.run(db, "active_notes", author=user_id)
    """

    def __init__(self, **statements: str):
        self._statements = {name: sa.text(sql) for name, sql in statements.items()}

    def params(self, name: str) -> frozenset[str]:
        if name not in self._statements:
            raise UnknownName(f"no query named {name!r}")
        return frozenset(self._statements[name].compile().params)

    def run(self, db: Database, name: str, /, **params: Any) -> list[dict[str, Any]] | int:
        """Rows for a query that returns rows, else the affected row count. Commits, unless
        it runs inside `transaction(db)`."""
        expected = self.params(name)
        if missing := expected - params.keys():
            raise QueryError(f"{name} needs {', '.join(sorted(missing))}")
        if unexpected := params.keys() - expected:
            raise QueryError(f"{name} takes no {', '.join(sorted(unexpected))}")
        conn = db.conn
        result = conn.execute(self._statements[name], params, execution_options=COUNT_ROWS)
        outcome = [dict(r._mapping) for r in result] if result.returns_rows else result.rowcount
        if not _depth.get(conn):  # one statement is atomic: no savepoint, and reads take no lock
            sa.Connection.commit(conn)
        return outcome


# --- bulk writes through a staging table -------------------------------------------------


def _frame(rows: Rows) -> pl.DataFrame:
    if isinstance(rows, pl.DataFrame):
        return rows
    rows = list(rows)
    if rows and any(r.keys() != rows[0].keys() for r in rows):
        raise ValueError("every record must supply the same columns")
    return pl.DataFrame(rows, infer_schema_length=None)


def storable(frame: pl.DataFrame) -> pl.DataFrame:
    """Values as the database stores them: times as fixed-width UTC text (see tenants.stamp)."""
    converted = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Datetime:
            col = (
                col.dt.convert_time_zone("UTC")
                if dtype.time_zone  # type: ignore[attr-defined]
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


def _load(conn: sa.Connection, stage: sa.Table, frame: pl.DataFrame) -> None:
    """Fill the staging table as fast as the driver allows: COPY on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from psycopg import sql  # the PostgreSQL driver; SQLite-only installs never import it

        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(stage.name), sql.SQL(", ").join(map(sql.Identifier, frame.columns))
        )
        with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
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


def _merge(db: Database, table_name: str, rows: Rows, key: Key, update: bool) -> int:
    frame = _frame(rows)
    if frame.is_empty():
        return 0
    tbl = table(db, table_name)
    supplied = columns(tbl, frame.columns)
    key_columns = _key(tbl, key, supplied)
    # One row per key, the last one winning: PostgreSQL refuses to update a row twice.
    frame = storable(frame.unique(subset=key_columns, keep="last", maintain_order=True))
    stage = _staging(tbl, tuple(supplied))
    with transaction(db) as conn:
        stage.create(conn)
        _load(conn, stage, frame)
        # `WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON clause.
        stmt = _insert(conn, tbl).from_select(supplied, sa.select(*stage.c).where(sa.true()))
        stmt = _on_conflict(stmt, tbl, key_columns, supplied, update)
        written = conn.execute(stmt, execution_options=COUNT_ROWS).rowcount
        stage.drop(conn)
    return written


def bulk_insert_only(db: Database, table_name: str, rows: Rows, key: Key = "id") -> int:
    """Insert the rows whose key is new, skip the others. Returns how many were inserted."""
    return _merge(db, table_name, rows, key, update=False)


def bulk_upsert(db: Database, table_name: str, rows: Rows, key: Key = "id") -> int:
    """Insert new rows and update the supplied columns of existing ones that differ.

    `rows` is a polars frame or a list of dicts that all supply the same columns. Returns
    how many rows were inserted or changed; identical rows are not rewritten.
    """
    return _merge(db, table_name, rows, key, update=True)


# --- money -------------------------------------------------------------------------------


def to_cents(amount: str | int | Decimal | float | None) -> int | None:
    """Dollars (or any two-decimal currency) to integer cents, rounding half away from zero.

    Accepts "19.99", "-$1,234.50", 7, Decimal("0.105") and floats (read as their shortest
    text, so 19.99 is 1999). Anything else raises ValueError.
    """
    if amount is None:
        return None
    if isinstance(amount, bool):
        raise TypeError("a boolean is not an amount of money")
    if isinstance(amount, int):
        return amount * 100
    if isinstance(amount, float):
        amount = Decimal(repr(amount))
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise ValueError(f"{amount} is not an amount of money")
        amount = format(amount, "f")
    if not isinstance(amount, str):
        raise TypeError(f"cannot read {type(amount).__name__} as money")
    match = _MONEY.fullmatch(amount.strip())
    if match is None:
        raise ValueError(f"{amount!r} is not an amount of money")
    digits = (match["fraction"] or "").ljust(3, "0")
    cents = int(match["whole"].replace(",", "")) * 100 + int(digits[:2]) + (digits[2] >= "5")
    return -cents if match["sign"] == "-" else cents


def from_cents(cents: int | None) -> Decimal | None:
    """Integer cents to an exact Decimal: 1999 -> Decimal("19.99")."""
    if cents is None:
        return None
    sign, whole = ("-" if cents < 0 else ""), abs(int(cents))
    return Decimal(f"{sign}{whole // 100}.{whole % 100:02d}")


def format_cents(cents: int | None, symbol: str = "$") -> str:
    """For display: 123450 -> "$1,234.50"; None -> ""."""
    if cents is None:
        return ""
    whole = abs(int(cents))
    return f"{'-' if cents < 0 else ''}{symbol}{whole // 100:,}.{whole % 100:02d}"
